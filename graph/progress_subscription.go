package graph

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
)

// progressFollowerBuffer is how many updates a subscriber's websocket may
// fall behind before the sender waits for it. Completions are rare: a
// handful per lecture watched.
const progressFollowerBuffer = 8

// myProgressUpdated follows the caller's progress in a course: the course
// progress as it stands first, then every completion edustream.Progress
// announces on the caller's own topic (from whichever instance recorded
// the beat), carrying the state it left. After a lost connection
// (Resync) the progress is read again and sent as CURRENT.
//
// Like the other subscriptions, an idle one holds no goroutine: events
// arrive on the event service's delivery goroutine, which only queues
// them; a short-lived goroutine sends what is queued, then exits.
func (r *Resolver) myProgressUpdated(ctx context.Context, courseID int64) (<-chan *edustream.ProgressEvent, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	check := withFreshLoaders(ctx, r)
	c, err := r.visibleCourse(check, courseID)
	if err != nil {
		return nil, err
	}
	e, err := loadersFrom(check).enrollmentLoader().Load(check, courseID)
	if err != nil {
		return nil, err
	}
	if !edustream.CanWatchLecture(u, c, e != nil) {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "only the course's enrolled students, its instructor and admins have progress in course %d", courseID)
	}
	if r.Progress == nil || r.Events == nil {
		return nil, errProgressOff()
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &progressFollower{r: r, ctx: ctx, cancel: cancel, userID: u.ID, courseID: courseID,
		out: make(chan *edustream.ProgressEvent, progressFollowerBuffer), notify: gqlhttp.SubscriptionNotifier(ctx), holding: true}
	// Subscribe before reading: a completion in between is queued behind
	// the state read.
	if err := r.Events.SubscribeFunc(ctx, edustream.ProgressTopic(u.ID, courseID), f.onEvent); err != nil {
		cancel()
		return nil, err
	}
	first, err := f.current()
	if err != nil {
		cancel()
		return nil, err
	}
	f.mu.Lock()
	// The state read is no event: it gets no outcome on TestSignals.
	f.pending = append([]queuedUpdate{{e: first}}, f.pending...)
	f.holding = false
	f.startLocked()
	f.mu.Unlock()
	context.AfterFunc(ctx, f.close)
	r.TestSignals.Subscribed.Signal(Subscription{Field: "myProgressUpdated", ID: courseID})
	return f.out, nil
}

// queuedUpdate is an update waiting to be sent; event says it answers
// an event (a completion, a resync), which gets an outcome on
// TestSignals.Handled once sent or dropped.
type queuedUpdate struct {
	e     *edustream.ProgressEvent
	event bool
}

// progressFollower is one myProgressUpdated subscription. The fields
// below mu are guarded by it.
type progressFollower struct {
	r                *Resolver
	ctx              context.Context
	cancel           context.CancelFunc
	userID, courseID int64
	out              chan *edustream.ProgressEvent
	// notify tells the websocket that out holds an update, or closed
	// (gqlhttp.SubscriptionNotifier).
	notify func()

	mu sync.Mutex
	// pending are the updates to send, in order; holding says the first
	// (the state read) is not in yet.
	pending []queuedUpdate
	holding bool
	// resync says the progress must be read again and sent.
	resync bool
	// sending says a goroutine sends; it owns out then.
	sending   bool
	closed    bool
	outClosed bool
}

// onEvent runs on the event service's delivery goroutine and must not
// block.
func (f *progressFollower) onEvent(e edustream.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch p := e.Progress; {
	case f.closed:
		f.r.TestSignals.Handled.Signal(EventDropped)
		return
	case e.Resync:
		f.resync = true
	case p != nil && p.UserID == f.userID && p.CourseProgress != nil && p.CourseProgress.CourseID == f.courseID:
		f.pending = append(f.pending, queuedUpdate{e: p, event: true})
	default:
		f.r.TestSignals.Handled.Signal(EventDropped)
		return
	}
	if !f.holding {
		f.startLocked()
	}
}

// startLocked starts the sender unless it runs. Called with mu held.
func (f *progressFollower) startLocked() {
	if !f.sending && !f.closed {
		f.sending = true
		go f.send()
	}
}

// send sends what is pending until nothing is, then exits.
func (f *progressFollower) send() {
	for {
		f.mu.Lock()
		if f.closed || (len(f.pending) == 0 && !f.resync) {
			f.sending = false
			if f.closed {
				f.closeOutLocked()
			}
			f.mu.Unlock()
			return
		}
		batch, resync := f.pending, f.resync
		f.pending, f.resync = nil, false
		f.mu.Unlock()

		if resync {
			cur, err := f.current()
			if err != nil {
				edustream.Logger(f.ctx).Warn("read the progress again after a lost connection", slog.Int64("course_id", f.courseID), slog.String("error", err.Error()))
				f.r.TestSignals.Handled.Signal(EventDropped)
			} else {
				batch = append(batch, queuedUpdate{e: cur, event: true})
			}
		}
		for _, q := range batch {
			outcome := EventSent
			select {
			case f.out <- q.e:
				f.notify()
			case <-f.ctx.Done():
				outcome = EventDropped
			}
			if q.event {
				f.r.TestSignals.Handled.Signal(outcome)
			}
		}
	}
}

// current reads the course progress from the primary, as CURRENT.
func (f *progressFollower) current() (*edustream.ProgressEvent, error) {
	m, err := f.r.Progress.Store.FindCourseProgress(edustream.NewContextReadingPrimary(f.ctx), f.userID, []int64{f.courseID})
	if err != nil {
		return nil, err
	}
	return &edustream.ProgressEvent{Kind: edustream.ProgressCurrent, UserID: f.userID, CourseProgress: m[f.courseID], At: time.Now()}, nil
}

func (f *progressFollower) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.cancel()
	}
	if !f.sending {
		f.closeOutLocked()
	}
}

// closeOutLocked closes out once: gqlgen then completes the subscription.
// While a sender runs, the channel is left to it.
func (f *progressFollower) closeOutLocked() {
	if !f.outClosed {
		f.outClosed = true
		close(f.out)
		f.notify()
	}
}
