package graph

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/internal/testsignal"
)

// queuePositionEvery bounds how often one subscription re-reads its place
// in the video queue: every queue move on the fleet would otherwise cost
// every waiting subscriber a Redis scan.
const queuePositionEvery = time.Second

// followerBuffer is how many events a subscriber's websocket may fall
// behind before progress events are coalesced (state changes never are).
const followerBuffer = 8

// SubscriptionTestSignals are the moments of a subscription's life that
// tests wait for, so that a test proving a subscriber was not sent
// something waits until the event was dealt with instead of sleeping (see
// internal/testsignal). Each is off, and costs an atomic load, until a
// test calls Init; Resolver.TestSignals holds them.
type SubscriptionTestSignals struct {
	// Subscribed is sent when a subscription listens: every event
	// published from then on reaches it.
	Subscribed testsignal.Signal[Subscription]
	// Handled is sent once for every event a subscription receives,
	// when it is done with it (EventOutcome).
	Handled testsignal.Signal[EventOutcome]
}

// Init turns every signal on.
func (s *SubscriptionTestSignals) Init() {
	s.Subscribed.Init()
	s.Handled.Init()
}

// Subscription names a subscription that began listening.
type Subscription struct {
	// Field is the subscription field: encodingProgress or
	// liveSessionUpdated.
	Field string
	// ID is its argument: the lecture's or the course's id.
	ID int64
}

// EventOutcome is what a subscription did with an event it received.
type EventOutcome int

const (
	// EventSent means the event was handed to the client's websocket.
	EventSent EventOutcome = iota + 1
	// EventDropped means nothing of the event will reach the client: it
	// is stale, a repeat, another lecture's or course's, superseded by a
	// newer one before it was sent, or the subscription is ending.
	EventDropped
	// EventHeld means the event was kept for later, while the client
	// catches up, access is checked again, the state is read again or
	// the queue position is; it is sent then unless something newer
	// replaces it.
	EventHeld
)

func (o EventOutcome) String() string {
	switch o {
	case EventSent:
		return "sent"
	case EventDropped:
		return "dropped"
	case EventHeld:
		return "held"
	}
	return "EventOutcome(" + strconv.Itoa(int(o)) + ")"
}

