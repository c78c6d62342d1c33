package graph

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edustream/edustream"
)

// liveFollowerBuffer is how many sessions a subscriber's websocket may
// fall behind before the reader waits for it.
const liveFollowerBuffer = 8

// liveSessionUpdated follows a course's live sessions: every change
// LiveClasses publishes (from any API instance or worker, through the
// event service) is read again from the primary and sent, unless this
// subscriber has already seen that version. Events only name the session,
// so what is sent is never staler than the database. After a lost
// connection (Resync) the course's upcoming sessions are read again.
//
// Like encodingProgress, an idle subscription holds no goroutine: events
// arrive on the event service's delivery goroutine (SubscribeFunc), which
// only notes which sessions changed; a short-lived goroutine reads them,
// checks access with fresh loaders and sends them, then exits. An event
// for a version the subscriber has already been sent reads nothing, and
// the subscribers of one process share the read of each new version.
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
		out: make(chan *edustream.LiveSession, liveFollowerBuffer), pending: map[int64]int64{}, sent: map[int64]int64{}}
	if err := r.Events.SubscribeFunc(ctx, edustream.LiveSessionTopic(courseID), f.onEvent); err != nil {
		cancel()
		return nil, err
	}
	context.AfterFunc(ctx, f.close)
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
	// sent is the version last sent of each session.
	sent map[int64]int64

	mu sync.Mutex
	// pending are the sessions changed since the reader last looked, with
	// the highest version an event named; repeated events of one session
	// collapse here.
	pending map[int64]int64
	// resync says the course's upcoming sessions must be read again.
	resync bool
	// reading says a goroutine is reading and sending; it owns out then.
	reading   bool
	closed    bool
	outClosed bool
}

// onEvent runs on the event service's delivery goroutine and must not
// block.
func (f *liveFollower) onEvent(e edustream.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return
	case e.Resync:
		f.resync = true
	case e.LiveSession != nil && e.LiveSession.CourseID == f.courseID:
		id := e.LiveSession.SessionID
		f.pending[id] = max(f.pending[id], e.LiveSession.Version)
	default:
		return
	}
	if !f.reading {
		f.reading = true
		go f.read()
	}
}

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
		ids, resync := f.pending, f.resync
		f.pending, f.resync = map[int64]int64{}, false
		f.mu.Unlock()

		sessions, err := f.changed(ids, resync)
		if err != nil {
			edustream.Logger(f.ctx).Warn("read changed live sessions", slog.Int64("course_id", f.courseID), slog.String("error", err.Error()))
			continue
		}
		if len(sessions) == 0 {
			continue
		}
		// Access may have changed since the subscription began (the
		// course unpublished or deleted): ask again with fresh loaders.
		fresh := withFreshLoaders(f.ctx, f.r)
		if _, err := f.r.visibleCourse(fresh, f.courseID); err != nil {
			f.close()
			continue
		}
	send:
		for _, s := range sessions {
			if s.CourseID != f.courseID || s.Version <= f.sent[s.ID] {
				continue // stale or repeated
			}
			select {
			case f.out <- s:
				f.sent[s.ID] = s.Version
			case <-f.ctx.Done():
				f.close()
				break send
			}
		}
	}
}

// changed reads, from the primary, the sessions with ids at the versions
// named, skipping those already sent, and on resync the course's upcoming
// ones.
func (f *liveFollower) changed(ids map[int64]int64, resync bool) ([]*edustream.LiveSession, error) {
	ctx := edustream.NewContextReadingPrimary(f.ctx)
	var out []*edustream.LiveSession
	if resync {
		upcoming := false
		m, err := f.r.LiveSessionService.FindLiveSessionsByCourseIDs(ctx, []int64{f.courseID},
			edustream.LiveSessionFilter{Past: &upcoming, Now: time.Now(), Limit: MaxFirst})
		if err != nil {
			return nil, err
		}
		out = append(out, m[f.courseID]...)
	}
	for id, version := range ids {
		if version > 0 && version <= f.sent[id] {
			continue // a repeated or stale event
		}
		s, err := f.r.liveSessionAt(ctx, id, version)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// liveSessionAt reads the session, at version or later. Only readers of
// the same version share a read: it began after that version's event, so
// it sees the version. It runs apart from any one subscriber's context,
// so a subscriber leaving does not fail the others' read.
func (r *Resolver) liveSessionAt(ctx context.Context, id, version int64) (*edustream.LiveSession, error) {
	v, err, _ := r.liveSessionReads.Do(fmt.Sprintf("%d@%d", id, version), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return r.LiveSessionService.FindLiveSessionByID(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return v.(*edustream.LiveSession), nil
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
	}
}
