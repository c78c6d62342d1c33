package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"

	"github.com/edustream/edustream"
)

// The close codes of graphql-transport-ws (the graphql-ws library's
// PROTOCOL.md), and 1013 (RFC 6455's "try again later") for a token that
// could not be checked for now.
const (
	closeBadRequest             = 4400
	closeUnauthorized           = 4401
	closeForbidden              = 4403
	closeSubprotocolNotAccepted = 4406
	closeInitTimeout            = 4408
	closeDuplicateID            = 4409
	closeTooManyInits           = 4429
	closeInternalError          = 4500
	closeTryAgainLater          = 1013
)

// refusalReasons name the close codes in the refusal metrics.
var refusalReasons = map[websocket.StatusCode]string{
	closeBadRequest:             refusedBadMessage,
	closeUnauthorized:           refusedUnauthorized,
	closeForbidden:              refusedForbidden,
	closeSubprotocolNotAccepted: refusedSubprotocol,
	closeInitTimeout:            refusedInitTimeout,
	closeDuplicateID:            refusedDuplicateID,
	closeTooManyInits:           refusedTooManyInits,
	closeLimitExceeded:          refusedSocketLimit,
}

const transportWS = "graphql-transport-ws"

// legacyWS is subscriptions-transport-ws's subprotocol. It was never part of
// the documented contract: a client that offers it is accepted only to be
// told, with 4406, that it should speak graphql-transport-ws.
const legacyWS = "graphql-ws"

// Timings of a websocket.
const (
	// websocketPingEvery is how often an idle, acknowledged socket is
	// pinged, so that proxies see traffic and keep it open.
	websocketPingEvery = 15 * time.Second
	// websocketWriteTimeout bounds one write: a client that reads no
	// faster is closed rather than holding the event fan-out, which
	// writes to sockets itself (see wsOperation).
	websocketWriteTimeout = 10 * time.Second
)

// wsTransport is graphql-transport-ws as a gqlgen transport. gqlgen's own
// ran three goroutines per connection (the reader, one waiting for the
// connection's end, one per subscription waiting on its channel); an
// idle subscription here costs none beyond the connection's reader: the
// resolver's event delivery writes to the socket itself (see
// SubscriptionNotifier). Every message is checked against the protocol,
// and every breach closes the socket with the protocol's code and is
// counted in the metrics.
type wsTransport struct {
	accept       websocket.AcceptOptions
	auth         edustream.Authenticator
	initTimeout  time.Duration
	pingEvery    time.Duration
	readLimit    int64
	metrics      *Metrics
	bounds       *bounds
	writeTimeout time.Duration
}

var _ graphql.Transport = (*wsTransport)(nil)

func newWSTransport(cfg Config, b *bounds) *wsTransport {
	return &wsTransport{
		accept: websocket.AcceptOptions{
			Subprotocols:   []string{transportWS, legacyWS},
			OriginPatterns: originHosts(cfg.AllowedOrigins),
		},
		auth:         cfg.Auth,
		initTimeout:  cfg.WebsocketInitTimeout,
		pingEvery:    websocketPingEvery,
		readLimit:    cfg.MaxBodyBytes,
		metrics:      cfg.Metrics,
		bounds:       b,
		writeTimeout: websocketWriteTimeout,
	}
}

func (t *wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do serves one websocket until it closes; its goroutine is the
// connection's only one while it is idle.
func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	defer t.metrics.websocket()()
	ctx, release := t.bounds.openSocket(r.Context())
	defer release()
	c, err := websocket.Accept(w, r, &t.accept)
	if err != nil {
		// Accept answered already (403 for a foreign origin, 400 for a
		// bad handshake).
		return
	}
	c.SetReadLimit(t.readLimit)
	ctx, cancel := context.WithCancel(ctx)
	k := &wsConn{t: t, c: c, exec: exec, ctx: ctx, cancel: cancel, headers: r.Header, ops: map[string]*wsOperation{}}
	defer k.end()
	// A hijacked socket outlives http.Server.Shutdown, which only cancels
	// the requests' base context (serve's BaseContext): the transport
	// closes its sockets itself then, with 1001 going away, which clients
	// take as "connect again" (to another instance behind the load
	// balancer), rather than leaving them open on a server that no longer
	// delivers.
	stopOnShutdown := context.AfterFunc(r.Context(), func() { k.closeWith(websocket.StatusGoingAway, "The server is shutting down") })
	defer stopOnShutdown()
	if c.Subprotocol() != transportWS {
		k.closeWith(closeSubprotocolNotAccepted, "Subprotocol not acceptable")
		return
	}
	if s := socketSlotFrom(ctx); s != nil && s.refusal != "" {
		k.closeWith(closeLimitExceeded, s.refusal)
		return
	}
	k.mu.Lock()
	k.timer = time.AfterFunc(t.initTimeout, k.initTimedOut)
	k.mu.Unlock()
	k.read()
}

