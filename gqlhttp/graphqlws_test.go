package gqlhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/internal/testenv"
)

// graphqlWSDir holds the npm project that drives the stock graphql-ws
// client (client.mjs), with its package-lock.json.
const graphqlWSDir = "testdata/graphql-ws"

// brokenAuth knows tokens, and fails on "broken-token" as an
// authenticator whose backend broke would.
type brokenAuth struct{ tokens }

func (a brokenAuth) Authenticate(ctx context.Context, token string) (*edustream.User, error) {
	if token == "broken-token" {
		return nil, fmt.Errorf("signing keys: %w", edustream.Errorf(edustream.EINTERNAL, "keys unreadable"))
	}
	return a.tokens.Authenticate(ctx, token)
}

// TestGraphQLWSClient runs the stock graphql-ws client against the
// endpoint: a subscription's events and complete, a query, a validation
// error, an unsubscribe, and every close code graphql-transport-ws names
// (plus the project's 4029), each seen by the client as the close of its
// socket. It skips without node and npm, unless EDUSTREAM_TEST_REQUIRE
// names graphql-ws.
func TestGraphQLWSClient(t *testing.T) {
	t.Parallel()
	node := testenv.NodeProject(t, graphqlWSDir, "graphql-ws", "graphql-ws")
	reg := prometheus.NewRegistry()
	data := newTiny()
	s := newServerOn(t, data, withMetrics(reg, gqlhttp.MetricsConfig{}), func(_ *gqlhttp.Schema, c *gqlhttp.Config) {
		c.Auth = brokenAuth{tokens{
			"sams-token": {ID: 7, Name: "Sam", Role: edustream.RoleStudent},
			"adas-token": {ID: 8, Name: "Ada", Role: edustream.RoleInstructor},
		}}
		c.WebsocketInitTimeout = 500 * time.Millisecond
		c.MaxSocketsPerUser = 1
	})
	srv := httptest.NewServer(s.handler)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs", "ws"+strings.TrimPrefix(srv.URL, "http")+"/query")
	cmd.Dir = graphqlWSDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s\n%s", err, out, stderr.String())
	}
	type line struct {
		Name    string
		Events  []json.RawMessage
		Outcome string
		Code    int
		Reason  string
		Errors  []gqlerrorJSON
	}
	t.Logf("client:\n%s", out)
	got := map[string]line{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("client output %q: %v", sc.Text(), err)
		}
		got[l.Name] = l
	}
	events := func(l line) string {
		var parts []string
		for _, e := range l.Events {
			parts = append(parts, string(e))
		}
		return strings.Join(parts, " ")
	}

	if l := got["subscribe"]; l.Outcome != "complete" || events(l) != `{"data":{"ticks":1}} {"data":{"ticks":2}} {"data":{"ticks":3}}` {
		t.Errorf("subscribe: %+v, want ticks 1 to 3 and complete", l)
	}
	if l := got["query"]; l.Outcome != "complete" || events(l) != `{"data":{"me":"Sam"}}` {
		t.Errorf("query: %+v, want Sam and complete", l)
	}
	if l := got["validation error"]; l.Outcome != "error" || len(l.Errors) != 1 || l.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("validation error: %+v, want one BAD_USER_INPUT error", l)
	}
	if l := got["unsubscribe"]; l.Outcome != "unsubscribed" {
		t.Errorf("unsubscribe: %+v", l)
	}
	// The unsubscribed operation ended on the server, and every other.
	waitFor(t, "the idle subscriptions to end", func() bool { return data.idle.Load() == 0 })

	for name, reason := range map[string]string{
		"4400 bad message":           "Invalid message",
		"4401 subscribe before init": "Unauthorized",
		"4403 forbidden":             "invalid token",
		"4406 subprotocol":           "Subprotocol not acceptable",
		"4408 init timeout":          "Connection initialisation timeout",
		"4409 subscriber exists":     "Subscriber for same already exists",
		"4429 too many inits":        "Too many initialisation requests",
		"4500 internal error":        "Internal server error",
		"4029 socket limit":          "at most 1 websockets per user",
	} {
		var code int
		fmt.Sscan(name, &code)
		if l, ok := got[name]; !ok || l.Outcome != "closed" || l.Code != code || !strings.Contains(l.Reason, reason) {
			t.Errorf("%s: the client saw %+v, want its socket closed with %d and a reason with %q", name, l, code, reason)
		}
	}
	if len(got) != 13 {
		t.Errorf("%d scenarios reported, want 13:\n%s\n%s", len(got), out, stderr.String())
	}
	for reason, want := range map[string]float64{"bad_message": 1, "unauthorized": 1, "forbidden": 1, "subprotocol": 1,
		"init_timeout": 1, "duplicate_id": 1, "too_many_inits": 1, "socket_limit": 1} {
		if n, _ := sample(t, reg, "edustream_graphql_websocket_refusals_total", map[string]string{"reason": reason}); n != want {
			t.Errorf("refusals{reason=%q} = %v, want %v", reason, n, want)
		}
	}
}

// gqlerrorJSON is a GraphQL error as a client decodes it.
type gqlerrorJSON struct {
	Message    string
	Extensions map[string]any
}
