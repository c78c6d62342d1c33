package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// newLogger builds the process's logger in the configured format and
// level. Durations are written as Go durations ("1.5s", "250ms"), which a
// person can read, rather than slog's default of nanoseconds in JSON.
func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("EDUSTREAM_LOG_LEVEL: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: readableDurations}
	if strings.EqualFold(cfg.LogFormat, "text") {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// routeLibraryLogs sends what libraries log on their own through l, so a
// JSON log stays JSON: go-redis's pool messages (a Redis outage prints
// "failed to dial" lines) and anything written with the standard log
// package (gqlgen's websocket upgrade failures, for one). asynq logs through
// l already (jobs.Deps.Logger). Both hooks are process-wide.
func routeLibraryLogs(l *slog.Logger) {
	redis.SetLogger(redisLogger{l.With(slog.String("component", "redis"))})
	slog.SetDefault(l)
}

// redisLogger adapts slog to go-redis's Printf logger. go-redis logs only
// trouble, so every line is a warning.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	r.l.WarnContext(ctx, strings.TrimPrefix(msg, "redis: "))
}
