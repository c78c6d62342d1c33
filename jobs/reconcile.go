package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edustream/edustream"
)

// reconcileRoundTimeout bounds one round, so a hung database query cannot
// stop the reconciler for good; the next tick tries again.
const reconcileRoundTimeout = 2 * time.Minute

// reconciler re-enqueues from the database the work that Redis should hold.
//
// Why it exists: the database is the truth and Redis is transport. Redis may
// restart empty (in dev it is an in-memory miniredis that every restart
// loses), the API may hide a course and then fail to reach Redis, and asynq
// archives a task whose retries ran out. In each case a course stays hidden
// but is never purged. The reconciler closes that gap without any bookkeeping
// of its own: it asks the database what is unfinished and enqueues all of it,
// and the deterministic task ids collapse what is already queued. Every
// worker runs one; that costs one indexed query per interval per worker and
// needs no leader election.
type reconciler struct {
	courses  edustream.CourseService
	enq      *enqueuer
	logger   *slog.Logger
	interval time.Duration
}

// run reconciles at once, then every interval until ctx is done. Failures
// are logged, not returned: the next round is the retry.
func (r *reconciler) run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *reconciler) round(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, reconcileRoundTimeout)
	defer cancel()
	queued, err := r.reconcile(ctx)
	switch {
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		// Shutting down; not worth a warning.
	case err != nil:
		r.logger.LogAttrs(ctx, slog.LevelWarn, "reconcile failed", slog.Int("queued", queued), slog.String("error", err.Error()))
	case queued > 0:
		// Work the database wanted but Redis did not have: worth knowing.
		r.logger.LogAttrs(ctx, slog.LevelInfo, "reconciler queued missing tasks", slog.Int("queued", queued))
	}
}

// reconcile enqueues a purge for every hidden course and returns how many of
// them were not queued yet. It stops at the first enqueue error: Redis being
// down fails them all, and one line says so better than a thousand.
func (r *reconciler) reconcile(ctx context.Context) (queued int, err error) {
	ids, err := r.courses.FindHiddenCourseIDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("find hidden courses: %w", err)
	}
	for i, id := range ids {
		added, err := r.enq.coursePurge(ctx, id)
		if err != nil {
			return queued, fmt.Errorf("enqueue purge of course %d (%d of %d done): %w", id, i, len(ids), err)
		}
		if added {
			queued++
		}
	}
	return queued, nil
}
