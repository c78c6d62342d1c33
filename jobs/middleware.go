package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// newMux returns the handler of every task type, wrapped in the middleware
// every task runs in. The order matters: the log line and the metrics must
// see the error after panics are recovered and codes are mapped, so they
// are outermost but for the task's span, which the log line carries.
func newMux(d *Deps) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(traceTasks(d.Tracer), logTasks(d.Logger), measureTasks(d.Metrics), recoverPanics, mapErrorCodes)
	// PurgeCourse refuses (ECONFLICT) to purge a course that is visible, so
	// a stray or replayed task cannot destroy live data.
	handle(mux, coursePurge, func(ctx context.Context, p CoursePurgePayload) error {
		if err := d.Courses.PurgeCourse(ctx, p.CourseID); err != nil {
			return fmt.Errorf("purge course %d: %w", p.CourseID, err)
		}
		return nil
	})
	c := &chain{d: d}
	for stage, tt := range stageTasks {
		handle(mux, tt, func(ctx context.Context, p VideoPayload) error { return c.runStage(ctx, stage, p.VideoID) })
	}
	handle(mux, videoCleanup, c.cleanup)
	handle(mux, transcodeCancel, c.cancelTranscode)
	handle(mux, uploadExpire, func(ctx context.Context, p VideoPayload) error { return d.Uploads.Expire(ctx, p.VideoID) })
	handleLive(mux, d)
	return mux
}

// handle registers fn for the tasks of tt, decoding their payloads first.
// fn's context carries the task's result writer (writeStepETA).
func handle[P any](mux *asynq.ServeMux, tt taskType[P], fn func(context.Context, P) error) {
	mux.HandleFunc(tt.name, func(ctx context.Context, t *asynq.Task) error {
		p, err := tt.decode(t)
		if err != nil {
			return err
		}
		return fn(withTaskResult(ctx, t.ResultWriter()), p)
	})
}

// logTasks writes one line per task attempt, with what an operator needs to
// find it in asynq's inspector (id, queue) and to judge it (retries, duration,
// error, whether asynq will try again). Handlers log through
// edustream.Logger(ctx), which carries the task's id and type.
func logTasks(logger *slog.Logger) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			// The metadata is missing only when a handler is called outside
			// an asynq server (tests); zero values are fine then.
			id, _ := asynq.GetTaskID(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)

			l := logger.With(slog.String("task_id", id), slog.String("task_type", t.Type()))
			ctx = edustream.NewContextWithLogger(ctx, l)

			start := time.Now()
			err := next.ProcessTask(ctx, t)
			attrs := []slog.Attr{
				slog.String("queue", queue),
				slog.Int("retried", retried),
				slog.Int("max_retry", maxRetry),
				slog.Duration("duration", time.Since(start)),
			}
			if err == nil {
				l.LogAttrs(ctx, slog.LevelInfo, "task done", attrs...)
				return nil
			}
			if errors.Is(err, errUploaderBusy) {
				// Fairness, not a fault: the step waits its turn.
				l.LogAttrs(ctx, slog.LevelInfo, "task put back", append(attrs, slog.String("reason", err.Error()))...)
				return err
			}
			willRetry := willRetry(ctx, err)
			level := slog.LevelWarn
			if !willRetry {
				// Nobody will try again: this needs a human.
				level = slog.LevelError
			}
			attrs = append(attrs, slog.String("error", err.Error()), slog.Bool("will_retry", willRetry))
			l.LogAttrs(ctx, level, "task failed", attrs...)
			return err
		})
	}
}

// errPanic marks the error a recovered panic turns into.
var errPanic = errors.New("task handler panicked")

// recoverPanics turns a handler's panic into an error, so the task is retried
// like any other failure and the worker goroutine survives.
//
// asynq v0.26 recovers panics itself (processor.perform), but it logs the
// stack through its own logger at error level as free text without the task
// id, and it only sees panics that escape every middleware, so the task's log
// line would not show them. Recovering here, inside the logging middleware,
// puts the stack next to the task's id and type and lets logTasks report the
// failure like any other.
func recoverPanics(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
		defer func() {
			if v := recover(); v != nil {
				edustream.Logger(ctx).LogAttrs(ctx, slog.LevelError, "task panicked",
					slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(debug.Stack())))
				// %v, not %w: a panic value is never a retry decision.
				err = fmt.Errorf("%w: %v", errPanic, v)
			}
		}()
		return next.ProcessTask(ctx, t)
	})
}

// mapErrorCodes is the one place where domain error codes become asynq's
// retry decisions. A code that says the task itself is wrong cannot succeed
// on a retry: ENOTFOUND (the thing is gone), EINVALID (bad input), ECONFLICT
// (the state forbids it; for a purge, the course is visible: a stray purge
// must fail for good, not wait in the retry set for the course's state to
// change). Everything else (a database outage, a timeout, a plain error, a
// panic) is retried.
func mapErrorCodes(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := next.ProcessTask(ctx, t)
		if err == nil {
			return nil
		}
		var e *edustream.Error
		if !errors.As(err, &e) {
			return err
		}
		switch e.Code {
		case edustream.ENOTFOUND, edustream.EINVALID, edustream.ECONFLICT:
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return err
	})
}
