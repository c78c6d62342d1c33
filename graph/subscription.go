package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/edustream/edustream"
)

// queuePositionEvery bounds how often one subscription re-reads its place
// in the video queue: every queue move on the fleet would otherwise cost
// every waiting subscriber a Redis scan.
const queuePositionEvery = time.Second

// encodingProgress follows a lecture's newest video: the state in the
// database first, then every change the workers publish. Events travel
// through the event service, so the worker and this API instance may be
// different processes; out-of-order and stale events are dropped
// (EncodingEvent.Newer), and after a lost connection the database is read
// again.
func (r *Resolver) encodingProgress(ctx context.Context, lectureID int64) (<-chan *edustream.EncodingEvent, error) {
	if edustream.UserFromContext(ctx) == nil {
		return nil, errUnauthenticated()
	}
	a, err := r.accessToLecture(ctx, lectureID)
	if err != nil {
		return nil, err
	}
	if !a.watch {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "only the course's instructor, admins and enrolled students may follow lecture %d", lectureID)
	}
	if r.Events == nil {
		return nil, edustream.Errorf(edustream.EINTERNAL, "events are not configured")
	}
	// Subscribe before reading the state: an event published in between is
	// then delivered, and dropped if the state read already covers it.
	progress, err := r.Events.Subscribe(ctx, edustream.EncodingTopic(lectureID))
	if err != nil {
		return nil, err
	}
	queue, err := r.Events.Subscribe(ctx, edustream.VideoQueueTopic)
	if err != nil {
		return nil, err
	}
	f := &follower{r: r, lectureID: lectureID, out: make(chan *edustream.EncodingEvent, 1)}
	first, err := f.current(ctx)
	if err != nil {
		return nil, err
	}
	go f.run(ctx, first, progress.C, queue.C)
	return f.out, nil
}

// follower is one encodingProgress subscription.
type follower struct {
	r         *Resolver
	lectureID int64
	out       chan *edustream.EncodingEvent
	last      *edustream.EncodingEvent
	// lastQueueCheck throttles queue position reads.
	lastQueueCheck time.Time
}

func (f *follower) run(ctx context.Context, first *edustream.EncodingEvent, progress, queue <-chan edustream.Event) {
	defer close(f.out)
	if !f.send(ctx, first) {
		return
	}
	var recheck <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-progress:
			if !ok {
				return
			}
			var next *edustream.EncodingEvent
			if e.Resync {
				var err error
				if next, err = f.current(ctx); err != nil {
					edustream.Logger(ctx).Warn("resync encoding progress", slog.String("error", err.Error()))
					continue
				}
			} else if e.Encoding != nil {
				next = e.Encoding
			}
			if next == nil || !next.Newer(f.last) {
				continue
			}
			if next.VideoID != f.last.VideoID || next.Version != f.last.Version {
				// A change of state is when access may have changed too
				// (the course unpublished or deleted): ask again, with
				// fresh loaders, since this context's are as old as the
				// subscription.
				fresh := withLoaders(ctx, newLoaders(f.r, edustream.UserFromContext(ctx)))
				if a, err := f.r.accessToLecture(fresh, f.lectureID); err != nil || !a.watch {
					return
				}
			}
			if !f.send(ctx, next) {
				return
			}
		case _, ok := <-queue:
			if !ok {
				return
			}
			if !f.waiting() {
				continue
			}
			if wait := queuePositionEvery - time.Since(f.lastQueueCheck); wait > 0 {
				// Coalesce a burst of moves into one read.
				if recheck == nil {
					recheck = time.After(wait)
				}
				continue
			}
			if !f.sendQueuePosition(ctx) {
				return
			}
		case <-recheck:
			recheck = nil
			if f.waiting() && !f.sendQueuePosition(ctx) {
				return
			}
		}
	}
}

// waiting reports whether the video waits for a worker.
func (f *follower) waiting() bool {
	return f.last != nil && f.last.VideoID != 0 && f.last.Status == edustream.VideoUploaded
}

// sendQueuePosition sends the last event again with the current queue
// position, if it changed.
func (f *follower) sendQueuePosition(ctx context.Context) bool {
	e := *f.last
	e.QueuePosition = f.queuePosition(ctx, e.VideoID)
	e.At = time.Now()
	if !e.Newer(f.last) {
		return true
	}
	return f.send(ctx, &e)
}

func (f *follower) send(ctx context.Context, e *edustream.EncodingEvent) bool {
	select {
	case f.out <- e:
		f.last = e
		return true
	case <-ctx.Done():
		return false
	}
}

// current reads the lecture's newest video from the primary (a replica's
// lag would show a state older than the events that follow).
func (f *follower) current(ctx context.Context) (*edustream.EncodingEvent, error) {
	ctx = edustream.NewContextReadingPrimary(ctx)
	latest, err := f.r.VideoService.FindLatestVideosByLectureIDs(ctx, []int64{f.lectureID})
	if err != nil {
		return nil, err
	}
	v := latest[f.lectureID]
	if v == nil {
		return &edustream.EncodingEvent{
			LectureID: f.lectureID,
			Status:    edustream.VideoAwaitingUpload,
			Stage:     edustream.StageUpload,
			Message:   "no video uploaded yet",
			At:        time.Now(),
		}, nil
	}
	e := edustream.EncodingEventOf(v, time.Now())
	if v.Status == edustream.VideoUploaded {
		e.QueuePosition = f.queuePosition(ctx, v.ID)
	}
	return e, nil
}

// queuePosition returns the video's place in the video queue, or nil when it
// is not waiting there (its next step runs on another queue, or has begun).
func (f *follower) queuePosition(ctx context.Context, videoID int64) *int {
	f.lastQueueCheck = time.Now()
	pos, waiting, err := f.r.JobQueue.VideoQueuePosition(ctx, videoID)
	if err != nil {
		edustream.Logger(ctx).Warn("read the video queue", slog.String("error", err.Error()))
		return nil
	}
	if !waiting {
		return nil
	}
	return &pos
}
