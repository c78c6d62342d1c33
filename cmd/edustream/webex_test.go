package main

import (
	"context"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/edustream/edustream/webex/webextest"
)

// The Webex client that serve builds is measured and traced at once: with
// metrics on, its calls still make spans (the measuring client used to
// replace the traced one), and each is counted.
func TestWebexTracedAndMeasured(t *testing.T) {
	t.Parallel()
	fake := webextest.New(t, webextest.Config{})
	env := map[string]string{
		"EDUSTREAM_WEBEX_BASE_URL": fake.URL,
		"EDUSTREAM_WEBEX_TOKEN":    fake.IssueAccessToken(0),
		"EDUSTREAM_METRICS_ADDR":   "127.0.0.1:0",
	}
	cfg, err := parseConfig("serve", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	pm := newProcessMetrics(cfg, log)
	client, err := openWebex(context.Background(), cfg, nil, log, pm)
	if err != nil {
		t.Fatal(err)
	}

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, parent := tp.Tracer("test").Start(context.Background(), "task")
	if _, err := client.GetMeeting(ctx, "no-such-meeting"); err == nil {
		t.Fatal("GetMeeting of a missing meeting succeeded")
	}
	parent.End()

	var names []string
	for _, s := range rec.Ended() {
		if s.Name() != "task" && s.Parent().SpanID() == parent.SpanContext().SpanID() {
			names = append(names, s.Name())
		}
	}
	if len(names) != 1 || names[0] != "webex GET /meetings" {
		t.Errorf("spans under the task: %q, want one webex GET /meetings", names)
	}

	families, err := pm.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := 0.0
	for _, f := range families {
		if f.GetName() != "edustream_http_client_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" && l.GetValue() == "webex" {
					counted += m.GetCounter().GetValue()
				}
			}
		}
	}
	if counted != 1 {
		t.Errorf("edustream_http_client_requests_total{service=webex} = %v, want 1", counted)
	}
}
