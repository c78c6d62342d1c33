package gqlhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Under the request's span, an operation is a span named after its type
// and name, failed only when the answer holds an INTERNAL error; outside a
// trace there is none.
func TestOperationSpans(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	tests := []struct {
		query     string
		traced    bool
		wantSpan  string
		wantError bool
	}{
		{`{ greeting }`, false, "", false},
		{`{ greeting }`, true, "query", false},
		{`query Shelf { books { title } }`, true, "query Shelf", false},
		{`mutation Greet { setGreeting(text: "Hi") }`, true, "mutation Greet", false},
		// Refused: an answer, not a failure.
		{`{ fail }`, true, "query", false},
		{`{ greeting panics }`, true, "query", true},
	}
	for _, tt := range tests {
		rec.Reset()
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":`+string(jsonString(tt.query))+`}`))
		req.Header.Set("Content-Type", "application/json")
		ctx, request := tp.Tracer("test").Start(context.Background(), "POST /query")
		if tt.traced {
			req = req.WithContext(ctx)
		}
		s.handler.ServeHTTP(httptest.NewRecorder(), req)
		request.End()

		var ops []sdktrace.ReadOnlySpan
		for _, span := range rec.Ended() {
			if span.Name() != "POST /query" {
				ops = append(ops, span)
			}
		}
		if tt.wantSpan == "" {
			if len(ops) != 0 {
				t.Errorf("%s: %d spans outside a trace", tt.query, len(ops))
			}
			continue
		}
		if len(ops) != 1 {
			t.Fatalf("%s: %d operation spans, want 1", tt.query, len(ops))
		}
		op := ops[0]
		if op.Name() != tt.wantSpan || op.Parent().SpanID() != request.SpanContext().SpanID() {
			t.Errorf("%s: span %q under %v, want %q under the request", tt.query, op.Name(), op.Parent().SpanID(), tt.wantSpan)
		}
		if failed := op.Status().Code == codes.Error; failed != tt.wantError {
			t.Errorf("%s: failed %v, want %v", tt.query, failed, tt.wantError)
		}
	}
}
