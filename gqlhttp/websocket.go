package gqlhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// The close codes of graphql-transport-ws (the graphql-ws library's
// PROTOCOL.md).
const (
	closeBadRequest   = 4400
	closeUnauthorized = 4401
	closeInitTimeout  = 4408
	closeTooManyInits = 4429
)

const transportWS = "graphql-transport-ws"

// checkedWebsocket wraps gqlgen's websocket implementation so that on
// graphql-transport-ws connections every client message is checked against
// the protocol before gqlgen reads it. gqlgen closes a garbage frame with
// 1000 and leaves a connection_init with a non-object payload hanging; here
// a malformed message closes with 4400, a subscribe before connection_init
// with 4401, a second connection_init with 4429 and the init timeout with
// 4408. A ping before connection_init is answered, as the protocol allows.
// The legacy graphql-ws subprotocol is left as gqlgen speaks it.
type checkedWebsocket struct {
	transport.WebsocketImplementation
}

func (i checkedWebsocket) Accept(w http.ResponseWriter, r *http.Request, options transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := i.WebsocketImplementation.Accept(w, r, options)
	if err != nil || conn.Subprotocol() != transportWS {
		return conn, err
	}
	return &checkedConn{WebsocketConn: conn}, nil
}

type checkedConn struct {
	transport.WebsocketConn
	initialised atomic.Bool
}

// NextReader returns the next message that follows the protocol. On one that
// does not, it closes the connection with the protocol's code and reports
// the connection closed, which gqlgen takes quietly.
func (c *checkedConn) NextReader() (int, io.Reader, error) {
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
		_ = c.WebsocketConn.WriteClose(code, reason)
		return kind, nil, transport.ErrWebsocketClosed
	}
}

// WriteClose turns gqlgen's close on the init timeout (1002) into the
// protocol's 4408.
func (c *checkedConn) WriteClose(code int, message string) error {
	if code == transport.WebsocketCloseProtocolError && message == "connection initialisation timeout" {
		code, message = closeInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, message)
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
	case "complete":
		if !isID(m["id"]) {
			return closeBadRequest, "Invalid message received: complete needs an id"
		}
		if !c.initialised.Load() {
			return -1, "" // nothing to complete yet
		}
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
	var id string
	return json.Unmarshal(raw, &id) == nil && id != ""
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