// encodingProgress follows a lecture's newest video: the state in the
// database first, then every change the workers publish. Events travel
// through the event service, so the worker and this API instance may be
// different processes; out-of-order and stale events are dropped
// (EncodingEvent.Newer), and after a lost connection the database is read
// again.
//
// A subscription holds no goroutine of its own while idle, nor does the
// websocket for it: events arrive on the event service's delivery
// goroutine (SubscribeFunc), go to gqlgen's channel, and that goroutine
// writes them to the socket (gqlhttp.SubscriptionNotifier). Only the rare steps that need I/O (re-checking access
// when the state changes, re-reading the database, the queue position) run
// on a short-lived goroutine. Thousands of idle subscriptions per instance
// are the common case; see the IdleSubscriptions benchmark.
func (r *Resolver) encodingProgress(ctx context.Context, lectureID int64) (<-chan *edustream.EncodingEvent, error) {
	if edustream.UserFromContext(ctx) == nil {
		return nil, errUnauthenticated()
	}
	// One set of loaders for the check, dropped after it.
	a, err := r.accessToLecture(withFreshLoaders(ctx, r), lectureID)
	if err != nil {
		return nil, err
	}
	if !a.watch {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "only the course's instructor, admins and enrolled students may follow lecture %d", lectureID)
	}
	if r.Events == nil {
		return nil, edustream.Errorf(edustream.EINTERNAL, "events are not configured")
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &follower{r: r, ctx: ctx, cancel: cancel, lectureID: lectureID,
		out: make(chan *edustream.EncodingEvent, followerBuffer), notify: gqlhttp.SubscriptionNotifier(ctx), starting: true}
	// Subscribe before reading the state: an event published in between is
	// held, and sent after the state if it is newer.
	for _, topic := range []string{edustream.EncodingTopic(lectureID), edustream.VideoQueueTopic} {
		if err := r.Events.SubscribeFunc(ctx, topic, f.onEvent); err != nil {
			cancel()
			return nil, err
		}
	}
	first, err := f.current(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	f.mu.Lock()
	f.starting = false
	held := f.held
	f.held = nil
	f.offer(first)
	if held != nil && held.Newer(first) {
		f.offer(held)
	}
	f.mu.Unlock()
	context.AfterFunc(ctx, f.close)
	r.TestSignals.Subscribed.Signal(Subscription{Field: "encodingProgress", ID: lectureID})
	return f.out, nil
}

// follower is one encodingProgress subscription. Every field below mu is
// guarded by it.
type follower struct {
	r         *Resolver
	ctx       context.Context
	cancel    context.CancelFunc
	lectureID int64
	out       chan *edustream.EncodingEvent
	// notify tells the websocket that out holds an event, or closed: it
	// writes it from the notifying goroutine (gqlhttp.SubscriptionNotifier).
	notify func()
	// lastQueueCheck is when the queue position was last read (unix nano).
	lastQueueCheck atomic.Int64

	mu sync.Mutex
	// starting says the state is being read: events are held meanwhile.
	starting bool
	closed   bool
	// last is the last event handed to out.
	last *edustream.EncodingEvent
	// held is the newest event waiting because out is full or an access
	// check runs; flushing says a goroutine is delivering it.
	held     *edustream.EncodingEvent
	flushing bool
	// checking says an access check runs; events wait in held meanwhile.
	checking bool
	// queueRead says a queue position read is scheduled or running.
	queueRead bool
	// ending says the last event is held: the subscription ends once it
	// is sent.
	ending    bool
	outClosed bool
}

// onEvent runs on the event service's delivery goroutine and must not block.
func (f *follower) onEvent(e edustream.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.r.TestSignals.Handled.Signal(f.receive(e))
}

// receive deals with an event and says what became of it. Called with mu
// held.
func (f *follower) receive(e edustream.Event) EventOutcome {
	if f.closed || f.ending {
		return EventDropped
	}
	if f.starting {
		if e.Encoding != nil && e.Encoding.LectureID == f.lectureID && e.Encoding.Newer(f.held) {
			f.held = e.Encoding
			return EventHeld
		}
		return EventDropped
	}
	switch {
	case e.Resync:
		// Events may have been lost: a deletion's among them, so access
		// is checked again too, unless a check runs already.
		if f.checking {
			go f.resync()
			return EventHeld
		}
		f.checking = true
		go func() {
			f.recheck()
			f.resync()
		}()
		return EventHeld
	case e.Encoding != nil && e.Encoding.Removed:
		// The lecture or its course was deleted: ask, and end if so.
		if e.Encoding.LectureID != f.lectureID || f.checking {
			return EventDropped
		}
		f.checking = true
		go f.recheck()
		return EventHeld
	case e.Encoding != nil:
		next := e.Encoding
		if next.LectureID != f.lectureID || !next.Newer(f.newest()) {
			return EventDropped
		}
		if f.checking {
			f.held = next
			return EventHeld
		}
		if f.last != nil && (next.VideoID != f.last.VideoID || next.Version != f.last.Version) {
			// A change of state is when access may have changed too (the
			// course unpublished or deleted): ask again before showing it.
			f.checking, f.held = true, next
			go f.recheck()
			return EventHeld
		}
		if f.offer(next) {
			return EventSent
		}
		return EventHeld
	case e.QueueMoved != nil:
		if f.waiting() && !f.queueRead {
			f.queueRead = true
			wait := queuePositionEvery - time.Since(time.Unix(0, f.lastQueueCheck.Load()))
			go func() {
				if wait > 0 {
					// Coalesce a burst of moves into one read.
					select {
					case <-time.After(wait):
					case <-f.ctx.Done():
						return
					}
				}
				f.sendQueuePosition()
			}()
			return EventHeld
		}
	}
	return EventDropped
}

// newest is the newest event seen: held if one waits, else the last sent.
func (f *follower) newest() *edustream.EncodingEvent {
	if f.held != nil {
		return f.held
	}
	return f.last
}

// offer hands e to the websocket, or holds it (replacing an older held
// one) while the websocket is behind, and reports whether it was handed.
func (f *follower) offer(e *edustream.EncodingEvent) (sent bool) {
	if f.flushing {
		f.held = e
		return false
	}
	select {
	case f.out <- e:
		f.last = e
		f.notify()
		return true
	default:
		f.held, f.flushing = e, true
		go f.flush()
		return false
	}
}

// flush delivers held events, blocking, until none is left.
func (f *follower) flush() {
	for {
		f.mu.Lock()
		e := f.held
		if e == nil || f.closed || f.checking {
			f.flushing = false
			if e == nil && f.ending {
				f.closeLocked()
			}
			if f.closed {
				// Closed while this goroutine sent: the channel was left
				// to it (see closeLocked).
				f.closeLocked()
			}
			f.mu.Unlock()
			return
		}
		f.held = nil
		f.mu.Unlock()
		select {
		case f.out <- e:
			f.mu.Lock()
			f.last = e
			f.mu.Unlock()
			f.notify()
		case <-f.ctx.Done():
			// The subscription ended while the websocket was behind; the
			// channel is this goroutine's to close (see closeLocked).
			f.mu.Lock()
			f.flushing = false
			f.closeLocked()
			f.mu.Unlock()
			return
		}
	}
}

// recheck asks again whether the subscriber may watch, with fresh loaders
// (this context's are as old as the subscription), then releases the held
// event or ends the subscription: with complete when access ended, with a
// last event saying so when the lecture or its course was deleted, and
// with an error message of code UNAVAILABLE (the client may subscribe
// again) when the check itself kept failing.
func (f *follower) recheck() {
	verdict, err := f.checkAccess()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checking = false
	switch verdict {
	case accessAllowed:
		if e := f.held; e != nil {
			f.held = nil
			f.offer(e)
		}
	case accessDenied:
		f.closeLocked()
	case accessRemoved:
		f.endLocked(f.removedEvent())
	case accessUnknown:
		edustream.Logger(f.ctx).Warn("encoding progress: access check kept failing; ending the subscription with UNAVAILABLE",
			slog.Int64("lecture_id", f.lectureID), slog.String("error", err.Error()))
		gqlhttp.EndSubscription(f.ctx, presentError(f.ctx, edustream.Errorf(edustream.EUNAVAILABLE,
			"could not check access to lecture %d for now; subscribe again", f.lectureID)))
		f.closeLocked()
	}
}

// The verdicts of an access check.
type accessVerdict int

const (
	accessAllowed accessVerdict = iota
	accessDenied
	accessRemoved
	accessUnknown
)

// recheckAttempts bounds the tries of an access check that fails (the
// database down for a moment), recheckBackoff is the wait after the
// first failure, doubled after each: about 1.5 s in all, within what a
// failover takes, and short enough that the client hears soon.
const (
	recheckAttempts = 5
	recheckBackoff  = 100 * time.Millisecond
)

// checkAccess decides whether the subscriber may still watch, trying
// again with backoff while the check fails, and returns the last error
// when it never succeeded. A lecture the subscriber cannot see is
// removed when it or its course no longer exists (deleted), and denied
// otherwise (the course unpublished, the enrollment gone).
func (f *follower) checkAccess() (accessVerdict, error) {
	wait := recheckBackoff
	var err error
	for attempt := 1; ; attempt++ {
		var verdict accessVerdict
		if verdict, err = f.checkAccessOnce(); err == nil {
			return verdict, nil
		}
		if attempt == recheckAttempts {
			return accessUnknown, err
		}
		edustream.Logger(f.ctx).Warn("encoding progress: access check failed; trying again",
			slog.Int64("lecture_id", f.lectureID), slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		select {
		case <-time.After(wait):
		case <-f.ctx.Done():
			return accessDenied, nil
		}
		wait *= 2
	}
}

func (f *follower) checkAccessOnce() (accessVerdict, error) {
	fresh := withFreshLoaders(f.ctx, f.r)
	a, err := f.r.accessToLecture(fresh, f.lectureID)
	switch code := edustream.ErrorCode(err); {
	case err == nil && a.watch:
		return accessAllowed, nil
	case err == nil || code == edustream.EFORBIDDEN || code == edustream.EUNAUTHENTICATED:
		return accessDenied, nil
	case code != edustream.ENOTFOUND:
		return 0, err
	}
	// Not found for this subscriber: deleted, or only hidden from them?
	// Read past the visibility rules (the primary: a replica may not have
	// the deletion, or may have lost the lecture's creation).
	ctx := edustream.NewContextReadingPrimary(f.ctx)
	l, err := f.r.LectureService.FindLectureByID(ctx, f.lectureID)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return accessRemoved, nil
	} else if err != nil {
		return 0, err
	}
	if _, err := f.r.CourseService.FindCourseByID(ctx, l.CourseID); edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return accessRemoved, nil // hidden: deleted, waiting to be purged
	} else if err != nil {
		return 0, err
	}
	return accessDenied, nil
}

