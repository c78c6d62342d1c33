package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

func purgeTask(t *testing.T, id int64) *asynq.Task {
	t.Helper()
	task, err := NewCoursePurgeTask(id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// The purge handler runs through the same middleware as in a worker, since
// the retry decision for domain codes is made there.
func TestCoursePurgeHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		task      *asynq.Task
		purgeErr  error
		wantPurge bool
		wantErr   bool
		wantSkip  bool
	}{
		{name: "ok", task: purgeTask(t, 1), wantPurge: true},
		{name: "not found", task: purgeTask(t, 1), purgeErr: edustream.Errorf(edustream.ENOTFOUND, "no course"), wantPurge: true, wantErr: true, wantSkip: true},
		{name: "invalid", task: purgeTask(t, 1), purgeErr: edustream.Errorf(edustream.EINVALID, "bad"), wantPurge: true, wantErr: true, wantSkip: true},
		{name: "visible course", task: purgeTask(t, 1), purgeErr: edustream.Errorf(edustream.ECONFLICT, "course is visible"), wantPurge: true, wantErr: true, wantSkip: true},
		{name: "wrapped conflict", task: purgeTask(t, 1), purgeErr: fmt.Errorf("tx: %w", edustream.Errorf(edustream.ECONFLICT, "course is visible")), wantPurge: true, wantErr: true, wantSkip: true},
		{name: "internal", task: purgeTask(t, 1), purgeErr: edustream.Errorf(edustream.EINTERNAL, "oops"), wantPurge: true, wantErr: true},
		{name: "database down", task: purgeTask(t, 1), purgeErr: errors.New("dial tcp: connection refused"), wantPurge: true, wantErr: true},
		{name: "timeout", task: purgeTask(t, 1), purgeErr: context.DeadlineExceeded, wantPurge: true, wantErr: true},
		{name: "payload not JSON", task: asynq.NewTask(TypeCoursePurge, []byte("{")), wantErr: true, wantSkip: true},
		{name: "payload wrong type", task: asynq.NewTask(TypeCoursePurge, []byte(`{"course_id":"1"}`)), wantErr: true, wantSkip: true},
		{name: "payload without id", task: asynq.NewTask(TypeCoursePurge, []byte(`{}`)), wantErr: true, wantSkip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			courses := &fakeCourses{purgeErr: map[int64]error{1: tt.purgeErr}}
			logger, _ := newTestLogger()
			err := newMux(&Deps{Courses: courses, Logger: logger}).ProcessTask(context.Background(), tt.task)

			if got := len(courses.purges()) > 0; got != tt.wantPurge {
				t.Errorf("PurgeCourse called = %v, want %v", got, tt.wantPurge)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := errors.Is(err, asynq.SkipRetry); got != tt.wantSkip {
				t.Errorf("errors.Is(%v, SkipRetry) = %v, want %v", err, got, tt.wantSkip)
			}
			if tt.purgeErr != nil && !errors.Is(err, tt.purgeErr) {
				t.Errorf("err = %v does not wrap the store's error %v", err, tt.purgeErr)
			}
		})
	}
}

func TestLogTasks(t *testing.T) {
	t.Parallel()
	logger, logs := newTestLogger()
	mux := newMux(&Deps{Courses: &fakeCourses{}, Logger: logger})
	mux.HandleFunc("test:ok", func(ctx context.Context, _ *asynq.Task) error {
		edustream.Logger(ctx).Info("from the handler")
		return nil
	})
	mux.HandleFunc("test:fail", func(context.Context, *asynq.Task) error {
		return errors.New("boom")
	})
	ctx := context.Background()

	if err := mux.ProcessTask(ctx, asynq.NewTask("test:ok", nil)); err != nil {
		t.Fatal(err)
	}
	if err := mux.ProcessTask(ctx, asynq.NewTask("test:fail", nil)); err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v, want boom unchanged", err)
	}

	inner := logs.Records(t, "from the handler")
	if len(inner) != 1 || inner[0]["task_type"] != "test:ok" {
		t.Errorf("handler's line = %v, want one line with task_type test:ok", inner)
	}
	done := logs.Records(t, "task done")
	if len(done) != 1 {
		t.Fatalf("task done lines = %v, want 1", done)
	}
	for _, key := range []string{"task_id", "task_type", "queue", "retried", "max_retry", "duration"} {
		if _, ok := done[0][key]; !ok {
			t.Errorf("task done line has no %q: %v", key, done[0])
		}
	}
	if done[0]["level"] != "INFO" || done[0]["task_type"] != "test:ok" {
		t.Errorf("task done line = %v", done[0])
	}
	failed := logs.Records(t, "task failed")
	if len(failed) != 1 || failed[0]["error"] != "boom" || failed[0]["task_type"] != "test:fail" {
		t.Errorf("task failed lines = %v, want one with error boom", failed)
	}
}

func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	logger, logs := newTestLogger()
	mux := newMux(&Deps{Courses: &fakeCourses{}, Logger: logger})
	mux.HandleFunc("test:panic", panickingHandler)

	err := mux.ProcessTask(context.Background(), asynq.NewTask("test:panic", nil))
	if !errors.Is(err, errPanic) || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("err = %v, want a panic error naming the panic", err)
	}
	if errors.Is(err, asynq.SkipRetry) {
		t.Error("a panic must be retried, got SkipRetry")
	}
	panicked := logs.Records(t, "task panicked")
	if len(panicked) != 1 {
		t.Fatalf("task panicked lines = %v, want 1", panicked)
	}
	if stack, _ := panicked[0]["stack"].(string); !strings.Contains(stack, "panickingHandler") {
		t.Errorf("stack does not show the panicking function:\n%s", stack)
	}
	if panicked[0]["task_type"] != "test:panic" {
		t.Errorf("task panicked line has no task_type: %v", panicked[0])
	}
	if failed := logs.Records(t, "task failed"); len(failed) != 1 || !strings.Contains(failed[0]["error"].(string), "panicked") {
		t.Errorf("task failed lines = %v, want one reporting the panic", failed)
	}
}

func panickingHandler(context.Context, *asynq.Task) error {
	var m map[string]int
	m["x"]++ // a runtime panic, like a real bug
	return nil
}
