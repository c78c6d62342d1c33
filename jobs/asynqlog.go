package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// asynqLogger routes asynq's own free-text log lines into slog, tagged with
// component=asynq, so that one handler formats everything the process writes.
// The Worker sets asynq's level to warn: at info asynq announces every start,
// stop and shutdown step, which buries the task lines in dev output.
type asynqLogger struct {
	l *slog.Logger
}

func newAsynqLogger(l *slog.Logger) asynqLogger {
	return asynqLogger{l: l.With(slog.String("component", "asynq"))}
}

func (a asynqLogger) log(level slog.Level, args []any) {
	a.l.Log(context.Background(), level, fmt.Sprint(args...))
}

// Debug implements asynq.Logger.
func (a asynqLogger) Debug(args ...any) { a.log(slog.LevelDebug, args) }

// Info implements asynq.Logger.
func (a asynqLogger) Info(args ...any) { a.log(slog.LevelInfo, args) }

// Warn implements asynq.Logger.
func (a asynqLogger) Warn(args ...any) { a.log(slog.LevelWarn, args) }

// Error implements asynq.Logger.
func (a asynqLogger) Error(args ...any) { a.log(slog.LevelError, args) }

// Fatal implements asynq.Logger, whose contract is to exit the process.
// asynq v0.26 never calls it.
func (a asynqLogger) Fatal(args ...any) {
	a.log(slog.LevelError, args)
	os.Exit(1)
}
