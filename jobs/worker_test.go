package jobs

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// workerSetup is what a test tunes before it builds a worker.
type workerSetup struct {
	WorkerConfig
	logger *slog.Logger
}

// testConfig is a worker that notices new tasks quickly and, unless a test
// turns it on, has no reconciler.
func testConfig(t *testing.T) (workerSetup, *testenv.LogBuffer) {
	logger, logs := newTestLogger()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", logs)
		}
	})
	return workerSetup{WorkerConfig: WorkerConfig{
		Concurrency:       map[string]int{QueueDefault: 2, QueueVideo: 1},
		PollInterval:      20 * time.Millisecond,
		ShutdownTimeout:   time.Second,
		ReconcileInterval: -1,
	}, logger: logger}, logs
}

// worker returns a worker on the Redis of opt with the courses service.
func (s workerSetup) worker(t *testing.T, opt asynq.RedisConnOpt, courses edustream.CourseService) *Worker {
	t.Helper()
	return NewWorker(clientOf(t, opt), s.WorkerConfig, Deps{Courses: courses, Logger: s.logger})
}

func TestWorkerRunFailsWithoutRedis(t *testing.T) {
	t.Parallel()
	cfg, _ := testConfig(t)
	w := cfg.worker(t, unreachableRedis(t), &fakeCourses{})
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	err := w.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Run = %v, want an error saying Redis is unreachable", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run waited for its context instead of failing")
	}
}

func TestWorkerPurgesEnqueuedCourse(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	cfg, logs := testConfig(t)
	courses := &fakeCourses{hidden: []int64{3}}
	run := runWorker(t, cfg.worker(t, opt, courses))

	if err := newTestQueue(t, opt).EnqueueCoursePurge(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the purge of course 3", func() bool { return slices.Contains(courses.purges(), 3) })
	if err := run.stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	done := logs.Records(t, "task done")
	if len(done) != 1 || done[0]["task_id"] != "course:purge:3" || done[0]["task_type"] != TypeCoursePurge || done[0]["queue"] != QueueDefault {
		t.Errorf("task done lines = %v, want one for course:purge:3", done)
	}
}

// A domain code that means "never" archives the task at once instead of
// retrying it.
func TestWorkerArchivesPurgeOfVisibleCourse(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	cfg, logs := testConfig(t)
	courses := &fakeCourses{purgeErr: map[int64]error{4: edustream.Errorf(edustream.ECONFLICT, "course 4 is visible")}}
	runWorker(t, cfg.worker(t, opt, courses))

	if err := newTestQueue(t, opt).EnqueueCoursePurge(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	ins := newInspector(t, opt)
	var info *asynq.TaskInfo
	testenv.Eventually(t, "course:purge:4 to be archived", func() bool {
		var err error
		info, err = ins.GetTaskInfo(QueueDefault, "course:purge:4")
		return err == nil && info.State == asynq.TaskStateArchived
	})
	if info.Retried != 0 || !strings.Contains(info.LastErr, "visible") {
		t.Errorf("archived task: retried %d, last error %q; want 0 retries and the conflict", info.Retried, info.LastErr)
	}
	failed := logs.Records(t, "task failed")
	if len(failed) != 1 || failed[0]["will_retry"] != false || failed[0]["level"] != "ERROR" {
		t.Errorf("task failed lines = %v, want one error line with will_retry=false", failed)
	}
	// asynq's own lines come through slog, at warn and above only.
	if lines := logs.Records(t, "Retry exhausted for task id=course:purge:4"); len(lines) != 1 || lines[0]["component"] != "asynq" || lines[0]["level"] != "WARN" {
		t.Errorf("asynq's archive warning = %v, want one WARN line with component=asynq", lines)
	}
	if lines := logs.Records(t, "Starting processing"); len(lines) != 0 {
		t.Errorf("asynq's info lines reach the log: %v", lines)
	}
	if lines := logs.Records(t, "jobs worker started"); len(lines) != 1 {
		t.Errorf("jobs worker started lines = %v, want 1", lines)
	}
}

func TestWorkerRecoversPanics(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	cfg, logs := testConfig(t)
	w := cfg.worker(t, opt, &fakeCourses{})
	w.mux.HandleFunc("test:panic", panickingHandler)
	ran := make(chan struct{})
	w.mux.HandleFunc("test:after", func(context.Context, *asynq.Task) error {
		close(ran)
		return nil
	})
	runWorker(t, w)

	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("test:panic", nil), asynq.TaskID("p1"), asynq.MaxRetry(0)); err != nil {
		t.Fatal(err)
	}
	ins := newInspector(t, opt)
	testenv.Eventually(t, "the panicking task to be archived", func() bool {
		info, err := ins.GetTaskInfo(QueueDefault, "p1")
		return err == nil && info.State == asynq.TaskStateArchived
	})

	panicked := logs.Records(t, "task panicked")
	if len(panicked) != 1 || panicked[0]["task_id"] != "p1" || !strings.Contains(panicked[0]["stack"].(string), "panickingHandler") {
		t.Errorf("task panicked lines = %v, want one for p1 with the stack", panicked)
	}
	failed := logs.Records(t, "task failed")
	if len(failed) != 1 || failed[0]["task_id"] != "p1" || !strings.Contains(failed[0]["error"].(string), "nil map") {
		t.Errorf("task failed lines = %v, want one for p1 naming the panic", failed)
	}

	// The worker goes on working.
	if _, err := client.Enqueue(asynq.NewTask("test:after", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(testenv.WaitLimit):
		t.Fatal("the worker did not run a task after a panic")
	}
}

// Cancelling Run's context must not cancel the tasks that are running: they
// get ShutdownTimeout to finish.
func TestWorkerShutdownLetsRunningTasksFinish(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	cfg, _ := testConfig(t)
	cfg.ShutdownTimeout = testenv.WaitLimit
	w := cfg.worker(t, opt, &fakeCourses{})
	started, release := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	w.mux.HandleFunc("test:slow", func(ctx context.Context, _ *asynq.Task) error {
		close(started)
		select {
		case <-ctx.Done():
			result <- ctx.Err()
			return ctx.Err()
		case <-release:
			result <- nil
			return nil
		}
	})
	run := runWorker(t, w)

	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("test:slow", nil), asynq.TaskID("slow")); err != nil {
		t.Fatal(err)
	}
	<-started
	run.cancel()
	// Run's context is cancelled now; a handler whose context derived from
	// it would see ctx.Done before release.
	close(release)
	if err := run.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := <-result; err != nil {
		t.Errorf("the running task saw %v during a graceful shutdown", err)
	}
	if _, err := newInspector(t, opt).GetTaskInfo(QueueDefault, "slow"); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("GetTaskInfo after completion = %v, want ErrTaskNotFound", err)
	}
}

