package edustreamtest

import (
	"context"
	"slices"
	"time"

	"github.com/edustream/edustream"
)

// Live sessions and the imports of their recordings, part of Store.

func copySession(ls *edustream.LiveSession) *edustream.LiveSession {
	cp := *ls
	cp.RecordingLectureID = copyPtr(ls.RecordingLectureID)
	cp.StartedAt, cp.EndedAt, cp.CancelledAt = copyPtr(ls.StartedAt), copyPtr(ls.EndedAt), copyPtr(ls.CancelledAt)
	return &cp
}

// sessionsWhere returns copies of the sessions that match keep, in the
// order compare puts them (id order for ties). Callers hold mu.
func (s *Store) sessionsWhere(keep func(*edustream.LiveSession) bool, compare func(a, b *edustream.LiveSession) int) []*edustream.LiveSession {
	return where(s.sessions, keep, compare, copySession)
}

// CreateLiveSession inserts ls as SCHEDULED at version 1. ECONFLICT when
// the creator already used ls.IdempotencyKey or the meeting is another
// session's; EINVALID without a course, creator or meeting.
func (s *Store) CreateLiveSession(_ context.Context, ls *edustream.LiveSession) error {
	if ls.CourseID <= 0 || ls.CreatorID <= 0 || ls.MeetingID == "" {
		return edustream.Errorf(edustream.EINVALID, "a live session needs a course, a creator and a meeting")
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.sessions {
		if other.MeetingID == ls.MeetingID ||
			(ls.IdempotencyKey != "" && other.CreatorID == ls.CreatorID && other.IdempotencyKey == ls.IdempotencyKey) {
			return edustream.Errorf(edustream.ECONFLICT, "live session already exists")
		}
	}
	ls.ID, ls.Status, ls.Version, ls.MeetingDeletePending, ls.RecordingLectureID = s.nextID("live_sessions"), edustream.LiveScheduled, 1, false, nil
	ls.StartsAt, ls.EndsAt, ls.CreatedAt, ls.UpdatedAt = utcMicro(ls.StartsAt), utcMicro(ls.EndsAt), now, now
	ls.StartedAt, ls.EndedAt, ls.CancelledAt = nil, nil, nil
	s.sessions[ls.ID] = copySession(ls)
	return nil
}

// FindLiveSessionByID returns a session. ENOTFOUND.
func (s *Store) FindLiveSessionByID(_ context.Context, id int64) (*edustream.LiveSession, error) {
	return findOne(s, "live session", id, present(s.sessions), copySession)
}

// FindLiveSessionByIdempotencyKey returns the session the creator made
// with key (compared byte for byte). ENOTFOUND.
func (s *Store) FindLiveSessionByIdempotencyKey(_ context.Context, creatorID int64, key string) (*edustream.LiveSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ls := range s.sessions {
		if key != "" && ls.CreatorID == creatorID && ls.IdempotencyKey == key {
			return copySession(ls), nil
		}
	}
	return nil, edustream.Errorf(edustream.ENOTFOUND, "no live session with this clientMutationId")
}

// FindLiveSessionByMeeting returns the session of a meeting series or,
// without one, the newest with the meeting number. ENOTFOUND.
func (s *Store) FindLiveSessionByMeeting(_ context.Context, seriesID, meetingNumber string) (*edustream.LiveSession, error) {
	if seriesID == "" && meetingNumber == "" {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "no live session for a meeting without id or number")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *edustream.LiveSession
	for _, ls := range s.sessions {
		switch {
		case seriesID != "":
			if ls.MeetingID == seriesID {
				found = ls
			}
		case ls.MeetingNumber == meetingNumber && (found == nil || ls.ID > found.ID):
			found = ls
		}
	}
	if found == nil {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "no live session for meeting %s%s", seriesID, meetingNumber)
	}
	return copySession(found), nil
}

