package webex

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const tracingScope = "github.com/edustream/edustream/webex"

// tracedTransport makes a client span of each HTTP exchange with Webex sent
// under a recording span (a class created, a meeting deleted by its task,
// a recording imported): every attempt of a call is its own span, so a
// trace shows the 429s and 5xx that were retried and how long each wait
// was. No trace context is sent to Webex, and a request outside any trace
// makes no span.
type tracedTransport struct {
	base http.RoundTripper
	// basePath is the API root's path ("/v1"), cut from span names.
	basePath string
}

func (t tracedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	parent := trace.SpanFromContext(r.Context())
	if !parent.IsRecording() {
		return t.base.RoundTrip(r)
	}
	u := *r.URL
	u.RawQuery, u.User = "", nil
	ctx, span := parent.TracerProvider().Tracer(tracingScope).Start(r.Context(), "webex "+r.Method+" "+t.resource(r.URL.Path),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLFull(u.String()),
			semconv.ServerAddress(r.URL.Hostname()),
		))
	defer span.End()
	res, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return res, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(res.StatusCode))
	if res.StatusCode >= 400 {
		span.SetStatus(codes.Error, res.Status)
	}
	return res, nil
}

// resource names what a path is about without its ids: its first segment
// below the API root ("/meetings/abc" → "/meetings").
func (t tracedTransport) resource(path string) string {
	path = strings.TrimPrefix(path, t.basePath)
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return "/" + first
}