// wsConn is one graphql-transport-ws connection.
type wsConn struct {
	t       *wsTransport
	c       *websocket.Conn
	exec    graphql.GraphExecutor
	headers http.Header
	// ctx is the request's, with the user's once connection_init
	// authenticated one; cancelled when the connection ends, which ends
	// its operations.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// initialised says connection_init was received (and, since it is
	// handled before the next message is read, acknowledged or refused).
	initialised bool
	closed      bool
	// timer closes the socket at the init timeout, then pings it.
	timer *time.Timer
	// ops are the operations that have not ended, by id: a subscribe
	// reusing one is refused with 4409.
	ops map[string]*wsOperation
}

// read handles the client's messages until the connection closes.
func (k *wsConn) read() {
	for {
		// Not k.ctx: a cancelled read context makes coder/websocket drop
		// the connection without the close frame closeWith sends.
		_, data, err := k.c.Read(context.Background())
		if err != nil {
			return
		}
		if !k.handle(data) {
			return
		}
	}
}

// clientMessage is a message from the client, as far as the transport
// reads it; the subscribe payload is gqlgen's to decode.
type clientMessage struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// handle acts on one message and reports whether the connection stays
// open. A panic closes it with 4500 rather than the process.
func (k *wsConn) handle(data []byte) (open bool) {
	defer func() {
		if r := recover(); r != nil {
			edustream.Logger(k.ctx).Error("websocket: panic handling a message", slog.Any("panic", r))
			k.closeWith(closeInternalError, "Internal server error")
			open = false
		}
	}()
	start := graphql.Now()
	var m clientMessage
	if json.Unmarshal(data, &m) != nil || m.Type == "" {
		return k.closeWith(closeBadRequest, "Invalid message received")
	}
	switch m.Type {
	case "connection_init":
		if !isNullOrObject(m.Payload) {
			return k.closeWith(closeBadRequest, "Invalid message received: connection_init payload must be an object")
		}
		k.mu.Lock()
		again := k.initialised
		k.initialised = true
		k.mu.Unlock()
		if again {
			return k.closeWith(closeTooManyInits, "Too many initialisation requests")
		}
		return k.init(m.Payload)
	case "ping", "pong":
		if !isNullOrObject(m.Payload) {
			return k.closeWith(closeBadRequest, "Invalid message received: "+m.Type+" payload must be an object")
		}
		if m.Type == "ping" {
			k.send("", "pong", nil)
		}
	case "subscribe":
		id := idOf(m.ID)
		if id == "" {
			return k.closeWith(closeBadRequest, "Invalid message received: subscribe needs an id")
		}
		if !validSubscribePayload(m.Payload) {
			return k.closeWith(closeBadRequest, "Invalid message received: subscribe payload must be an object with a query string")
		}
		k.mu.Lock()
		initialised := k.initialised
		_, running := k.ops[id]
		if initialised && !running {
			k.ops[id] = nil // taken; the operation follows
		}
		k.mu.Unlock()
		switch {
		case !initialised:
			return k.closeWith(closeUnauthorized, "Unauthorized")
		case running:
			return k.closeWith(closeDuplicateID, "Subscriber for "+id+" already exists")
		}
		k.start(id, m.Payload, start)
	case "complete":
		id := idOf(m.ID)
		if id == "" {
			return k.closeWith(closeBadRequest, "Invalid message received: complete needs an id")
		}
		k.mu.Lock()
		op := k.ops[id]
		k.mu.Unlock()
		if op != nil {
			op.completedByClient()
		}
	default:
		return k.closeWith(closeBadRequest, "Invalid message received: unexpected message type")
	}
	return true
}