// removedEvent is the last event of a subscription whose lecture or
// course was deleted: the state last shown, saying so. Called with mu
// held.
func (f *follower) removedEvent() *edustream.EncodingEvent {
	e := edustream.EncodingEvent{LectureID: f.lectureID, Status: edustream.VideoAwaitingUpload, Stage: edustream.StageUpload}
	if last := f.newest(); last != nil {
		e = *last
	}
	e.Removed, e.At = true, time.Now()
	e.Message = fmt.Sprintf("lecture %d or its course was deleted", f.lectureID)
	e.ETASeconds, e.QueuePosition = nil, nil
	return &e
}

// endLocked sends e, after anything held, and then ends the subscription.
// Called with mu held.
func (f *follower) endLocked(e *edustream.EncodingEvent) {
	f.ending, f.held = true, e
	if !f.flushing {
		f.flushing = true
		go f.flush()
	}
}

// resync re-reads the state after the event connection dropped.
func (f *follower) resync() {
	if f.ctx.Err() != nil {
		return // ended meanwhile
	}
	e, err := f.current(f.ctx)
	if err != nil {
		edustream.Logger(f.ctx).Warn("resync encoding progress", slog.String("error", err.Error()))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed && !f.checking && !f.ending && e.Newer(f.newest()) {
		f.offer(e)
	}
}

// waiting reports whether the video waits for a worker. Called with mu held.
func (f *follower) waiting() bool {
	e := f.newest()
	return e != nil && e.VideoID != 0 && e.Status == edustream.VideoUploaded
}

// sendQueuePosition sends the newest event again with the current queue
// position and ETA, if they changed.
func (f *follower) sendQueuePosition() {
	f.mu.Lock()
	base := f.newest()
	f.mu.Unlock()
	pos, eta := f.queueWait(f.ctx, base.VideoID)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queueRead = false
	if f.closed || f.checking || f.newest() != base {
		return // something newer came meanwhile; it has its own position
	}
	e := *base
	e.QueuePosition, e.ETASeconds, e.At = pos, eta, time.Now()
	if e.Newer(base) {
		f.offer(&e)
	}
}

func (f *follower) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeLocked()
}

