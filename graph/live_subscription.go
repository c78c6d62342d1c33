package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/edustream/edustream"
)

// liveSessionUpdated follows a course's live sessions: every change
// LiveClasses publishes (from any API instance or worker, through the
// event service) is read again from the primary and sent, unless this
// subscriber has already seen that version. Events only name the session,
// so what is sent is never staler than the database. After a lost
// connection (Resync) the course's upcoming sessions are sent again.
func (r *Resolver) liveSessionUpdated(ctx context.Context, courseID int64) (<-chan *edustream.LiveSession, error) {
	if _, err := r.visibleCourse(ctx, courseID); err != nil {
		return nil, err
	}
	if r.Events == nil || r.LiveSessionService == nil {
		return nil, edustream.Errorf(edustream.EINTERNAL, "live session events are not configured")
	}
	sub, err := r.Events.Subscribe(ctx, edustream.LiveSessionTopic(courseID))
	if err != nil {
		return nil, err
	}
	f := &liveFollower{r: r, courseID: courseID, out: make(chan *edustream.LiveSession, 1), sent: map[int64]int64{}}
	go f.run(ctx, sub.C)
	return f.out, nil
}

// liveFollower is one liveSessionUpdated subscription.
type liveFollower struct {
	r        *Resolver
	courseID int64
	out      chan *edustream.LiveSession
	// sent is the version last sent of each session.
	sent map[int64]int64
}

func (f *liveFollower) run(ctx context.Context, events <-chan edustream.Event) {
	defer close(f.out)
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			sessions, err := f.changed(ctx, e)
			if err != nil {
				edustream.Logger(ctx).Warn("read changed live sessions", slog.Int64("course_id", f.courseID), slog.String("error", err.Error()))
				continue
			}
			for _, s := range sessions {
				if s.CourseID != f.courseID || s.Version <= f.sent[s.ID] {
					continue // stale or repeated
				}
				// Access may have changed since the subscription began (the
				// course unpublished or deleted): ask again with fresh
				// loaders, since this context's are as old as the
				// subscription.
				fresh := withLoaders(ctx, newLoaders(f.r, edustream.UserFromContext(ctx)))
				if _, err := f.r.visibleCourse(fresh, f.courseID); err != nil {
					return
				}
				select {
				case f.out <- s:
					f.sent[s.ID] = s.Version
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// changed reads, from the primary, the sessions an event is about.
func (f *liveFollower) changed(ctx context.Context, e edustream.Event) ([]*edustream.LiveSession, error) {
	ctx = edustream.NewContextReadingPrimary(ctx)
	switch {
	case e.Resync:
		upcoming := false
		m, err := f.r.LiveSessionService.FindLiveSessionsByCourseIDs(ctx, []int64{f.courseID},
			edustream.LiveSessionFilter{Past: &upcoming, Now: time.Now(), Limit: MaxFirst})
		return m[f.courseID], err
	case e.LiveSession != nil:
		s, err := f.r.LiveSessionService.FindLiveSessionByID(ctx, e.LiveSession.SessionID)
		if err != nil {
			return nil, err
		}
		return []*edustream.LiveSession{s}, nil
	}
	return nil, nil
}