// FindLiveSessionsByCourseIDs returns each course's sessions matching f,
// at most f.Limit per course: upcoming ones soonest first, then past ones
// latest first.
func (s *Store) FindLiveSessionsByCourseIDs(_ context.Context, courseIDs []int64, f edustream.LiveSessionFilter) (map[int64][]*edustream.LiveSession, error) {
	out := make(map[int64][]*edustream.LiveSession, len(courseIDs))
	if f.Limit <= 0 {
		return out, nil
	}
	now := utcMicro(f.Now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range courseIDs {
		if out[id] != nil {
			continue
		}
		sessions := s.sessionsWhere(func(ls *edustream.LiveSession) bool {
			return ls.CourseID == id && (f.Past == nil || ls.Upcoming(now) != *f.Past)
		}, func(a, b *edustream.LiveSession) int {
			aUp, bUp := a.Upcoming(now), b.Upcoming(now)
			switch {
			case aUp != bUp:
				if aUp {
					return -1
				}
				return 1
			case aUp:
				return a.StartsAt.Compare(b.StartsAt)
			}
			return b.StartsAt.Compare(a.StartsAt)
		})
		if len(sessions) > 0 {
			out[id] = sessions[:min(len(sessions), f.Limit)]
		}
	}
	return out, nil
}

// UpdateLiveSession applies upd to a SCHEDULED session still at
// upd.Version, bumps its version and returns it. ECONFLICT when it moved
// on; ENOTFOUND.
func (s *Store) UpdateLiveSession(_ context.Context, id int64, upd edustream.LiveSessionUpdate) (*edustream.LiveSession, error) {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, ok := s.sessions[id]
	if !ok {
		return nil, notFound("live session", id)
	}
	if ls.Version != upd.Version || ls.Status != edustream.LiveScheduled {
		return nil, edustream.Errorf(edustream.ECONFLICT, "live session %d changed meanwhile (it is %s); reload it and try again", id, ls.Status)
	}
	ls.Title, ls.Agenda, ls.StartsAt, ls.EndsAt = upd.Title, upd.Agenda, utcMicro(upd.StartsAt), utcMicro(upd.EndsAt)
	ls.Version++
	ls.UpdatedAt = now
	return copySession(ls), nil
}

// TransitionLiveSession moves the session to status to if it is in one of
// from, stamping when it started (the first time), ended or was
// cancelled, and bumping its version. A session in none of from is
// returned unchanged. EINVALID for an empty from; ENOTFOUND.
func (s *Store) TransitionLiveSession(_ context.Context, id int64, from []edustream.LiveSessionStatus, to edustream.LiveSessionStatus) (*edustream.LiveSession, bool, error) {
	if len(from) == 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "a transition needs a status to move from")
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, ok := s.sessions[id]
	if !ok {
		return nil, false, notFound("live session", id)
	}
	if !slices.Contains(from, ls.Status) {
		return copySession(ls), false, nil
	}
	ls.Status, ls.UpdatedAt = to, now
	ls.Version++
	switch to {
	case edustream.LiveLive:
		if ls.StartedAt == nil {
			ls.StartedAt = &now
		}
	case edustream.LiveEnded:
		ls.EndedAt = &now
	case edustream.LiveCancelled:
		ls.CancelledAt = &now
	}
	return copySession(ls), true, nil
}

// CancelLiveSession makes a SCHEDULED session CANCELLED and, when
// deleteMeeting, marks its meeting's deletion pending. A CANCELLED session
// is returned as it is. ECONFLICT for a LIVE or ENDED one; ENOTFOUND.
func (s *Store) CancelLiveSession(_ context.Context, id int64, deleteMeeting bool) (*edustream.LiveSession, error) {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, ok := s.sessions[id]
	if !ok {
		return nil, notFound("live session", id)
	}
	switch ls.Status {
	case edustream.LiveScheduled:
		ls.Status, ls.MeetingDeletePending, ls.CancelledAt, ls.UpdatedAt = edustream.LiveCancelled, deleteMeeting, &now, now
		ls.Version++
	case edustream.LiveCancelled:
	default:
		return nil, edustream.Errorf(edustream.ECONFLICT, "live session %d is %s and can no longer be cancelled", id, ls.Status)
	}
	return copySession(ls), nil
}

// MarkMeetingDeleted clears the session's pending meeting delete, without
// a version bump: nothing a viewer sees changes. A missing session is not
// an error.
func (s *Store) MarkMeetingDeleted(_ context.Context, id int64) error {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ls, ok := s.sessions[id]; ok {
		ls.MeetingDeletePending, ls.UpdatedAt = false, now
	}
	return nil
}

// FindPendingMeetingDeletes returns the sessions whose meeting waits to be
// deleted, oldest first.
func (s *Store) FindPendingMeetingDeletes(context.Context) ([]*edustream.LiveSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionsWhere(func(ls *edustream.LiveSession) bool { return ls.MeetingDeletePending }, nil), nil
}

