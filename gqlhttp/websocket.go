package gqlhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// The close codes of graphql-transport-ws (the graphql-ws library's
// PROTOCOL.md).
const (
	closeBadRequest   = 4400
	closeUnauthorized = 4401
	closeForbidden    = 4403
	closeInitTimeout  = 4408
	closeDuplicateID  = 4409
	closeTooManyInits = 4429
)

// refusalReasons name the close codes in the refusal metrics.
var refusalReasons = map[int]string{
	closeBadRequest:    refusedBadMessage,
	closeUnauthorized:  refusedUnauthorized,
	closeForbidden:     refusedForbidden,
	closeInitTimeout:   refusedInitTimeout,
	closeDuplicateID:   refusedDuplicateID,
	closeTooManyInits:  refusedTooManyInits,
	closeLimitExceeded: refusedSocketLimit,
}

const transportWS = "graphql-transport-ws"

// checkedWebsocket wraps gqlgen's websocket implementation so that on
// graphql-transport-ws connections every client message is checked against
// the protocol before gqlgen reads it. gqlgen closes a garbage frame with
// 1000 and leaves a connection_init with a non-object payload hanging; here
// a malformed message closes with 4400, a subscribe before connection_init
// with 4401, a second connection_init with 4429, a subscribe with the id
// of a running one with 4409 and the init timeout with 4408. A ping before
// connection_init is answered, as the protocol allows. The legacy
// graphql-ws subprotocol is left as gqlgen speaks it. Every close it makes
// is counted in the metrics. A socket past the process's bound (see
// bounds) is closed with 4029 as soon as it is accepted, whatever its
// subprotocol.
type checkedWebsocket struct {
	transport.WebsocketImplementation
	metrics *Metrics
}

func (i checkedWebsocket) Accept(w http.ResponseWriter, r *http.Request, options transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := i.WebsocketImplementation.Accept(w, r, options)
	if err != nil {
		return conn, err
	}
	c := &checkedConn{WebsocketConn: conn, metrics: i.metrics, checked: conn.Subprotocol() == transportWS}
	if s := socketSlotFrom(r.Context()); s != nil && s.refusal != "" {
		c.refusal = s.refusal
	} else if !c.checked {
		return conn, nil
	}
	return c, nil
}

type checkedConn struct {
	transport.WebsocketConn
	metrics *Metrics
	// checked says the protocol is graphql-transport-ws, whose messages
	// are checked here.
	checked bool
	// refusal, when set, closes the connection at its first read.
	refusal     string
	initialised atomic.Bool
	closed      atomic.Bool

	mu sync.Mutex
	// running are the ids of the subscribe operations that have not
	// completed: a subscribe reusing one is refused with 4409.
	running map[string]struct{}
}

// NextReader returns the next message that follows the protocol. On one that
// does not, it closes the connection with the protocol's code and reports
// the connection closed, which gqlgen takes quietly.
func (c *checkedConn) NextReader() (int, io.Reader, error) {
	if c.refusal != "" {
		_ = c.WriteClose(closeLimitExceeded, c.refusal)
		return 0, nil, transport.ErrWebsocketClosed
	}
	if !c.checked {
		return c.WebsocketConn.NextReader()
	}
	for {
		kind, r, err := c.WebsocketConn.NextReader()
		if err != nil {
			return kind, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return kind, nil, err
		}
		code, reason := c.check(data)
		switch code {
		case 0:
			return kind, bytes.NewReader(data), nil
		case -1: // handled here
			continue
		}
		_ = c.WriteClose(code, reason)
		return kind, nil, transport.ErrWebsocketClosed
	}
}

// WriteClose turns gqlgen's close on the init timeout (1002) into the
// protocol's 4408, counts the refusals, and closes once: gqlgen closes
// again after a read that reported the connection closed here.
func (c *checkedConn) WriteClose(code int, message string) error {
	if code == transport.WebsocketCloseProtocolError && message == "connection initialisation timeout" {
		code, message = closeInitTimeout, "Connection initialisation timeout"
	}
	if c.closed.Swap(true) {
		return nil
	}
	if reason, ok := refusalReasons[code]; ok && code != closeLimitExceeded {
		// Socket limits are counted where they are decided (bounds).
		c.metrics.websocketRefused(reason)
	}
	return c.WebsocketConn.WriteClose(code, message)
}

