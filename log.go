package edustream

import (
	"context"
	"log/slog"
)

type loggerContextKey struct{}

// NewContextWithLogger returns a context carrying a logger that already holds
// the request's (or task's) identifying attributes, so every layer's log line
// about one request can be found together.
//
// When l's handler is a ContextBinder, the logger carried is bound to ctx:
// a line it writes without a context (Info rather than InfoContext) is
// handled with what ctx says, such as the ids of its trace.
func NewContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	if b, ok := l.Handler().(ContextBinder); ok {
		l = slog.New(b.BindContext(ctx))
	}
	return context.WithValue(ctx, loggerContextKey{}, l)
}

// ContextBinder is a slog.Handler that takes something from the context of
// each record (the tracing's handler takes the trace and span ids), and so
// can stand in for the context of records logged without one.
type ContextBinder interface {
	slog.Handler
	// BindContext returns the handler with ctx in place of the context of
	// records that carry none of their own.
	BindContext(ctx context.Context) slog.Handler
}

// Logger returns the logger carried by ctx, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerContextKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
