package jobs

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// redisOpt returns the connection option of a Redis database this test has to
// itself (miniredis unless EDUSTREAM_TEST_REDIS_URL is set).
func redisOpt(t testing.TB) asynq.RedisConnOpt {
	t.Helper()
	opt, err := asynq.ParseRedisURI(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// unreachableRedis returns the option of an address where nothing listens.
func unreachableRedis(t *testing.T) asynq.RedisConnOpt {
	t.Helper()
	return asynq.RedisClientOpt{Addr: testenv.ClosedAddr(t), DialTimeout: time.Second}
}

func newInspector(t *testing.T, opt asynq.RedisConnOpt) *asynq.Inspector {
	t.Helper()
	i := asynq.NewInspector(opt)
	t.Cleanup(func() { i.Close() })
	return i
}

// pendingTaskIDs returns the ids of the tasks waiting in the default queue,
// sorted.
func pendingTaskIDs(t *testing.T, opt asynq.RedisConnOpt) []string {
	t.Helper()
	pending, err := newInspector(t, opt).ListPendingTasks(QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pending {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids
}

// clientOf returns a go-redis client for opt, closed when the test ends.
func clientOf(t testing.TB, opt asynq.RedisConnOpt) redis.UniversalClient {
	t.Helper()
	c := opt.MakeRedisClient().(redis.UniversalClient)
	t.Cleanup(func() { c.Close() })
	return c
}

func newTestQueue(t *testing.T, opt asynq.RedisConnOpt) *Queue {
	t.Helper()
	return NewQueue(clientOf(t, opt))
}

// runningWorker is a Worker.Run in a goroutine.
type runningWorker struct {
	// cancel cancels Run's context and returns at once.
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels Run, waits (bounded) for it to return and returns its error.
func (r *runningWorker) stop() error {
	r.cancel()
	r.once.Do(func() {
		select {
		case r.err = <-r.done:
		case <-time.After(testenv.WaitLimit):
			r.err = errors.New("Worker.Run did not return after its context was cancelled")
		}
	})
	return r.err
}

// runWorker runs w until the test ends or stop is called.
func runWorker(t *testing.T, w *Worker) *runningWorker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningWorker{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Worker.Run: %v", err)
		}
	})
	return r
}

func newTestLogger() (*slog.Logger, *testenv.LogBuffer) {
	b := &testenv.LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// fakeCourses is a CourseService that records purges. Methods the jobs
// package must not call are left nil and panic.
type fakeCourses struct {
	edustream.CourseService

	mu        sync.Mutex
	purgeErr  map[int64]error
	purged    []int64
	hidden    []int64
	hiddenErr error
}

func (f *fakeCourses) PurgeCourse(ctx context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purged = append(f.purged, id)
	if err := f.purgeErr[id]; err != nil {
		return err
	}
	f.hidden = slices.DeleteFunc(f.hidden, func(h int64) bool { return h == id })
	return nil
}

func (f *fakeCourses) FindHiddenCourseIDs(ctx context.Context) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.hidden), f.hiddenErr
}

func (f *fakeCourses) purges() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.purged)
}
