package gqlhttp_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
)

// tokens is an authenticator that knows a fixed set of tokens.
type tokens map[string]*edustream.User

func (ts tokens) Authenticate(_ context.Context, token string) (*edustream.User, error) {
	if u, ok := ts[token]; ok {
		return u, nil
	}
	return nil, edustream.Errorf(edustream.EUNAUTHENTICATED, "invalid token")
}

// wsServer serves a tiny schema with token checks on connection_init,
// allowing the SPA origin https://app.example.
func wsServer(t *testing.T, opts ...option) *httptest.Server {
	t.Helper()
	s := newServer(t, append([]option{func(_ *gqlhttp.Schema, c *gqlhttp.Config) {
		c.Auth = tokens{"sams-token": {ID: 7, Name: "Sam", Role: edustream.RoleStudent}}
		c.AllowedOrigins = []string{"https://app.example"}
	}}, opts...)...)
	srv := httptest.NewServer(s.handler)
	t.Cleanup(srv.Close)
	return srv
}

// connect opens a websocket to srv, with no Origin, and returns it with
// the context to use it in: both end with the test, or after 10 seconds.
func connect(t *testing.T, srv *httptest.Server) (context.Context, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx, gqlhttptest.Open(t, ctx, srv.URL)
}

func TestWebsocketAuth(t *testing.T) {
	t.Parallel()
	srv := wsServer(t)
	const token = "sams-token"
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
			t.Parallel()
			ctx, c := connect(t, srv)
			gqlhttptest.Init(t, ctx, c, tt.init)
			payload := gqlhttptest.Run(t, ctx, c, "{ me }", nil)
			var result struct {
				Data struct{ Me *string }
			}
			json.Unmarshal(payload, &result)
			got := ""
			if result.Data.Me != nil {
				got = *result.Data.Me
			}
			if got != tt.wantMe {
				t.Errorf("me = %q, want %q (%s)", got, tt.wantMe, payload)
			}
		})
	}
}

func TestWebsocketRefusals(t *testing.T) {
	t.Parallel()
	srv := wsServer(t)
	withoutAuth := wsServer(t, func(_ *gqlhttp.Schema, c *gqlhttp.Config) { c.Auth = nil })
	for _, tt := range []struct {
		name string
		srv  *httptest.Server
		auth string
	}{
		{"unknown token", srv, "Bearer garbage"},
		{"not a bearer token", srv, "Basic c2FtOnNhbQ=="},
		{"a token with nobody to check it", withoutAuth, "Bearer sams-token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, c := connect(t, tt.srv)
			gqlhttptest.Send(t, ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": tt.auth}})
			for {
				m, err := gqlhttptest.Next(t, ctx, c)
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
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, resp, err := gqlhttptest.Dial(t, ctx, srv.URL, "https://evil.example")
		if err == nil {
			c.CloseNow()
			t.Fatal("a page from another origin opened a websocket")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign origin: %v %v", resp, err)
		}
	})
	t.Run("configured origin", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := gqlhttptest.Dial(t, ctx, srv.URL, "https://app.example")
		if err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
	})
}

// Protocol violations close the connection with graphql-transport-ws's
// codes; a ping is answered even before connection_init.
func TestWebsocketProtocolErrors(t *testing.T) {
	t.Parallel()
	srv := wsServer(t)
	init := map[string]any{"type": "connection_init"}
	tests := []struct {
		name      string
		afterInit bool // whether a connection_init was acknowledged first
		send      any  // then this; string is sent as a raw frame
		code      websocket.StatusCode
	}{
		{"garbage frame before init", false, "garbage", 4400},
		{"garbage frame after init", true, "{not json", 4400},
		{"JSON that is not an object", true, `[1,2]`, 4400},
		{"no type", true, map[string]any{"id": "1"}, 4400},
		{"unknown type", true, map[string]any{"type": "hello"}, 4400},
		{"a server message from the client", true, map[string]any{"type": "next", "id": "1", "payload": map[string]any{}}, 4400},
		{"string connection_init payload", false, map[string]any{"type": "connection_init", "payload": "Bearer x"}, 4400},
		{"array connection_init payload", false, map[string]any{"type": "connection_init", "payload": []any{1}}, 4400},
		{"subscribe without id", true, map[string]any{"type": "subscribe", "payload": map[string]any{"query": "{ me }"}}, 4400},
		{"subscribe without query", true, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"variables": map[string]any{}}}, 4400},
		{"subscribe with string variables", true, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": "{ me }", "variables": "x"}}, 4400},
		{"subscribe before init", false, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": "{ me }"}}, 4401},
		{"second connection_init", true, init, 4429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, c := connect(t, srv)
			if tt.afterInit {
				gqlhttptest.Init(t, ctx, c, nil)
			}
			if raw, ok := tt.send.(string); ok {
				if err := c.Write(ctx, websocket.MessageText, []byte(raw)); err != nil {
					t.Fatal(err)
				}
			} else {
				gqlhttptest.Send(t, ctx, c, tt.send)
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
		t.Parallel()
		ctx, c := connect(t, srv)
		gqlhttptest.Send(t, ctx, c, map[string]any{"type": "ping"})
		_, data, err := c.Read(ctx)
		if err != nil || !strings.Contains(string(data), `"pong"`) {
			t.Fatalf("after ping: %s %v", data, err)
		}
		gqlhttptest.Init(t, ctx, c, nil)
	})
}

// A connection that never sends connection_init is closed with 4408.
func TestWebsocketInitTimeout(t *testing.T) {
	t.Parallel()
	srv := wsServer(t, func(_ *gqlhttp.Schema, c *gqlhttp.Config) { c.WebsocketInitTimeout = 200 * time.Millisecond })
	ctx, c := connect(t, srv)
	_, _, err := c.Read(ctx)
	if got := websocket.CloseStatus(err); got != 4408 {
		t.Errorf("closed with %v (%v), want 4408", got, err)
	}
}

// Subscriptions run over websockets: each event a next message, then
// complete.
func TestWebsocketSubscription(t *testing.T) {
	t.Parallel()
	ctx, c := connect(t, wsServer(t))
	gqlhttptest.Init(t, ctx, c, nil)
	gqlhttptest.Subscribe(t, ctx, c, "1", "subscription($n: Int!) { ticks(n: $n) }", map[string]any{"n": 3})
	got := untilComplete(t, ctx, c, "1")
	if want := []string{`{"data":{"ticks":1}}`, `{"data":{"ticks":2}}`, `{"data":{"ticks":3}}`}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", got, want)
	}

	// A subscription's document is priced like any other.
	gqlhttptest.Subscribe(t, ctx, c, "2", "subscription { "+strings.Repeat("ticks(n: 1) ", 11)+"}", nil)
	if m, err := gqlhttptest.Next(t, ctx, c); err != nil || m.Type != "error" || m.ID != "2" || !strings.Contains(string(m.Payload), "SELECTION_LIMIT_EXCEEDED") {
		t.Errorf("an over-limit subscription: %+v %v", m, err)
	}
}

// A server shutting down cancels its requests' base context; the
// transport then closes every socket with 1001 (going away), so clients
// connect again elsewhere instead of waiting on a socket nobody serves:
// http.Server.Shutdown does not close hijacked connections.
func TestWebsocketClosedOnShutdown(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(_ *gqlhttp.Schema, c *gqlhttp.Config) { c.AllowedOrigins = []string{"https://app.example"} })
	base, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	srv := httptest.NewUnstartedServer(s.handler)
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Config.RegisterOnShutdown(shutdown)
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, c := connect(t, srv)
	gqlhttptest.Init(t, ctx, c, nil)
	gqlhttptest.Subscribe(t, ctx, c, "1", "subscription { idle }", nil)
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := gqlhttptest.Next(t, ctx, c)
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Fatalf("after shutdown: %+v, %v (close %d), want close 1001", m, err, code)
	}
}

