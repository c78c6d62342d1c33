package gqlhttptest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// Message is one graphql-transport-ws message.
type Message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Dial opens a graphql-transport-ws websocket on /query of the server at
// serverURL (http://…), from a page of origin ("": none).
func Dial(t testing.TB, ctx context.Context, serverURL, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(serverURL, "http")+"/query", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   header,
	})
}

// Open dials as Dial does, without an Origin, failing the test if it
// cannot; the connection closes when the test ends.
func Open(t testing.TB, ctx context.Context, serverURL string) *websocket.Conn {
	t.Helper()
	c, _, err := Dial(t, ctx, serverURL, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// Send writes m as JSON, failing the test if it cannot.
func Send(t testing.TB, ctx context.Context, c *websocket.Conn, m any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// Next reads the next message that is not a keep-alive ping or pong. It
// fails the test on a frame that is not JSON, and returns the error of a
// closed or timed-out read.
func Next(t testing.TB, ctx context.Context, c *websocket.Conn) (Message, error) {
	t.Helper()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return Message{}, err
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("not JSON: %q", b)
		}
		if m.Type != "ping" && m.Type != "pong" {
			return m, nil
		}
	}
}

// Init sends connection_init with payload (nil: none) and fails the test
// unless the server acknowledges it.
func Init(t testing.TB, ctx context.Context, c *websocket.Conn, payload any) {
	t.Helper()
	m := map[string]any{"type": "connection_init"}
	if payload != nil {
		m["payload"] = payload
	}
	Send(t, ctx, c, m)
	if m, err := Next(t, ctx, c); err != nil || m.Type != "connection_ack" {
		t.Fatalf("after connection_init: %+v %v", m, err)
	}
}

// Subscribe starts operation id: query with vars (nil: none).
func Subscribe(t testing.TB, ctx context.Context, c *websocket.Conn, id, query string, vars map[string]any) {
	t.Helper()
	payload := map[string]any{"query": query}
	if vars != nil {
		payload["variables"] = vars
	}
	Send(t, ctx, c, map[string]any{"id": id, "type": "subscribe", "payload": payload})
}

// Run runs query, an operation with one result, as operation "1" on a
// connection acknowledged with Init, and returns the payload of its next
// message, failing the test unless complete follows it.
func Run(t testing.TB, ctx context.Context, c *websocket.Conn, query string, vars map[string]any) json.RawMessage {
	t.Helper()
	Subscribe(t, ctx, c, "1", query, vars)
	m, err := Next(t, ctx, c)
	if err != nil || m.Type != "next" || m.ID != "1" {
		t.Fatalf("after subscribe: %+v %v", m, err)
	}
	if done, err := Next(t, ctx, c); err != nil || done.Type != "complete" {
		t.Errorf("want complete, got %+v %v", done, err)
	}
	return m.Payload
}
