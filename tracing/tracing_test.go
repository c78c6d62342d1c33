package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/tracing"
	"github.com/edustream/edustream/tracing/tracingtest"
)

// recorder returns a tracer provider that keeps its ended spans.
func recorder(t *testing.T) (trace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, rec
}

func TestOffByDefault(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	tr, err := tracing.New(context.Background(), func(string) string { return "" }, log)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Error("enabled with nothing set")
	}
	if _, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "x"); span.IsRecording() {
		t.Error("the provider of disabled tracing records")
	}
	if tr.Logger(log) != log {
		t.Error("the logger is wrapped while tracing is off")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// With an endpoint set, spans reach the collector over OTLP/HTTP with the
// configured service name, and Shutdown flushes them.
func TestExportsOverOTLP(t *testing.T) {
	t.Parallel()
	recv := tracingtest.NewReceiver(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.Endpoint(),
		"OTEL_SERVICE_NAME":           "edustream-test",
	}
	tr, err := tracing.New(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() {
		t.Fatal("not enabled with an endpoint")
	}
	ctx, parent := tr.TracerProvider().Tracer("test").Start(context.Background(), "parent")
	_, child := tr.TracerProvider().Tracer("test").Start(ctx, "child")
	child.End()
	parent.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := recv.Trace(parent.SpanContext().TraceID().String())
	if len(spans) != 2 {
		t.Fatalf("received %+v, want the two spans", recv.Spans())
	}
	for _, s := range spans {
		if s.Service != "edustream-test" {
			t.Errorf("%s has service %q", s.Name, s.Service)
		}
		if s.Name == "child" && s.ParentSpanID != parent.SpanContext().SpanID().String() {
			t.Errorf("child's parent is %s, want %s", s.ParentSpanID, parent.SpanContext().SpanID())
		}
	}
}

// OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports to a gRPC collector.
func TestExportsOverOTLPgRPC(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	collector := &grpcCollector{}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, collector)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + ln.Addr().String(),
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
	}
	tr, err := tracing.New(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "over grpc")
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := collector.names(); len(got) != 1 || got[0] != "over grpc" {
		t.Errorf("the collector received %v", got)
	}
}

type grpcCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []string
}

func (c *grpcCollector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, s.Name)
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (c *grpcCollector) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.spans)
}

func TestLogHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(tracing.NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("request_id", "r1")
	tp, _ := recorder(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	otherCtx, other := tp.Tracer("test").Start(context.Background(), "another trace")
	defer other.End()
	// The logger a request carries is bound to the request's context.
	bound := edustream.Logger(edustream.NewContextWithLogger(ctx, log))

	lines := []struct {
		log   func()
		want  trace.Span // nil: no ids
		group string
	}{
		{func() { log.InfoContext(ctx, "under a span") }, span, ""},
		{func() { log.WithGroup("g").InfoContext(ctx, "in a group", "k", "v") }, span, "g"},
		{func() { log.InfoContext(context.Background(), "outside") }, nil, ""},
		{func() { log.Info("no context") }, nil, ""},
		{func() { bound.Info("bound, no context") }, span, ""},
		{func() { bound.With("k", "v").InfoContext(context.Background(), "bound, a context without a span") }, span, ""},
		{func() { bound.InfoContext(otherCtx, "bound, another span") }, other, ""},
	}
	for _, l := range lines {
		buf.Reset()
		l.log()
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["request_id"] != "r1" {
			t.Errorf("%s: lost the logger's attributes: %v", rec["msg"], rec)
		}
		ids := rec
		if l.group != "" {
			ids, _ = rec[l.group].(map[string]any)
		}
		gotTrace, _ := ids[tracing.TraceIDKey].(string)
		gotSpan, _ := ids[tracing.SpanIDKey].(string)
		var wantTrace, wantSpan string
		if l.want != nil {
			wantTrace, wantSpan = l.want.SpanContext().TraceID().String(), l.want.SpanContext().SpanID().String()
		}
		if gotTrace != wantTrace || gotSpan != wantSpan {
			t.Errorf("%s: ids %q %q, want %q %q", rec["msg"], gotTrace, gotSpan, wantTrace, wantSpan)
		}
	}
}