// init authenticates the connection from the Authorization entry of its
// connection_init payload and acknowledges it. A connection without one
// is anonymous; a bad token closes it with 4403, as graphql-transport-ws
// prescribes; a user past Config.MaxSocketsPerUser gets 4029.
func (k *wsConn) init(payload json.RawMessage) bool {
	var p struct {
		Upper string `json:"Authorization"`
		Lower string `json:"authorization"`
	}
	json.Unmarshal(payload, &p) // an object, checked; other entries are ignored
	header := p.Upper
	if header == "" {
		header = p.Lower
	}
	if header != "" {
		token, ok := edustream.BearerToken(header)
		if !ok || k.t.auth == nil {
			return k.closeWith(closeForbidden, "Forbidden: authorization must be a bearer token")
		}
		u, err := k.t.auth.Authenticate(k.ctx, token)
		switch code := edustream.ErrorCode(err); {
		case err == nil:
		case code == edustream.EUNAVAILABLE:
			return k.closeWith(closeTryAgainLater, "Try again later: "+edustream.ErrorMessage(err))
		case code == edustream.EINTERNAL:
			edustream.Logger(k.ctx).Error("websocket: check a token", slog.String("error", err.Error()))
			return k.closeWith(closeInternalError, "Internal server error")
		default:
			return k.closeWith(closeForbidden, "Forbidden: "+edustream.ErrorMessage(err))
		}
		if s := socketSlotFrom(k.ctx); s != nil {
			if err := s.bindUser(u.ID); err != nil {
				k.t.metrics.websocketRefused(refusedSocketLimit)
				return k.closeWith(closeLimitExceeded, edustream.ErrorMessage(err))
			}
		}
		// Only the reader goroutine reads ctx until the first operation.
		k.ctx = edustream.NewContextWithUser(k.ctx, u)
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return false // timed out meanwhile
	}
	k.timer.Stop()
	k.timer = time.AfterFunc(k.t.pingEvery, k.ping)
	k.mu.Unlock()
	k.send("", "connection_ack", nil)
	return true
}

// initTimedOut closes a socket that has not sent connection_init.
func (k *wsConn) initTimedOut() {
	k.mu.Lock()
	initialised := k.initialised
	k.mu.Unlock()
	if !initialised {
		k.closeWith(closeInitTimeout, "Connection initialisation timeout")
	}
}

// ping sends a keep-alive ping, and schedules the next.
func (k *wsConn) ping() {
	k.send("", "ping", nil)
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		k.timer.Reset(k.t.pingEvery)
	}
}

// serverMessage is a message to the client.
type serverMessage struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Payload any    `json:"payload,omitempty"`
}

// send writes a message, within the write timeout. A write that fails
// (the client gone, or too slow) ends the connection. coder/websocket
// serialises the writers of one connection, so the operations' deliveries
// may call it from their goroutines.
func (k *wsConn) send(id, typ string, payload any) {
	data, err := json.Marshal(serverMessage{ID: id, Type: typ, Payload: payload})
	if err != nil {
		panic(fmt.Sprintf("websocket: encode a %s message: %v", typ, err)) // our own types: a bug
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.t.writeTimeout)
	defer cancel()
	if err := k.c.Write(ctx, websocket.MessageText, data); err != nil {
		k.mu.Lock()
		k.closed = true
		k.mu.Unlock()
		k.cancel()
		k.c.CloseNow()
	}
}

// closeWith closes the connection with code and reason (cut to what a
// close frame holds), once, counts a refusal, and reports false so that
// handle can return it.
func (k *wsConn) closeWith(code websocket.StatusCode, reason string) bool {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return false
	}
	k.closed = true
	if k.timer != nil {
		k.timer.Stop()
	}
	k.mu.Unlock()
	if r, ok := refusalReasons[code]; ok && code != closeLimitExceeded {
		// Socket limits are counted where they are decided (bounds, init).
		k.t.metrics.websocketRefused(r)
	}
	k.cancel()
	k.c.Close(code, closeReason(reason))
	return false
}

// maxCloseReason is what a close frame's reason may hold (RFC 6455 §5.5).
const maxCloseReason = 123

// closeReason cuts reason to fit a close frame, at a rune boundary.
func closeReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// end releases what the connection holds once its reader is done.
func (k *wsConn) end() {
	k.mu.Lock()
	k.closed = true
	if k.timer != nil {
		k.timer.Stop()
	}
	ops := make([]*wsOperation, 0, len(k.ops))
	for _, op := range k.ops {
		if op != nil {
			ops = append(ops, op)
		}
	}
	k.mu.Unlock()
	k.cancel()
	for _, op := range ops {
		op.finish()
	}
	k.c.CloseNow()
}

func isNullOrObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null" || raw[0] == '{'
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
