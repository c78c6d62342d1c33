package graph

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
)

// liveFollowerBuffer is how many sessions a subscriber's websocket may
// fall behind before the reader waits for it.
const liveFollowerBuffer = 8

// liveSessionUpdated follows a course's live sessions: every change
// LiveClasses publishes (from any API instance or worker, through the
// event service) carries the session as the change left it, and is sent
// unless this subscriber has already been sent that version or a later
// one. After a lost connection (Resync) the course's upcoming sessions are
// read again from the primary.
//
// Like encodingProgress, an idle subscription holds no goroutine: events
// arrive on the event service's delivery goroutine (SubscribeFunc), which
// only keeps the newest version of each session; a short-lived goroutine
// checks access with fresh loaders and sends them, then exits.
func (r *Resolver) liveSessionUpdated(ctx context.Context, courseID int64) (<-chan *edustream.LiveSession, error) {
	// One set of loaders for the check, dropped after it.
	if _, err := r.visibleCourse(withFreshLoaders(ctx, r), courseID); err != nil {
		return nil, err
	}
	if r.Events == nil || r.LiveSessionService == nil {
		return nil, edustream.Errorf(edustream.EINTERNAL, "live session events are not configured")
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &liveFollower{r: r, ctx: ctx, cancel: cancel, courseID: courseID,
		out: make(chan *edustream.LiveSession, liveFollowerBuffer), notify: gqlhttp.SubscriptionNotifier(ctx), pending: map[int64]*edustream.LiveSession{}, sent: map[int64]int64{}}
	if err := r.Events.SubscribeFunc(ctx, edustream.LiveSessionTopic(courseID), f.onEvent); err != nil {
		cancel()
		return nil, err
	}
	context.AfterFunc(ctx, f.close)
	r.TestSignals.Subscribed.Signal(Subscription{Field: "liveSessionUpdated", ID: courseID})
	return f.out, nil
}

// liveFollower is one liveSessionUpdated subscription. The fields below mu
// are guarded by it; sent belongs to the one reading goroutine.
type liveFollower struct {
	r        *Resolver
	ctx      context.Context
	cancel   context.CancelFunc
	courseID int64
	out      chan *edustream.LiveSession
	// notify tells the websocket that out holds a session, or closed
	// (gqlhttp.SubscriptionNotifier).
	notify func()
	// sent is the version last sent of each session.
	sent map[int64]int64

	mu sync.Mutex
	// pending are the sessions changed since the reader last looked, at
	// the newest version an event brought; repeated events of one session
	// collapse here.
	pending map[int64]*edustream.LiveSession
	// resync says the course's upcoming sessions must be read again.
	resync bool
	// reading says a goroutine is reading and sending; it owns out then.
	reading   bool
	closed    bool
	outClosed bool
}

// onEvent runs on the event service's delivery goroutine and must not
// block.
//
// Every event gets one outcome on Resolver.TestSignals.Handled: here when
// it is dropped at once (another course's, a repeat of a resync, older
// than the version pending, or replacing a pending one, which is then
// dropped), else from the reader once it has dealt with it.
func (f *liveFollower) onEvent(e edustream.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch s := e.LiveSession; {
	case f.closed:
		f.handled(EventDropped)
		return
	case e.Resync:
		if f.resync {
			f.handled(EventDropped)
		}
		f.resync = true
	case s != nil && s.CourseID == f.courseID:
		prev := f.pending[s.ID]
		switch {
		case prev == nil:
			f.pending[s.ID] = s
		case s.Version > prev.Version:
			f.pending[s.ID] = s
			f.handled(EventDropped) // prev's event
		default:
			f.handled(EventDropped)
		}
	default:
		f.handled(EventDropped)
		return
	}
	if !f.reading {
		f.reading = true
		go f.read()
	}
}

func (f *liveFollower) handled(o EventOutcome) { f.r.TestSignals.Handled.Signal(o) }

// read sends what changed until nothing is pending, then exits.
func (f *liveFollower) read() {
	for {
		f.mu.Lock()
		if f.closed || (len(f.pending) == 0 && !f.resync) {
			f.reading = false
			if f.closed {
				f.closeOutLocked()
			}
			f.mu.Unlock()
			return
		}
		changed, resync := f.pending, f.resync
		f.pending, f.resync = map[int64]*edustream.LiveSession{}, false
		f.mu.Unlock()

		delivered := f.send(changed, resync)
		f.report(changed, resync, delivered)
	}
}

// send sends the sessions of a batch that this subscriber has not been
// sent yet, and returns those it sent.
func (f *liveFollower) send(changed map[int64]*edustream.LiveSession, resync bool) (delivered []*edustream.LiveSession) {
	sessions, err := f.toSend(changed, resync)
	if err != nil {
		edustream.Logger(f.ctx).Warn("read the upcoming live sessions", slog.Int64("course_id", f.courseID), slog.String("error", err.Error()))
		return nil
	}
	if len(sessions) == 0 {
		return nil
	}
	// Access may have changed since the subscription began (the course
	// unpublished or deleted): ask again with fresh loaders.
	fresh := withFreshLoaders(f.ctx, f.r)
	if _, err := f.r.visibleCourse(fresh, f.courseID); err != nil {
		f.close()
		return nil
	}
	for _, s := range sessions {
		select {
		case f.out <- s:
			f.notify()
			f.sent[s.ID] = s.Version
			delivered = append(delivered, s)
		case <-f.ctx.Done():
			f.close()
			return delivered
		}
	}
	return delivered
}

// report gives each event of a batch its outcome on
// Resolver.TestSignals.Handled: a changed session's event was sent if that
// version was, and a resync was if any session it read again was.
func (f *liveFollower) report(changed map[int64]*edustream.LiveSession, resync bool, delivered []*edustream.LiveSession) {
	reread := false
	for _, s := range delivered {
		reread = reread || changed[s.ID] != s
	}
	for _, s := range changed {
		if slices.Contains(delivered, s) {
			f.handled(EventSent)
		} else {
			f.handled(EventDropped)
		}
	}
	if resync {
		if reread {
			f.handled(EventSent)
		} else {
			f.handled(EventDropped)
		}
	}
}

// toSend returns the changed sessions this subscriber has not been sent
// yet, oldest change first, and on resync the course's upcoming ones read
// again from the primary.
func (f *liveFollower) toSend(changed map[int64]*edustream.LiveSession, resync bool) ([]*edustream.LiveSession, error) {
	var all []*edustream.LiveSession
	if resync {
		upcoming := false
		m, err := f.r.LiveSessionService.FindLiveSessionsByCourseIDs(edustream.NewContextReadingPrimary(f.ctx), []int64{f.courseID},
			edustream.LiveSessionFilter{Past: &upcoming, Now: time.Now(), Limit: MaxFirst})
		if err != nil {
			return nil, err
		}
		all = append(all, m[f.courseID]...)
	}
	for _, s := range changed {
		all = append(all, s)
	}
	var out []*edustream.LiveSession
	for _, s := range all {
		if s.CourseID == f.courseID && s.Version > f.sent[s.ID] {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *edustream.LiveSession) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	return out, nil
}

func (f *liveFollower) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.cancel()
	}
	if !f.reading {
		f.closeOutLocked()
	}
}

// closeOutLocked closes out once: gqlgen then completes the subscription.
// While a reader runs, the channel is left to it.
func (f *liveFollower) closeOutLocked() {
	if !f.outClosed {
		f.outClosed = true
		close(f.out)
		f.notify()
	}
}
