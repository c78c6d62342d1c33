package graph

import (
	"context"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph/model"
)

// The helpers of the live-session resolvers. A session is visible to
// whoever sees its course (NOT_FOUND otherwise, as for lectures); how to
// join it needs CanJoinLiveSession and its host key CanHostLiveSession,
// and without them those fields are null, not errors, since the rest of
// the session is the caller's to see.

// defaultLiveSessions is the page size of Course.liveSessions.
const defaultLiveSessions = 20

func errLiveSessionNotFound(id int64) error {
	return edustream.Errorf(edustream.ENOTFOUND, "live session %d not found", id)
}

// visibleLiveSession loads a session whose course the caller may see.
func (r *Resolver) visibleLiveSession(ctx context.Context, id int64) (*edustream.LiveSession, error) {
	if r.LiveSessionService == nil {
		return nil, errLiveSessionNotFound(id)
	}
	s, err := r.LiveSessionService.FindLiveSessionByID(ctx, id)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, errLiveSessionNotFound(id)
	} else if err != nil {
		return nil, err
	}
	if _, err := r.visibleCourse(ctx, s.CourseID); edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, errLiveSessionNotFound(id)
	} else if err != nil {
		return nil, err
	}
	return s, nil
}

// editableLiveSession loads a session the caller may change: NOT_FOUND if
// they may not see it, FORBIDDEN if they may see but not schedule.
func (r *Resolver) editableLiveSession(ctx context.Context, id int64) (*edustream.LiveSession, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	s, err := r.visibleLiveSession(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := r.visibleCourse(ctx, s.CourseID)
	if err != nil {
		return nil, err
	}
	if !edustream.CanScheduleLiveSession(u, c) {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "only the course's instructor or an admin may change live session %d", id)
	}
	return s, nil
}

// createLiveSession schedules a class of a course the caller may edit.
func (r *Resolver) createLiveSession(ctx context.Context, input model.CreateLiveSessionInput) (*edustream.LiveSession, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	c, err := r.editableCourse(ctx, input.CourseID)
	if err != nil {
		return nil, err
	}
	return r.Live.Schedule(ctx, u, c, edustream.LiveSessionInput{
		Title: input.Title, Agenda: deref(input.Agenda), StartsAt: input.StartsAt, EndsAt: input.EndsAt,
		IdempotencyKey: deref(input.ClientMutationID),
	})
}

// updateLiveSession changes a scheduled class.
func (r *Resolver) updateLiveSession(ctx context.Context, id int64, input model.UpdateLiveSessionInput) (*edustream.LiveSession, error) {
	s, err := r.editableLiveSession(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.Live.Reschedule(ctx, s, edustream.LiveSessionChange{
		Title: input.Title, Agenda: input.Agenda, StartsAt: input.StartsAt, EndsAt: input.EndsAt,
	})
}

// cancelLiveSession cancels a scheduled class.
func (r *Resolver) cancelLiveSession(ctx context.Context, id int64) (*edustream.LiveSession, error) {
	s, err := r.editableLiveSession(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.Live.Cancel(ctx, s)
}

// courseLiveSessions is Course.liveSessions.
func (r *Resolver) courseLiveSessions(ctx context.Context, c *edustream.Course, past *bool, first *int) ([]*edustream.LiveSession, error) {
	if !edustream.CanViewCourse(edustream.UserFromContext(ctx), c) {
		return nil, errCourseNotFound(c.ID)
	}
	n := defaultLiveSessions
	if first != nil {
		n = *first
	}
	if n < 0 || n > MaxFirst {
		return nil, edustream.Errorf(edustream.EINVALID, "first must be between 0 and %d, got %d", MaxFirst, n)
	}
	if r.LiveSessionService == nil || n == 0 {
		return []*edustream.LiveSession{}, nil
	}
	sessions, err := loadersFrom(ctx).liveSessionsOf(past, n).Load(ctx, c.ID)
	if sessions == nil && err == nil {
		sessions = []*edustream.LiveSession{}
	}
	return sessions, err
}

// liveAccess says what the caller may see of s's course's sessions.
func (r *Resolver) liveAccess(ctx context.Context, s *edustream.LiveSession) (join, host bool, err error) {
	c, err := r.visibleCourse(ctx, s.CourseID)
	if err != nil {
		return false, false, err
	}
	u := edustream.UserFromContext(ctx)
	if edustream.CanHostLiveSession(u, c) {
		return true, true, nil
	}
	if u == nil {
		return false, false, nil
	}
	e, err := loadersFrom(ctx).enrollmentLoader().Load(ctx, c.ID)
	if err != nil {
		return false, false, err
	}
	return edustream.CanJoinLiveSession(u, c, e != nil), false, nil
}

// joinField returns one of s's join details for a caller who may join,
// and null for everyone else.
func (r *Resolver) joinField(ctx context.Context, s *edustream.LiveSession, value string) (*string, error) {
	join, _, err := r.liveAccess(ctx, s)
	if err != nil || !join || value == "" {
		return nil, err
	}
	return &value, nil
}

// hostKey returns s's host key for a caller who may host.
func (r *Resolver) hostKey(ctx context.Context, s *edustream.LiveSession) (*string, error) {
	_, host, err := r.liveAccess(ctx, s)
	if err != nil || !host || s.HostKey == "" {
		return nil, err
	}
	return &s.HostKey, nil
}

// recordingLecture is LiveSession.recordingLecture: null until the
// recording is imported, or once the lecture is deleted.
func (r *Resolver) recordingLecture(ctx context.Context, s *edustream.LiveSession) (*edustream.Lecture, error) {
	if s.RecordingLectureID == nil {
		return nil, nil
	}
	l, err := r.visibleLecture(ctx, *s.RecordingLectureID)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, nil
	}
	return l, err
}
