package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/edustream/edustream"
)

// The attribute names of the ids on a log line: those the OpenTelemetry log
// data model gives them, which log pipelines (Loki, Elastic, CloudWatch)
// link to traces by.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// LogHandler adds TraceIDKey and SpanIDKey to every record logged with a
// context that carries a valid span. It is an edustream.ContextBinder: the
// logger of a request or task (edustream.NewContextWithLogger) is bound to
// the request's or task's context, so its lines written without a context
// (Info, not InfoContext) carry the ids of the span that context holds.
type LogHandler struct {
	inner slog.Handler
	// bound stands in for a record's context without a span (nil: none).
	bound context.Context
}

var _ edustream.ContextBinder = (*LogHandler)(nil)

// NewLogHandler wraps h.
func NewLogHandler(h slog.Handler) *LogHandler { return &LogHandler{inner: h} }

// BindContext implements edustream.ContextBinder.
func (h *LogHandler) BindContext(ctx context.Context) slog.Handler {
	return &LogHandler{inner: h.inner, bound: ctx}
}

// Enabled implements slog.Handler.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() && h.bound != nil {
		sc = trace.SpanContextFromContext(h.bound)
	}
	if sc.IsValid() {
		// The record is the caller's; Clone, so that a handler that keeps
		// it does not see ours added twice.
		r = r.Clone()
		r.AddAttrs(slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{inner: h.inner.WithAttrs(attrs), bound: h.bound}
}

// WithGroup implements slog.Handler. The ids of lines logged through the
// group's logger land in the group.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{inner: h.inner.WithGroup(name), bound: h.bound}
}