// A notification never waits on the subscriber's socket: the event
// service's delivery goroutine, which notifies every subscriber of the
// instance, must not stall behind one that stopped reading. Here 1,000
// events of 64 KiB, far beyond what the socket buffers, are notified to a
// client that reads nothing; every notification returns, long before the
// 10 s write timeout would free a notifier that wrote itself.
func TestWebsocketNotifierNeverWaitsOnTheSocket(t *testing.T) {
	t.Parallel()
	data := newTiny()
	s := newServerOn(t, data, func(_ *gqlhttp.Schema, c *gqlhttp.Config) {
		c.AllowedOrigins = []string{"https://app.example"}
	})
	srv := httptest.NewServer(s.handler)
	t.Cleanup(srv.Close)
	ctx, c := connect(t, srv)
	c.SetReadLimit(1 << 20)
	gqlhttptest.Init(t, ctx, c, nil)
	gqlhttptest.Subscribe(t, ctx, c, "1", "subscription { flood(n: 1000) }", nil)
	select {
	case <-data.floods:
	case <-time.After(5 * time.Second):
		t.Fatal("the notifier was still blocked after 5 s: it waits on the stalled client's socket")
	}
	// The client reads again: the events come, in order.
	for i := range 3 {
		m, err := gqlhttptest.Next(t, ctx, c)
		if err != nil || m.Type != "next" || m.ID != "1" {
			t.Fatalf("event %d after the stall: %+v %v", i+1, m.Type, err)
		}
	}
}

// A subscription whose resolver notifies is delivered from a goroutine
// the notification starts, in order, then completed; one whose resolver
// asked and then failed gets its error and complete, as any other.
func TestWebsocketNotifiedSubscription(t *testing.T) {
	t.Parallel()
	ctx, c := connect(t, wsServer(t))
	gqlhttptest.Init(t, ctx, c, nil)
	gqlhttptest.Subscribe(t, ctx, c, "1", "subscription { pushed(n: 5) }", nil)
	got := untilComplete(t, ctx, c, "1")
	want := []string{`{"data":{"pushed":1}}`, `{"data":{"pushed":2}}`, `{"data":{"pushed":3}}`, `{"data":{"pushed":4}}`, `{"data":{"pushed":5}}`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", got, want)
	}

	gqlhttptest.Subscribe(t, ctx, c, "2", "subscription { pushFails }", nil)
	m, err := gqlhttptest.Next(t, ctx, c)
	if err != nil || m.Type != "next" || m.ID != "2" || !strings.Contains(string(m.Payload), `"code":"INTERNAL"`) {
		t.Fatalf("a resolver that failed: %+v (%s) %v", m, m.Payload, err)
	}
	if m, err := gqlhttptest.Next(t, ctx, c); err != nil || m.Type != "complete" || m.ID != "2" {
		t.Errorf("want complete after the failure, got %+v %v", m, err)
	}
	// The socket still serves.
	if payload := gqlhttptest.Run(t, ctx, c, "{ me }", nil); !strings.Contains(string(payload), `"me":null`) {
		t.Errorf("after the failure: %s", payload)
	}
}

// untilComplete reads operation id's next messages until its complete and
// returns their payloads.
func untilComplete(t *testing.T, ctx context.Context, c *websocket.Conn, id string) []string {
	t.Helper()
	var got []string
	for {
		m, err := gqlhttptest.Next(t, ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == "complete" && m.ID == id {
			return got
		}
		if m.Type != "next" || m.ID != id {
			t.Fatalf("want next or complete of %s, got %+v", id, m)
		}
		got = append(got, string(m.Payload))
	}
}
