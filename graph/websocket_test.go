package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/sqldb"
)

const wsSecret = "websocket-test-secret-of-32-bytes-or-more"

// wsServer serves the GraphQL handler with real token checks on
// connection_init, allowing the SPA origin https://app.example.
func wsServer(t *testing.T) (*httptest.Server, *bundle) {
	t.Helper()
	var b *bundle
	b = setup(t, func(c *graph.Config, r *graph.Resolver) {
		c.Auth = server.NewAuthenticator(server.NewHS256Verifier([]byte(wsSecret), "", ""), r.UserService.(*sqldb.UserService))
		c.AllowedOrigins = []string{"https://app.example"}
	})
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	return srv, b
}

func dial(t *testing.T, ctx context.Context, srv *httptest.Server, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   header,
	})
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func send(t *testing.T, ctx context.Context, c *websocket.Conn, m any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// next reads the next message that is not a keep-alive ping.
func next(t *testing.T, ctx context.Context, c *websocket.Conn) (wsMessage, error) {
	t.Helper()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("not JSON: %q", b)
		}
		if m.Type != "ping" && m.Type != "pong" {
			return m, nil
		}
	}
}

func TestWebsocketAuth(t *testing.T) {
	srv, _ := wsServer(t)
	token, err := server.IssueToken([]byte(wsSecret), edustream.Claims{Subject: "sam", Role: edustream.RoleStudent, Name: "Sam"}, "", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		init   map[string]any
		wantMe string // "" for anonymous
	}{
		{"bearer token", map[string]any{"Authorization": "Bearer " + token}, "Sam"},
		{"lower-case key", map[string]any{"authorization": "Bearer " + token}, "Sam"},
		{"anonymous", map[string]any{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := dial(t, ctx, srv, "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			send(t, ctx, c, map[string]any{"type": "connection_init", "payload": tt.init})
			if m, err := next(t, ctx, c); err != nil || m.Type != "connection_ack" {
				t.Fatalf("after connection_init: %+v %v", m, err)
			}
			send(t, ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "{ me { name } }"}})
			m, err := next(t, ctx, c)
			if err != nil || m.Type != "next" || m.ID != "1" {
				t.Fatalf("after subscribe: %+v %v", m, err)
			}
			var result struct {
				Data struct {
					Me *struct{ Name string }
				}
			}
			json.Unmarshal(m.Payload, &result)
			got := ""
			if result.Data.Me != nil {
				got = result.Data.Me.Name
			}
			if got != tt.wantMe {
				t.Errorf("me = %q, want %q (%s)", got, tt.wantMe, m.Payload)
			}
			if m, err := next(t, ctx, c); err != nil || m.Type != "complete" {
				t.Errorf("want complete, got %+v %v", m, err)
			}
		})
	}
}

func TestWebsocketRefusals(t *testing.T) {
	srv, _ := wsServer(t)
	expired, _ := server.IssueToken([]byte("some-other-secret-of-32-bytes-or-more!!"), edustream.Claims{Subject: "sam", Role: edustream.RoleStudent}, "", "", time.Hour)
	for name, auth := range map[string]string{
		"garbage token":      "Bearer garbage",
		"wrong secret":       "Bearer " + expired,
		"not a bearer token": "Basic c2FtOnNhbQ==",
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := dial(t, ctx, srv, "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			send(t, ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": auth}})
			for {
				m, err := next(t, ctx, c)
				if err != nil {
					if status := websocket.CloseStatus(err); status != 4403 {
						t.Errorf("closed with %v (%v), want 4403", status, err)
					}
					return
				}
				if m.Type == "connection_ack" {
					t.Fatal("a bad token was acknowledged")
				}
			}
		})
	}

	t.Run("foreign origin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, resp, err := dial(t, ctx, srv, "https://evil.example")
		if err == nil {
			c.CloseNow()
			t.Fatal("a page from another origin opened a websocket")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign origin: %v %v", resp, err)
		}
	})
	t.Run("configured origin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := dial(t, ctx, srv, "https://app.example")
		if err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
	})
}

// Protocol violations close the connection with graphql-transport-ws's
// codes; a ping is answered even before connection_init.
func TestWebsocketProtocolErrors(t *testing.T) {
	srv, _ := wsServer(t)
	init := map[string]any{"type": "connection_init"}
	tests := []struct {
		name   string
		before []any // sent first, each expecting the reply in replies
		send   any   // then this; string is sent as a raw frame
		code   websocket.StatusCode
	}{
		{"garbage frame before init", nil, "garbage", 4400},
		{"garbage frame after init", []any{init}, "{not json", 4400},
		{"JSON that is not an object", []any{init}, `[1,2]`, 4400},
		{"no type", []any{init}, map[string]any{"id": "1"}, 4400},
		{"unknown type", []any{init}, map[string]any{"type": "hello"}, 4400},
		{"a server message from the client", []any{init}, map[string]any{"type": "next", "id": "1", "payload": map[string]any{}}, 4400},
		{"string connection_init payload", nil, map[string]any{"type": "connection_init", "payload": "Bearer x"}, 4400},
		{"array connection_init payload", nil, map[string]any{"type": "connection_init", "payload": []any{1}}, 4400},
		{"subscribe without id", []any{init}, map[string]any{"type": "subscribe", "payload": map[string]any{"query": "{ me { id } }"}}, 4400},
		{"subscribe without query", []any{init}, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"variables": map[string]any{}}}, 4400},
		{"subscribe with string variables", []any{init}, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": "{ me { id } }", "variables": "x"}}, 4400},
		{"subscribe before init", nil, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": "{ me { id } }"}}, 4401},
		{"second connection_init", []any{init}, init, 4429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := dial(t, ctx, srv, "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			for _, m := range tt.before {
				send(t, ctx, c, m)
				if m, err := next(t, ctx, c); err != nil || m.Type != "connection_ack" {
					t.Fatalf("after connection_init: %+v %v", m, err)
				}
			}
			if raw, ok := tt.send.(string); ok {
				if err := c.Write(ctx, websocket.MessageText, []byte(raw)); err != nil {
					t.Fatal(err)
				}
			} else {
				send(t, ctx, c, tt.send)
			}
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					if got := websocket.CloseStatus(err); got != tt.code {
						t.Errorf("closed with %v (%v), want %d", got, err, tt.code)
					}
					return
				}
				t.Logf("before closing the server sent %s", data)
			}
		})
	}

	t.Run("ping before init", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := dial(t, ctx, srv, "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		send(t, ctx, c, map[string]any{"type": "ping"})
		_, data, err := c.Read(ctx)
		if err != nil || !strings.Contains(string(data), `"pong"`) {
			t.Fatalf("after ping: %s %v", data, err)
		}
		send(t, ctx, c, init)
		if m, err := next(t, ctx, c); err != nil || m.Type != "connection_ack" {
			t.Fatalf("after connection_init: %+v %v", m, err)
		}
	})
}

// A connection that never sends connection_init is closed with 4408.
func TestWebsocketInitTimeout(t *testing.T) {
	b := setup(t, func(c *graph.Config, _ *graph.Resolver) { c.WebsocketInitTimeout = 200 * time.Millisecond })
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := dial(t, ctx, srv, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	if got := websocket.CloseStatus(err); got != 4408 {
		t.Errorf("closed with %v (%v), want 4408", got, err)
	}
}
