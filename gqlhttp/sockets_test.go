package gqlhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/internal/testenv"
)

// httptestServer serves s until the test ends.
func httptestServer(t *testing.T, s *server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.handler)
	t.Cleanup(srv.Close)
	return srv
}

// waitFor polls cond until it holds, failing the test after the wait
// limit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testenv.WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedWith reads c until it closes, and fails the test unless it
// closed with code and a reason containing reason.
func closedWith(t *testing.T, ctx context.Context, c *websocket.Conn, code websocket.StatusCode, reason string) {
	t.Helper()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != code || !strings.Contains(ce.Reason, reason) {
				t.Errorf("closed with %v, want %d and a reason with %q", err, code, reason)
			}
			return
		}
		t.Logf("before closing the server sent %s", data)
	}
}

// refusedWith reads the next message and fails the test unless it is an
// error message for operation id with code LIMIT_EXCEEDED and a message
// containing bound.
func refusedWith(t *testing.T, ctx context.Context, c *websocket.Conn, id, bound string) {
	t.Helper()
	m, err := gqlhttptest.Next(t, ctx, c)
	if err != nil {
		t.Fatalf("want an error for %s: %v", id, err)
	}
	var errs []struct {
		Message    string
		Extensions map[string]any
	}
	json.Unmarshal(m.Payload, &errs)
	if m.Type != "error" || m.ID != id || len(errs) != 1 || errs[0].Extensions["code"] != "LIMIT_EXCEEDED" || !strings.Contains(errs[0].Message, bound) {
		t.Errorf("got %+v (%s), want an error for %s, LIMIT_EXCEEDED, naming %q", m, m.Payload, id, bound)
	}
}

// Sockets and subscriptions are bounded per user and per process; what
// is past a bound is refused with a code that says which, before anything
// of it runs, and counted; what ends frees its place.
func TestSocketAndSubscriptionBounds(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	data := newTiny()
	s := newServerOn(t, data, withMetrics(reg, gqlhttp.MetricsConfig{}), func(_ *gqlhttp.Schema, c *gqlhttp.Config) {
		c.Auth = tokens{"sams-token": {ID: 7, Name: "Sam"}}
		c.MaxSockets, c.MaxSocketsPerUser = 4, 2
		c.MaxSubscriptions, c.MaxSubscriptionsPerUser = 5, 3
	})
	srv := httptestServer(t, s)
	sam := map[string]any{"Authorization": "Bearer sams-token"}
	const idle = "subscription { idle }"

	ctx, first := connect(t, srv)
	gqlhttptest.Init(t, ctx, first, sam)
	for _, id := range []string{"1", "2", "3"} {
		gqlhttptest.Subscribe(t, ctx, first, id, idle, nil)
	}
	waitFor(t, "3 idle subscriptions", func() bool { return data.idle.Load() == 3 })
	gqlhttptest.Subscribe(t, ctx, first, "4", idle, nil)
	refusedWith(t, ctx, first, "4", "at most 3 subscriptions per user")
	// The same user on another socket shares the bound.
	_, second := connect(t, srv)
	gqlhttptest.Init(t, ctx, second, sam)
	gqlhttptest.Subscribe(t, ctx, second, "1", idle, nil)
	refusedWith(t, ctx, second, "1", "at most 3 subscriptions per user")
	if n := data.idle.Load(); n != 3 {
		t.Errorf("%d idle subscriptions run, want 3: a refused one ran", n)
	}
	// Completing one frees its place.
	gqlhttptest.Send(t, ctx, first, map[string]any{"type": "complete", "id": "1"})
	waitFor(t, "the completed subscription to end", func() bool { return data.idle.Load() == 2 })
	gqlhttptest.Subscribe(t, ctx, second, "2", idle, nil)
	waitFor(t, "the subscription in the freed place", func() bool { return data.idle.Load() == 3 })

	// A third socket of Sam's is closed at connection_init.
	_, third := connect(t, srv)
	gqlhttptest.Send(t, ctx, third, map[string]any{"type": "connection_init", "payload": sam})
	closedWith(t, ctx, third, 4029, "at most 2 websockets per user")
	// Its place in the process's bound is given back when its handler
	// returns, a moment after the close frame: wait, or the next socket
	// may find the process full.
	waitFor(t, "the refused socket's handler to return", func() bool {
		n, _ := sample(t, reg, "edustream_graphql_websocket_connections", nil)
		return n == 2
	})

	// Anonymous sockets count against the process: 2 of Sam's and 2
	// more make 4, and the fifth is closed.
	_, anon := connect(t, srv)
	gqlhttptest.Init(t, ctx, anon, nil)
	_, anon2 := connect(t, srv)
	gqlhttptest.Init(t, ctx, anon2, nil)
	_, fifth := connect(t, srv)
	closedWith(t, ctx, fifth, 4029, "maximum of 4 websockets")

	// The process holds 5 subscriptions: 3 of Sam's and 2 anonymous.
	gqlhttptest.Subscribe(t, ctx, anon, "1", idle, nil)
	gqlhttptest.Subscribe(t, ctx, anon, "2", idle, nil)
	waitFor(t, "5 idle subscriptions", func() bool { return data.idle.Load() == 5 })
	gqlhttptest.Subscribe(t, ctx, anon2, "1", idle, nil)
	refusedWith(t, ctx, anon2, "1", "maximum of 5 subscriptions")

	for reason, want := range map[string]float64{"subscription_limit": 3, "socket_limit": 2} {
		if got, _ := sample(t, reg, "edustream_graphql_websocket_refusals_total", map[string]string{"reason": reason}); got != want {
			t.Errorf("refusals{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	if got, _ := sample(t, reg, "edustream_graphql_errors_total", map[string]string{"code": "LIMIT_EXCEEDED"}); got != 3 {
		t.Errorf("errors{code=LIMIT_EXCEEDED} = %v, want 3", got)
	}

	// A closed socket frees its places: Sam's subscriptions on it end,
	// and Sam may open another socket.
	first.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the closed socket's subscriptions to end", func() bool { return data.idle.Load() == 3 })
	var again *websocket.Conn
	waitFor(t, "a socket for Sam again", func() bool {
		c, _, err := gqlhttptest.Dial(t, ctx, srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		gqlhttptest.Send(t, ctx, c, map[string]any{"type": "connection_init", "payload": sam})
		if m, err := gqlhttptest.Next(t, ctx, c); err == nil && m.Type == "connection_ack" {
			again = c
			return true
		}
		c.CloseNow()
		return false
	})
	again.CloseNow()
}

// A subscribe with the id of a running operation closes the socket with
// 4409, as graphql-transport-ws says; an id whose operation ended may be
// used again.
func TestWebsocketDuplicateID(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newServer(t, withMetrics(reg, gqlhttp.MetricsConfig{}))
	srv := httptestServer(t, s)
	ctx, c := connect(t, srv)
	gqlhttptest.Init(t, ctx, c, nil)
	for range 2 {
		// Operation 1 again, once the server completed it.
		gqlhttptest.Run(t, ctx, c, "subscription { ticks(n: 1) }", nil)
	}
	gqlhttptest.Subscribe(t, ctx, c, "2", "subscription { idle }", nil)
	gqlhttptest.Subscribe(t, ctx, c, "2", "subscription { idle }", nil)
	closedWith(t, ctx, c, 4409, "Subscriber for 2 already exists")
	if got, _ := sample(t, reg, "edustream_graphql_websocket_refusals_total", map[string]string{"reason": "duplicate_id"}); got != 1 {
		t.Errorf("refusals{reason=duplicate_id} = %v, want 1", got)
	}
}
