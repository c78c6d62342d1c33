package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testsignal"
)

// reconcileRoundTimeout bounds one round, so a hung database query cannot
// stop the reconcilers for good; the next tick tries again.
const reconcileRoundTimeout = 2 * time.Minute

// A reconciler re-enqueues from the database the work that Redis should hold.
//
// Why they exist: the database is the truth and Redis is transport. Redis may
// restart empty (in dev it is an in-memory miniredis that every restart
// loses), the API may write a row and then fail to reach Redis, and asynq
// archives a task whose retries ran out. Each task family adds a reconciler
// that asks the database what is unfinished and enqueues all of it; the
// deterministic task ids collapse what is already queued. Every worker runs
// them; that costs a few indexed queries per interval per worker and needs no
// leader election.
type reconciler struct {
	name string
	// reconcile enqueues what is missing and returns how many tasks it
	// queued that were not queued yet. It stops at the first enqueue error:
	// Redis being down fails them all, and one line says so better than a
	// thousand.
	reconcile func(ctx context.Context) (queued int, err error)
}

// reconcilers is the list every task family adds to.
func (w *Worker) reconcilers() []reconciler {
	return []reconciler{
		{"course purges", w.reconcileCoursePurges},
		{"video chains", w.reconcileVideoChains},
		{"expired uploads", w.reconcileExpiredUploads},
		{"replaced videos", w.reconcileReplacedVideos},
		{"pending meeting deletes", w.reconcileMeetingDeletes},
		{"live meetings", w.reconcileLiveMeetings},
		{"transcoder jobs", w.reconcileTranscoderJobs},
	}
}

// reconcilerLoop runs the reconcilers at once, then every interval and
// whenever something happened that may have lost tasks (trigger), until ctx
// is done. Failures are logged, not returned: the next round is the retry.
type reconcilerLoop struct {
	reconcilers []reconciler
	logger      *slog.Logger
	interval    time.Duration
	// signal hears of every round (WorkerTestSignals.ReconcileRound).
	signal *testsignal.Signal[ReconcileRound]
	// triggers holds the reason of a round asked for and not run yet
	// (one: asking again before it runs changes nothing).
	triggers chan string
}

// trigger asks for a round as soon as the current one, if any, is done.
func (r *reconcilerLoop) trigger(reason string) {
	select {
	case r.triggers <- reason:
	default:
	}
}

func (r *reconcilerLoop) run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	trigger := "start"
	for {
		round := ReconcileRound{Trigger: trigger}
		for _, rec := range r.reconcilers {
			queued, err := r.reconcile(ctx, rec)
			round.Queued += queued
			if err != nil {
				round.Failed = append(round.Failed, rec.name)
			}
		}
		r.signal.Signal(round)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			trigger = "interval"
		case trigger = <-r.triggers:
			t.Reset(r.interval)
		}
	}
}

// reconcile runs one reconciler, logs what came of it and returns it.
func (r *reconcilerLoop) reconcile(ctx context.Context, rec reconciler) (queued int, err error) {
	ctx, cancel := context.WithTimeout(ctx, reconcileRoundTimeout)
	defer cancel()
	queued, err = rec.reconcile(ctx)
	switch {
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		// Shutting down; not worth a warning.
	case err != nil:
		r.logger.LogAttrs(ctx, slog.LevelWarn, "reconcile failed", slog.String("reconciler", rec.name),
			slog.Int("queued", queued), slog.String("error", err.Error()))
	case queued > 0:
		// Work the database wanted but Redis did not have: worth knowing.
		r.logger.LogAttrs(ctx, slog.LevelInfo, "reconciler queued missing tasks", slog.String("reconciler", rec.name),
			slog.Int("queued", queued))
	}
	return queued, err
}

// enqueueAll enqueues the task of tt for each payload and counts the new ones.
func enqueueAll[P any](ctx context.Context, e *enqueuer, tt taskType[P], payloads []P) (queued int, err error) {
	for i, p := range payloads {
		added, err := enqueue(ctx, e, tt, p)
		if err != nil {
			return queued, fmt.Errorf("%s (%d of %d done): %w", tt.id(p), i, len(payloads), err)
		}
		if added {
			queued++
		}
	}
	return queued, nil
}

// reconcileCoursePurges enqueues a purge for every hidden course.
func (w *Worker) reconcileCoursePurges(ctx context.Context) (int, error) {
	ids, err := w.deps.Courses.FindHiddenCourseIDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("find hidden courses: %w", err)
	}
	payloads := make([]CoursePurgePayload, len(ids))
	for i, id := range ids {
		payloads[i] = CoursePurgePayload{CourseID: id}
	}
	return enqueueAll(ctx, w.enq, coursePurge, payloads)
}

// reconcileVideoChains enqueues the current step of every video the chain
// still owes work and that has not moved for StuckAfter. A step whose task
// is queued, running or retrying has the same task id, so only lost tasks
// are added. A video handed to an external transcoder is not: its job's
// reports move it on, and reconcileTranscoderJobs asks about silent ones.
func (w *Worker) reconcileVideoChains(ctx context.Context) (int, error) {
	if w.deps.Videos == nil {
		return 0, nil
	}
	videos, err := w.deps.Videos.FindUnfinishedVideos(ctx, w.deps.Now().Add(-w.cfg.StuckAfter))
	if err != nil {
		return 0, fmt.Errorf("find unfinished videos: %w", err)
	}
	queued := 0
	for _, v := range videos {
		stage, ok := v.PendingStage()
		if !ok {
			continue
		}
		added, err := enqueueVideoStage(ctx, w.enq, v, stage)
		if err != nil {
			return queued, fmt.Errorf("video %d at %s: %w", v.ID, stage, err)
		}
		if added {
			queued++
		}
	}
	return queued, nil
}

// reconcileExpiredUploads enqueues the abort of every upload whose time ran
// out, so storage does not fill with orphaned parts.
func (w *Worker) reconcileExpiredUploads(ctx context.Context) (int, error) {
	if w.deps.Videos == nil {
		return 0, nil
	}
	videos, err := w.deps.Videos.FindExpiredUploads(ctx, w.deps.Now())
	if err != nil {
		return 0, fmt.Errorf("find expired uploads: %w", err)
	}
	return enqueueAll(ctx, w.enq, uploadExpire, videoPayloads(videos))
}

// reconcileReplacedVideos enqueues the cleanup of every replaced video.
func (w *Worker) reconcileReplacedVideos(ctx context.Context) (int, error) {
	if w.deps.Videos == nil {
		return 0, nil
	}
	videos, err := w.deps.Videos.FindReplacedVideos(ctx)
	if err != nil {
		return 0, fmt.Errorf("find replaced videos: %w", err)
	}
	return enqueueAll(ctx, w.enq, videoCleanup, videoPayloads(videos))
}

func videoPayloads(videos []*edustream.Video) []VideoPayload {
	out := make([]VideoPayload, len(videos))
	for i, v := range videos {
		out[i] = VideoPayload{VideoID: v.ID}
	}
	return out
}
