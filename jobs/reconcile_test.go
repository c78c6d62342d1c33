package jobs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream/internal/testenv"
)

// newTestReconciler returns the course purge reconciler of a worker on the
// Redis of opt.
func newTestReconciler(t *testing.T, opt asynq.RedisConnOpt, courses *fakeCourses) reconciler {
	t.Helper()
	cfg, _ := testConfig(t)
	return cfg.worker(t, opt, courses).reconcilers()[0]
}

func TestReconcileEnqueuesHiddenCourses(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	r := newTestReconciler(t, opt, &fakeCourses{hidden: []int64{3, 5}})
	ctx := context.Background()

	queued, err := r.reconcile(ctx)
	if err != nil || queued != 2 {
		t.Fatalf("first reconcile = %d, %v; want 2, nil", queued, err)
	}
	// What is queued already collapses.
	queued, err = r.reconcile(ctx)
	if err != nil || queued != 0 {
		t.Fatalf("second reconcile = %d, %v; want 0, nil", queued, err)
	}
	ids := pendingTaskIDs(t, opt)
	if want := []string{"course:purge:3", "course:purge:5"}; !slices.Equal(ids, want) {
		t.Errorf("pending = %v, want %v", ids, want)
	}
}

func TestReconcileReportsDatabaseErrors(t *testing.T) {
	t.Parallel()
	dbErr := errors.New("database is down")
	r := newTestReconciler(t, redisOpt(t), &fakeCourses{hiddenErr: dbErr})
	if _, err := r.reconcile(context.Background()); !errors.Is(err, dbErr) {
		t.Fatalf("reconcile = %v, want %v", err, dbErr)
	}
}

func TestReconcileReportsRedisErrors(t *testing.T) {
	t.Parallel()
	r := newTestReconciler(t, unreachableRedis(t), &fakeCourses{hidden: []int64{1, 2}})
	queued, err := r.reconcile(context.Background())
	if err == nil || !strings.Contains(err.Error(), "course:purge:1") || queued != 0 {
		t.Fatalf("reconcile = %d, %v; want 0 and an error about course:purge:1", queued, err)
	}
}

// Redis starts empty but the database has a hidden course: the worker purges
// it without anyone enqueueing, and keeps doing so for courses hidden later.
func TestWorkerReconcilesAtStartAndPeriodically(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	cfg, logs := testConfig(t)
	cfg.ReconcileInterval = 50 * time.Millisecond
	courses := &fakeCourses{hidden: []int64{8}}
	w := cfg.worker(t, opt, courses)
	w.TestSignals.Init()
	runWorker(t, w)

	if first := w.TestSignals.ReconcileRound.WaitOrTimeout(t); first.Queued != 1 || len(first.Failed) != 0 {
		t.Errorf("the first round = %+v, want the purge of course 8 queued and no failure", first)
	}
	// The round logs before it signals.
	if lines := logs.Records(t, "reconciler queued missing tasks"); len(lines) == 0 || lines[0]["component"] != "reconciler" {
		t.Errorf("reconciler lines = %v, want one saying it queued work", lines)
	}
	testenv.Eventually(t, "the purge of course 8", func() bool { return slices.Contains(courses.purges(), 8) })

	courses.mu.Lock()
	courses.hidden = append(courses.hidden, 9)
	courses.mu.Unlock()
	testenv.Eventually(t, "the purge of course 9", func() bool { return slices.Contains(courses.purges(), 9) })
}
