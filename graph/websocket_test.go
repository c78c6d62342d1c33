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
// connection_init.
func wsServer(t *testing.T) *httptest.Server {
	t.Helper()
	b := setup(t, func(c *graph.Config, r *graph.Resolver) {
		c.Auth = server.NewAuthenticator(server.NewHS256Verifier([]byte(wsSecret), "", ""), r.UserService.(*sqldb.UserService), nil)
	})
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	return srv
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

// The server's JWT check authenticates websockets through graph's Config
// (the protocol's refusals and close codes are gqlhttp's tests).
func TestWebsocketAuth(t *testing.T) {
	t.Parallel()
	srv := wsServer(t)
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
