package edustream

import (
	"context"
	"log/slog"
)

type loggerContextKey struct{}

// NewContextWithLogger returns a context carrying a logger that already holds
// the request's (or task's) identifying attributes, so every layer's log line
// about one request can be found together.
func NewContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerContextKey{}, l)
}

// Logger returns the logger carried by ctx, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerContextKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