// A task still running when ShutdownTimeout runs out goes back to the queue
// for another worker.
func TestWorkerShutdownRequeuesUnfinishedTasks(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	cfg, _ := testConfig(t)
	cfg.ShutdownTimeout = time.Second
	w := cfg.worker(t, opt, &fakeCourses{})
	started := make(chan struct{})
	w.mux.HandleFunc("test:stuck", func(ctx context.Context, _ *asynq.Task) error {
		close(started)
		<-ctx.Done() // asynq cancels it once the shutdown timeout is over
		return ctx.Err()
	})
	run := runWorker(t, w)

	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("test:stuck", nil), asynq.TaskID("stuck")); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := run.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	info, err := newInspector(t, opt).GetTaskInfo(QueueDefault, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending || info.Retried != 0 {
		t.Errorf("after shutdown: state %v, retried %d; want pending, 0", info.State, info.Retried)
	}
}

func TestWorkerRunsOnce(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	cfg, _ := testConfig(t)
	w := cfg.worker(t, opt, &fakeCourses{})
	ran := make(chan struct{})
	w.mux.HandleFunc("test:noop", func(context.Context, *asynq.Task) error {
		close(ran)
		return nil
	})
	runWorker(t, w)
	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("test:noop", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran: // the first Run is surely running
	case <-time.After(testenv.WaitLimit):
		t.Fatal("the worker ran no task")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	if err := w.Run(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("a second Run = %v, want an error at once", err)
	}
}