// closeLocked ends the subscription: gqlgen sees the channel close and
// completes it. While a flush may be sending, the channel is left to it:
// cancelling the context stops the flush, which then closes the channel.
func (f *follower) closeLocked() {
	if !f.closed {
		f.closed = true
		f.cancel()
	}
	if !f.flushing && !f.outClosed {
		f.outClosed = true
		close(f.out)
		f.notify()
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
		e.QueuePosition, e.ETASeconds = f.queueWait(ctx, v.ID)
	}
	return e, nil
}

// queueWait returns the video's place in its queue and the seconds until
// its waiting step should be done (nil when unknown), or nils when it is
// not waiting there (its next step runs on another queue, or has begun).
func (f *follower) queueWait(ctx context.Context, videoID int64) (position, etaSeconds *int) {
	f.lastQueueCheck.Store(time.Now().UnixNano())
	w, waiting, err := f.r.JobQueue.VideoQueueWait(ctx, videoID)
	if err != nil {
		edustream.Logger(ctx).Warn("read the video queue", slog.String("error", err.Error()))
		return nil, nil
	}
	if !waiting {
		return nil, nil
	}
	if w.ETAKnown {
		eta := int(w.ETA.Round(time.Second).Seconds())
		etaSeconds = &eta
	}
	return &w.Position, etaSeconds
}

// announceRemoved tells the encodingProgress subscribers of the lectures,
// on every instance, that they may have been deleted: each checks, and
// ends with a last event saying so. Best effort, like every event: a
// subscriber that misses it ends at its next check.
func (r *Resolver) announceRemoved(ctx context.Context, lectureIDs ...int64) {
	if r.Events == nil {
		return
	}
	for _, id := range lectureIDs {
		e := edustream.Event{Topic: edustream.EncodingTopic(id), Encoding: &edustream.EncodingEvent{LectureID: id, Removed: true, At: time.Now()}}
		if err := r.Events.PublishEvent(ctx, e); err != nil {
			edustream.Logger(ctx).Warn("announce a deleted lecture to its subscribers", slog.Int64("lecture_id", id), slog.String("error", err.Error()))
		}
	}
}
