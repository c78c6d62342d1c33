package webex_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/edustream/edustream/webex/webextest"
)

// Under a recording span every attempt of a call is a client span named
// after the method and resource, with its status: a retried 429 shows as
// a failed attempt before the one that answered. Webex is sent no trace
// context, and calls outside a trace make no span.
func TestWebexSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	b := setup(t)
	m := b.meeting(t, "Traced")
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans outside a trace", n)
	}

	b.fake.Inject(http.MethodGet, "/meetings/*", 1, webextest.Fault{Status: 429, RetryAfter: "1"})
	ctx, parent := tp.Tracer("test").Start(context.Background(), "task")
	if _, err := b.client.GetMeeting(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	parent.End()

	type attempt struct {
		name, url string
		status    int64
		failed    bool
	}
	var got []attempt
	for _, s := range rec.Ended() {
		if s.Name() == "task" {
			continue
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s is not under the task", s.Name())
		}
		a := attempt{name: s.Name(), failed: s.Status().Code == codes.Error}
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "url.full":
				a.url = kv.Value.AsString()
			case "http.response.status_code":
				a.status = kv.Value.AsInt64()
			}
		}
		got = append(got, a)
	}
	wantURL := b.fake.URL + "/meetings/" + m.ID
	if len(got) != 2 || got[0] != (attempt{"webex GET /meetings", wantURL, 429, true}) || got[1] != (attempt{"webex GET /meetings", wantURL, 200, false}) {
		t.Errorf("attempts %+v, want a failed 429 then a 200 of GET %s", got, wantURL)
	}
	for _, r := range b.fake.Requests(http.MethodGet, "/meetings/*") {
		for k := range r.Header {
			if strings.EqualFold(k, "traceparent") {
				t.Errorf("Webex was sent %s: %v", k, r.Header[k])
			}
		}
	}
}
