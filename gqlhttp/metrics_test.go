package gqlhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
)

// withMetrics measures the server on a registry of its own.
func withMetrics(reg *prometheus.Registry, cfg gqlhttp.MetricsConfig) option {
	return func(_ *gqlhttp.Schema, c *gqlhttp.Config) {
		if cfg.ResponseCache == nil {
			cfg.ResponseCache = c.ResponseCache
		}
		c.Metrics = gqlhttp.NewMetrics(reg, cfg)
	}
}

// sample returns the value of the series of name with exactly labels: a
// counter's or gauge's value, a histogram's count. ok is false when there
// is no such series.
func sample(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (v float64, ok bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !sameLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// operationNames returns the operation label values of the requests
// counted, and how many requests each has.
func operationNames(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "edustream_graphql_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// A client cannot make a series per request: the first names of valid
// operations get their own, later ones and overlong ones are "other", and
// a document that does not validate claims no name at all. Anonymous
// operations and unparsed requests have series of their own, outside the
// bound.
func TestOperationNamesAreBounded(t *testing.T) {
	t.Parallel()
	long := "Q" + strings.Repeat("x", 119) // under the parser's limit, over the label's
	tests := []struct {
		name  string
		bound int
		sent  []string // documents, in order
		want  map[string]float64
	}{
		{
			name:  "within the bound",
			bound: 3,
			sent:  []string{"query A { greeting }", "query B { greeting }", "query A { greeting }"},
			want:  map[string]float64{"A": 2, "B": 1},
		},
		{
			name:  "past the bound",
			bound: 2,
			sent:  []string{"query A { greeting }", "query B { greeting }", "query C { greeting }", "query D { greeting }", "query A { greeting }"},
			want:  map[string]float64{"A": 2, "B": 1, "other": 2},
		},
		{
			name:  "sentinels are outside the bound",
			bound: 1,
			sent:  []string{"{ greeting }", "query A { greeting }", "{ nope }", "query B { greeting }"},
			want:  map[string]float64{"anonymous": 1, "A": 1, "unknown": 1, "other": 1},
		},
		{
			name:  "an invalid document claims no name",
			bound: 1,
			sent:  []string{"query Junk { nope }", "query A { greeting }", "query Junk { greeting }"},
			want:  map[string]float64{"unknown": 1, "A": 1, "other": 1},
		},
		{
			name:  "an overlong name is other",
			bound: 5,
			sent:  []string{"query " + long + " { greeting }", "query A { greeting }"},
			want:  map[string]float64{"other": 1, "A": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			s := newServer(t, withMetrics(reg, gqlhttp.MetricsConfig{OperationNames: tt.bound}))
			for _, doc := range tt.sent {
				s.post(t, nil, doc, nil)
			}
			if got := operationNames(t, reg); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("requests by operation = %v, want %v", got, tt.want)
			}
		})
	}
}

// Every request is counted once with its type and outcome, every answered
// one timed; errors are counted by code; a shared read answered from the
// cache counts under the name of the operation that filled it.
func TestRequestsAreMeasured(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newServer(t, withCache(gqlhttptest.NewCache(nil)), withMetrics(reg, gqlhttp.MetricsConfig{}))
	s.post(t, nil, "query Greeting { greeting }", nil).NoErrors(t)
	s.post(t, nil, "{ greeting }", nil).NoErrors(t) // the same anonymous document twice:
	s.post(t, nil, "{ greeting }", nil).NoErrors(t) // the second is a cache hit
	s.post(t, nil, "query Broken { panics }", nil)  // a field error, INTERNAL
	s.post(t, staff, "mutation Set { setGreeting(text: \"Hi\") }", nil).NoErrors(t)
	s.raw(t, nil, http.MethodPost, "/query", "application/json", []byte("{"))      // not JSON
	s.raw(t, nil, http.MethodGet, getTarget("mutation Sneaky { visit }"), "", nil) // GET may not mutate

	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"edustream_graphql_requests_total", map[string]string{"type": "query", "operation": "Greeting", "outcome": "ok"}, 1},
		{"edustream_graphql_requests_total", map[string]string{"type": "query", "operation": "anonymous", "outcome": "ok"}, 2},
		{"edustream_graphql_requests_total", map[string]string{"type": "query", "operation": "Broken", "outcome": "error"}, 1},
		{"edustream_graphql_requests_total", map[string]string{"type": "mutation", "operation": "Set", "outcome": "ok"}, 1},
		{"edustream_graphql_requests_total", map[string]string{"type": "unknown", "operation": "unknown", "outcome": "rejected"}, 1},
		{"edustream_graphql_requests_total", map[string]string{"type": "mutation", "operation": "Sneaky", "outcome": "rejected"}, 1},
		{"edustream_graphql_request_duration_seconds", map[string]string{"type": "query", "operation": "anonymous"}, 2},
		{"edustream_graphql_request_duration_seconds", map[string]string{"type": "mutation", "operation": "Set"}, 1},
		{"edustream_graphql_errors_total", map[string]string{"code": "INTERNAL"}, 1},
		{"edustream_graphql_errors_total", map[string]string{"code": "BAD_USER_INPUT"}, 2},
		{"edustream_graphql_response_cache_hits_total", nil, 1},
	} {
		if got, ok := sample(t, reg, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found: %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
}

// A subscription is active from its start to the end of its stream, by
// root field, and its websocket is counted while it is open.
func TestSubscriptionsAndWebsocketsAreMeasured(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	started, release := make(chan struct{}), make(chan struct{})
	// Holds the stream's first event until the test has looked.
	hold := func(s *gqlhttp.Schema, _ *gqlhttp.Config) {
		s.AroundOperations = func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
			respond := next(ctx)
			if graphql.GetOperationContext(ctx).Operation.Operation != ast.Subscription {
				return respond
			}
			first := true
			return func(ctx context.Context) *graphql.Response {
				if first {
					first = false
					close(started)
					<-release
				}
				return respond(ctx)
			}
		}
	}
	srv := wsServer(t, hold, withMetrics(reg, gqlhttp.MetricsConfig{}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := gqlhttptest.Dial(t, ctx, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	gqlhttptest.Send(t, ctx, c, map[string]any{"type": "connection_init"})
	if m, err := gqlhttptest.Next(t, ctx, c); err != nil || m.Type != "connection_ack" {
		t.Fatalf("after connection_init: %+v %v", m, err)
	}
	if got, _ := sample(t, reg, "edustream_graphql_websocket_connections", nil); got != 1 {
		t.Errorf("websocket connections = %v, want 1", got)
	}
	gqlhttptest.Send(t, ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "subscription Ticks { ticks(n: 2) }"}})
	<-started
	if got, _ := sample(t, reg, "edustream_graphql_subscriptions", map[string]string{"field": "ticks"}); got != 1 {
		t.Errorf("active ticks subscriptions = %v, want 1", got)
	}
	close(release)
	for {
		m, err := gqlhttptest.Next(t, ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == "complete" {
			break
		}
	}
	// The stream ended before the server said complete.
	if got, _ := sample(t, reg, "edustream_graphql_subscriptions", map[string]string{"field": "ticks"}); got != 0 {
		t.Errorf("active ticks subscriptions after the end = %v, want 0", got)
	}
	if got, _ := sample(t, reg, "edustream_graphql_requests_total", map[string]string{"type": "subscription", "operation": "Ticks", "outcome": "ok"}); got != 1 {
		t.Errorf("subscription requests = %v, want 1", got)
	}
	c.Close(1000, "")
	// The server's side of the connection ends when it reads the close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := sample(t, reg, "edustream_graphql_websocket_connections", nil)
		if got == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("websocket connections = %v after the client closed, want 0", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
