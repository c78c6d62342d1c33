package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// With a tracer, a request is a server span named after its route, the
// child of the client's traceparent, and the handlers run under it; the
// load balancer's probes make none.
func TestRequestSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	var seen trace.SpanContext
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = trace.SpanContextFromContext(r.Context())
	})
	h := New(Config{Logger: slog.New(slog.DiscardHandler), GraphQL: record, Playback: record, Tracer: tp})

	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		method, path, traceparent string
		wantSpan                  string // "": none
		wantRoute                 string
	}{
		{"POST", "/query", "00-" + traceID + "-" + clientSpan + "-01", "POST /query", "/query"},
		{"GET", "/play/42/720p/index.m3u8?sig=secret", "", "GET /play/", "/play/"},
		{"GET", "/healthz", "", "", ""},
		{"GET", "/readyz", "", "", ""},
		// No route: the method only, never the path a scanner made up.
		{"GET", "/wp-admin/setup.php", "", "GET", ""},
	}
	for _, tt := range tests {
		rec.Reset()
		req := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.traceparent != "" {
			req.Header.Set("traceparent", tt.traceparent)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		spans := rec.Ended()
		if tt.wantSpan == "" {
			if len(spans) != 0 {
				t.Errorf("%s %s: %d spans, want none", tt.method, tt.path, len(spans))
			}
			continue
		}
		if len(spans) != 1 {
			t.Fatalf("%s %s: %d spans, want 1", tt.method, tt.path, len(spans))
		}
		s := spans[0]
		route := ""
		for _, kv := range s.Attributes() {
			if kv.Key == "http.route" {
				route = kv.Value.AsString()
			}
		}
		if s.Name() != tt.wantSpan || route != tt.wantRoute || s.SpanKind() != trace.SpanKindServer {
			t.Errorf("%s %s: span %q (kind %v, route %q), want %q route %q", tt.method, tt.path, s.Name(), s.SpanKind(), route, tt.wantSpan, tt.wantRoute)
		}
		if tt.traceparent != "" && (s.SpanContext().TraceID().String() != traceID || s.Parent().SpanID().String() != clientSpan) {
			t.Errorf("%s %s: span in trace %s under %s, want the client's", tt.method, tt.path, s.SpanContext().TraceID(), s.Parent().SpanID())
		}
		if tt.wantRoute != "" && seen.SpanID() != s.SpanContext().SpanID() {
			t.Errorf("%s %s: the handler ran under span %s, want %s", tt.method, tt.path, seen.SpanID(), s.SpanContext().SpanID())
		}
	}
}

// Without a tracer nothing is traced, and a client's traceparent is not
// taken up either.
func TestNoTracer(t *testing.T) {
	t.Parallel()
	var seen trace.SpanContext
	h := New(Config{Logger: slog.New(slog.DiscardHandler), GraphQL: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = trace.SpanContextFromContext(r.Context())
	})})
	req := httptest.NewRequest("POST", "/query", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if seen.IsValid() {
		t.Errorf("the handler ran in trace %s without a tracer", seen.TraceID())
	}
}