// WriteJSON notes the operations the server ends (complete or error), so
// that their ids may be used again.
func (c *checkedConn) WriteJSON(v any) error {
	if c.checked {
		if typ, id := messageTypeAndID(v); id != "" && (typ == "complete" || typ == "error") {
			c.mu.Lock()
			delete(c.running, id)
			c.mu.Unlock()
		}
	}
	return c.WebsocketConn.WriteJSON(v)
}

// messageTypeAndID reads the type and id of a message gqlgen writes: a
// pointer to a struct of its own with Type and ID fields (a string type
// and a string). Anything else has neither.
func messageTypeAndID(v any) (typ, id string) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return "", ""
	}
	rv = rv.Elem()
	t, i := rv.FieldByName("Type"), rv.FieldByName("ID")
	if !t.IsValid() || !i.IsValid() || t.Kind() != reflect.String || i.Kind() != reflect.String {
		return "", ""
	}
	return t.String(), i.String()
}

// check returns 0 for a message gqlgen may have, -1 for one answered here,
// or the close code and reason for one that breaks the protocol.
func (c *checkedConn) check(data []byte) (int, string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || m == nil {
		return closeBadRequest, "Invalid message received"
	}
	var typ string
	if raw, ok := m["type"]; !ok || json.Unmarshal(raw, &typ) != nil {
		return closeBadRequest, "Invalid message received"
	}
	switch typ {
	case "connection_init":
		if !isNullOrObject(m["payload"]) {
			return closeBadRequest, "Invalid message received: connection_init payload must be an object"
		}
		if c.initialised.Swap(true) {
			return closeTooManyInits, "Too many initialisation requests"
		}
	case "ping", "pong":
		if !isNullOrObject(m["payload"]) {
			return closeBadRequest, "Invalid message received: " + typ + " payload must be an object"
		}
		if !c.initialised.Load() {
			// gqlgen expects connection_init first; a ping may come any
			// time.
			if typ == "ping" {
				_ = c.WebsocketConn.WriteJSON(map[string]string{"type": "pong"})
			}
			return -1, ""
		}
	case "subscribe":
		if !isID(m["id"]) {
			return closeBadRequest, "Invalid message received: subscribe needs an id"
		}
		if !validSubscribePayload(m["payload"]) {
			return closeBadRequest, "Invalid message received: subscribe payload must be an object with a query string"
		}
		if !c.initialised.Load() {
			return closeUnauthorized, "Unauthorized"
		}
		id := idOf(m["id"])
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.running[id]; ok {
			return closeDuplicateID, "Subscriber for " + id + " already exists"
		}
		if c.running == nil {
			c.running = map[string]struct{}{}
		}
		c.running[id] = struct{}{}
	case "complete":
		if !isID(m["id"]) {
			return closeBadRequest, "Invalid message received: complete needs an id"
		}
		if !c.initialised.Load() {
			return -1, "" // nothing to complete yet
		}
		c.mu.Lock()
		delete(c.running, idOf(m["id"]))
		c.mu.Unlock()
	default:
		return closeBadRequest, "Invalid message received: unexpected message type"
	}
	return 0, ""
}

func isNullOrObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null" || raw[0] == '{'
}

func isID(raw json.RawMessage) bool {
	return idOf(raw) != ""
}

// idOf returns the operation id raw spells, "" if it spells none.
func idOf(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) != nil {
		return ""
	}
	return id
}

func validSubscribePayload(raw json.RawMessage) bool {
	var p map[string]json.RawMessage
	if json.Unmarshal(raw, &p) != nil || p == nil {
		return false
	}
	var query string
	if json.Unmarshal(p["query"], &query) != nil {
		return false
	}
	var name *string
	if raw, ok := p["operationName"]; ok && json.Unmarshal(raw, &name) != nil {
		return false
	}
	return isNullOrObject(p["variables"]) && isNullOrObject(p["extensions"])
}