// FindActiveLiveSessions returns the SCHEDULED and LIVE sessions that end
// after since, soonest first.
func (s *Store) FindActiveLiveSessions(_ context.Context, since time.Time) ([]*edustream.LiveSession, error) {
	since = utcMicro(since)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionsWhere(func(ls *edustream.LiveSession) bool {
		return (ls.Status == edustream.LiveScheduled || ls.Status == edustream.LiveLive) && ls.EndsAt.After(since)
	}, func(a, b *edustream.LiveSession) int { return a.StartsAt.Compare(b.StartsAt) }), nil
}

// FindEndedWithoutRecording returns the ENDED sessions that ended after
// since without a recording lecture, oldest end first.
func (s *Store) FindEndedWithoutRecording(_ context.Context, since time.Time) ([]*edustream.LiveSession, error) {
	since = utcMicro(since)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionsWhere(func(ls *edustream.LiveSession) bool {
		return ls.Status == edustream.LiveEnded && ls.EndsAt.After(since) && ls.RecordingLectureID == nil
	}, func(a, b *edustream.LiveSession) int { return a.EndsAt.Compare(b.EndsAt) }), nil
}

// SetRecordingLecture links the session to lectureID unless it has a
// recording lecture already, and returns it and whether it changed.
// ENOTFOUND.
func (s *Store) SetRecordingLecture(_ context.Context, id, lectureID int64) (*edustream.LiveSession, bool, error) {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, ok := s.sessions[id]
	if !ok {
		return nil, false, notFound("live session", id)
	}
	if ls.RecordingLectureID != nil {
		return copySession(ls), false, nil
	}
	ls.RecordingLectureID, ls.UpdatedAt = &lectureID, now
	ls.Version++
	return copySession(ls), true, nil
}

// ClaimLiveRecording records the import of r.RecordingID and appends
// lecture to its course (setting the lecture's ID, position and
// timestamps), and returns the claim. A recording claimed before is
// returned as it was, and no lecture is created. As in sqldb, r itself is
// not changed: the returned claim carries the lecture's id. EINVALID
// without a recording id or for a bad lecture; ENOTFOUND for a hidden or
// missing course; ECONFLICT for a full one.
func (s *Store) ClaimLiveRecording(_ context.Context, r *edustream.LiveRecording, lecture *edustream.Lecture) (*edustream.LiveRecording, error) {
	if r.RecordingID == "" {
		return nil, edustream.Errorf(edustream.EINVALID, "a recording claim needs a recording id")
	}
	if err := lecture.Validate(); err != nil {
		return nil, err
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if claim, ok := s.recordings[r.RecordingID]; ok {
		return copyRecording(claim), nil
	}
	if _, ok := s.visibleCourse(lecture.CourseID); !ok {
		return nil, notFound("course", lecture.CourseID)
	}
	lecture.Position, lecture.VideoID = 0, nil
	if err := s.insertLecture(lecture, now); err != nil {
		return nil, err
	}
	claim := &edustream.LiveRecording{RecordingID: r.RecordingID, SessionID: r.SessionID, LectureID: lecture.ID, CreatedAt: now}
	s.recordings[r.RecordingID] = claim
	return copyRecording(claim), nil
}

func copyRecording(r *edustream.LiveRecording) *edustream.LiveRecording {
	cp := *r
	cp.ImportedAt = copyPtr(r.ImportedAt)
	return &cp
}

// SetLiveRecordingVideo records the video of a claimed recording, unless
// it has one. ENOTFOUND for a recording never claimed.
func (s *Store) SetLiveRecordingVideo(_ context.Context, recordingID string, videoID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recordings[recordingID]
	if !ok {
		return edustream.Errorf(edustream.ENOTFOUND, "recording %s was never claimed", recordingID)
	}
	if r.VideoID == 0 {
		r.VideoID = videoID
	}
	return nil
}

// MarkLiveRecordingImported records, once, that the recording's import is
// done. ENOTFOUND for a recording never claimed.
func (s *Store) MarkLiveRecordingImported(_ context.Context, recordingID string) error {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recordings[recordingID]
	if !ok {
		return edustream.Errorf(edustream.ENOTFOUND, "recording %s was never claimed", recordingID)
	}
	if r.ImportedAt == nil {
		r.ImportedAt = &now
	}
	return nil
}
