package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// LiveSessionService implements edustream.LiveSessionService.
//
// Every change of a session is a conditional UPDATE (on its status, or its
// version), so webhooks that repeat or arrive out of order, the sync and
// the mutations can race without moving a session backwards.
type LiveSessionService struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.LiveSessionService = (*LiveSessionService)(nil)

// NewLiveSessionService returns a LiveSessionService on db that stamps
// times with now (nil: time.Now).
func NewLiveSessionService(db *DB, now edustream.Clock) *LiveSessionService {
	return &LiveSessionService{db: db, now: clockOrNow(now)}
}

const liveSessionColumns = "s.id, s.course_id, s.creator_id, s.title, s.agenda, s.starts_at, s.ends_at, s.status, s.version, " +
	"s.meeting_id, s.meeting_number, s.join_url, s.password, s.host_key, s.sip_address, s.meeting_delete_pending, " +
	"s.recording_lecture_id, s.idempotency_key, s.started_at, s.ended_at, s.cancelled_at, s.created_at, s.updated_at"

func scanLiveSession(sc scanner) (*edustream.LiveSession, error) {
	var s edustream.LiveSession
	var lecture sql.NullInt64
	var key sql.NullString
	var started, ended, cancelled sql.Null[time.Time]
	if err := sc.Scan(&s.ID, &s.CourseID, &s.CreatorID, &s.Title, &s.Agenda, &s.StartsAt, &s.EndsAt, &s.Status, &s.Version,
		&s.MeetingID, &s.MeetingNumber, &s.JoinURL, &s.Password, &s.HostKey, &s.SIPAddress, &s.MeetingDeletePending,
		&lecture, &key, &started, &ended, &cancelled, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	if lecture.Valid {
		s.RecordingLectureID = &lecture.Int64
	}
	s.IdempotencyKey = key.String
	s.StartsAt, s.EndsAt, s.CreatedAt, s.UpdatedAt = s.StartsAt.UTC(), s.EndsAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.StartedAt, s.EndedAt, s.CancelledAt = timePtr(started), timePtr(ended), timePtr(cancelled)
	return &s, nil
}

// liveSessionByID reads a session through h.
func liveSessionByID(ctx context.Context, h handle, id int64) (*edustream.LiveSession, error) {
	return scanLiveSession(h.queryRow(ctx, "SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.id = ?", id))
}

// CreateLiveSession inserts s as SCHEDULED at version 1. ECONFLICT when
// the creator already used s.IdempotencyKey or the meeting is another
// session's; EINVALID without a course, creator or meeting.
func (ls *LiveSessionService) CreateLiveSession(ctx context.Context, s *edustream.LiveSession) error {
	if s.CourseID <= 0 || s.CreatorID <= 0 || s.MeetingID == "" {
		return edustream.Errorf(edustream.EINVALID, "a live session needs a course, a creator and a meeting")
	}
	now := utcMicro(ls.now())
	var key any
	if s.IdempotencyKey != "" {
		key = s.IdempotencyKey
	}
	res, err := ls.db.writer().exec(ctx, `INSERT INTO live_sessions (course_id, creator_id, title, agenda, starts_at, ends_at, status, version,
  meeting_id, meeting_number, join_url, password, host_key, sip_address, meeting_delete_pending, recording_lecture_id, idempotency_key,
  started_at, ended_at, cancelled_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL, NULL, ?, ?)`,
		s.CourseID, s.CreatorID, s.Title, s.Agenda, utcMicro(s.StartsAt), utcMicro(s.EndsAt), edustream.LiveScheduled,
		s.MeetingID, s.MeetingNumber, s.JoinURL, s.Password, s.HostKey, s.SIPAddress, false, key, now, now)
	if err != nil {
		return dbError(err, "create", "live session", 0)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbError(err, "create", "live session", 0)
	}
	s.ID, s.Status, s.Version, s.MeetingDeletePending, s.RecordingLectureID = id, edustream.LiveScheduled, 1, false, nil
	s.StartsAt, s.EndsAt, s.CreatedAt, s.UpdatedAt = utcMicro(s.StartsAt), utcMicro(s.EndsAt), now, now
	s.StartedAt, s.EndedAt, s.CancelledAt = nil, nil, nil
	return nil
}

// FindLiveSessionByID returns a session. ENOTFOUND.
func (ls *LiveSessionService) FindLiveSessionByID(ctx context.Context, id int64) (*edustream.LiveSession, error) {
	s, err := liveSessionByID(ctx, ls.db.reader(ctx), id)
	if err != nil {
		return nil, dbError(err, "find", "live session", id)
	}
	return s, nil
}

// FindLiveSessionByIdempotencyKey returns the session the creator made
// with key, read on the primary: a retry must see the create it repeats.
// ENOTFOUND.
func (ls *LiveSessionService) FindLiveSessionByIdempotencyKey(ctx context.Context, creatorID int64, key string) (*edustream.LiveSession, error) {
	s, err := scanLiveSession(ls.db.writer().queryRow(ctx,
		"SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.creator_id = ? AND s.idempotency_key = ?", creatorID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "no live session with this clientMutationId")
	}
	return s, dbError(err, "find", "live session by key", 0)
}

// FindLiveSessionByMeeting returns the session of a meeting series or,
// without one, the newest with the meeting number; read on the primary, as
// webhooks and tasks decide on it. ENOTFOUND.
func (ls *LiveSessionService) FindLiveSessionByMeeting(ctx context.Context, seriesID, meetingNumber string) (*edustream.LiveSession, error) {
	var row *sqlRow
	switch {
	case seriesID != "":
		row = ls.db.writer().queryRow(ctx, "SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.meeting_id = ?", seriesID)
	case meetingNumber != "":
		row = ls.db.writer().queryRow(ctx, "SELECT "+liveSessionColumns+
			" FROM live_sessions s WHERE s.meeting_number = ? ORDER BY s.id DESC LIMIT 1", meetingNumber)
	default:
		return nil, edustream.Errorf(edustream.ENOTFOUND, "no live session for a meeting without id or number")
	}
	s, err := scanLiveSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "no live session for meeting %s%s", seriesID, meetingNumber)
	}
	return s, dbError(err, "find", "live session by meeting", 0)
}

// FindLiveSessionsByCourseIDs returns each course's sessions matching f,
// at most f.Limit per course, with one query: upcoming ones soonest first,
// then past ones latest first.
func (ls *LiveSessionService) FindLiveSessionsByCourseIDs(ctx context.Context, courseIDs []int64, f edustream.LiveSessionFilter) (map[int64][]*edustream.LiveSession, error) {
	out := make(map[int64][]*edustream.LiveSession, len(courseIDs))
	if len(courseIDs) == 0 || f.Limit <= 0 {
		return out, nil
	}
	now := utcMicro(f.Now)
	// upcoming mirrors edustream.LiveSession.Upcoming.
	const upcoming = "(s.status = ? OR (s.status = ? AND s.ends_at > ?))"
	upArgs := []any{edustream.LiveLive, edustream.LiveScheduled, now}
	in, ids := inList(courseIDs)
	var args []any
	args = append(args, upArgs...)
	args = append(args, upArgs...)
	args = append(args, ids...)
	where := "s.course_id IN (" + in + ")"
	if f.Past != nil {
		if *f.Past {
			where += " AND NOT " + upcoming
		} else {
			where += " AND " + upcoming
		}
		args = append(args, upArgs...)
	}
	args = append(args, f.Limit)
	sessions, err := queryAll(ctx, ls.db.reader(ctx), scanLiveSession, "SELECT "+liveSessionColumns+` FROM (
  SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s.course_id ORDER BY
    CASE WHEN `+upcoming+` THEN 0 ELSE 1 END,
    CASE WHEN `+upcoming+` THEN s.starts_at END,
    s.starts_at DESC, s.id) AS rn
  FROM live_sessions s WHERE `+where+`
) s WHERE s.rn <= ? ORDER BY s.course_id, s.rn`, args...)
	if err != nil {
		return nil, dbError(err, "find", "live sessions", 0)
	}
	for _, s := range sessions {
		out[s.CourseID] = append(out[s.CourseID], s)
	}
	return out, nil
}

// UpdateLiveSession applies upd to a SCHEDULED session at upd.Version.
// ECONFLICT when it moved on; ENOTFOUND.
func (ls *LiveSessionService) UpdateLiveSession(ctx context.Context, id int64, upd edustream.LiveSessionUpdate) (*edustream.LiveSession, error) {
	now := utcMicro(ls.now())
	var s *edustream.LiveSession
	err := ls.db.inTx(ctx, func(tx handle) error {
		n, err := rowsAffected(tx.exec(ctx, `UPDATE live_sessions SET title = ?, agenda = ?, starts_at = ?, ends_at = ?,
  version = version + 1, updated_at = ? WHERE id = ? AND version = ? AND status = ?`,
			upd.Title, upd.Agenda, utcMicro(upd.StartsAt), utcMicro(upd.EndsAt), now, id, upd.Version, edustream.LiveScheduled))
		if err != nil {
			return err
		}
		if s, err = liveSessionByID(ctx, tx, id); err != nil {
			return err
		}
		if n == 0 {
			return edustream.Errorf(edustream.ECONFLICT, "live session %d changed meanwhile (it is %s); reload it and try again", id, s.Status)
		}
		return nil
	})
	if err != nil {
		return nil, dbError(err, "update", "live session", id)
	}
	return s, nil
}

// TransitionLiveSession moves the session to status to if it is in one of
// from, stamping when it started, ended or was cancelled.
func (ls *LiveSessionService) TransitionLiveSession(ctx context.Context, id int64, from []edustream.LiveSessionStatus, to edustream.LiveSessionStatus) (*edustream.LiveSession, bool, error) {
	if len(from) == 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "a transition needs a status to move from")
	}
	now := utcMicro(ls.now())
	args := []any{to, now, to, edustream.LiveLive, now, to, edustream.LiveEnded, now, to, edustream.LiveCancelled, now, id}
	for _, st := range from {
		args = append(args, st)
	}
	var s *edustream.LiveSession
	var moved bool
	err := ls.db.inTx(ctx, func(tx handle) error {
		n, err := rowsAffected(tx.exec(ctx, `UPDATE live_sessions SET status = ?, version = version + 1, updated_at = ?,
  started_at = CASE WHEN ? = ? THEN COALESCE(started_at, ?) ELSE started_at END,
  ended_at = CASE WHEN ? = ? THEN ? ELSE ended_at END,
  cancelled_at = CASE WHEN ? = ? THEN ? ELSE cancelled_at END
WHERE id = ? AND status IN (`+strings.Repeat("?, ", len(from)-1)+"?)", args...))
		if err != nil {
			return err
		}
		moved = n > 0
		s, err = liveSessionByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, false, dbError(err, "move", "live session", id)
	}
	return s, moved, nil
}

// CancelLiveSession makes a SCHEDULED session CANCELLED, locking it first
// so a concurrent start cannot slip in between the check and the write.
func (ls *LiveSessionService) CancelLiveSession(ctx context.Context, id int64, deleteMeeting bool) (*edustream.LiveSession, error) {
	now := utcMicro(ls.now())
	var s *edustream.LiveSession
	err := ls.db.inTx(ctx, func(tx handle) error {
		var status edustream.LiveSessionStatus
		if err := tx.queryRow(ctx, "SELECT status FROM live_sessions WHERE id = ?"+ls.db.dialect.forUpdate, id).Scan(&status); err != nil {
			return err
		}
		switch status {
		case edustream.LiveScheduled:
			if _, err := tx.exec(ctx, `UPDATE live_sessions SET status = ?, meeting_delete_pending = ?, cancelled_at = ?,
  version = version + 1, updated_at = ? WHERE id = ?`, edustream.LiveCancelled, deleteMeeting, now, now, id); err != nil {
				return err
			}
		case edustream.LiveCancelled:
		default:
			return edustream.Errorf(edustream.ECONFLICT, "live session %d is %s and can no longer be cancelled", id, status)
		}
		var err error
		s, err = liveSessionByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, dbError(err, "cancel", "live session", id)
	}
	return s, nil
}

// MarkMeetingDeleted clears the session's pending meeting delete. It does
// not bump the version: nothing a viewer sees changes.
func (ls *LiveSessionService) MarkMeetingDeleted(ctx context.Context, id int64) error {
	_, err := ls.db.writer().exec(ctx, "UPDATE live_sessions SET meeting_delete_pending = ?, updated_at = ? WHERE id = ?",
		false, utcMicro(ls.now()), id)
	return dbError(err, "mark meeting deleted of", "live session", id)
}

// FindPendingMeetingDeletes returns the sessions whose meeting waits to be
// deleted, oldest first.
func (ls *LiveSessionService) FindPendingMeetingDeletes(ctx context.Context) ([]*edustream.LiveSession, error) {
	sessions, err := queryAll(ctx, ls.db.writer(), scanLiveSession,
		"SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.meeting_delete_pending = ? ORDER BY s.id", true)
	return sessions, dbError(err, "find pending meeting deletes of", "live sessions", 0)
}

// FindActiveLiveSessions returns the SCHEDULED and LIVE sessions that end
// after since, soonest first.
func (ls *LiveSessionService) FindActiveLiveSessions(ctx context.Context, since time.Time) ([]*edustream.LiveSession, error) {
	sessions, err := queryAll(ctx, ls.db.writer(), scanLiveSession,
		"SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.status IN (?, ?) AND s.ends_at > ? ORDER BY s.starts_at, s.id",
		edustream.LiveScheduled, edustream.LiveLive, utcMicro(since))
	return sessions, dbError(err, "find active", "live sessions", 0)
}

// FindEndedWithoutRecording returns the ENDED sessions that ended after
// since without a recording lecture, oldest end first.
func (ls *LiveSessionService) FindEndedWithoutRecording(ctx context.Context, since time.Time) ([]*edustream.LiveSession, error) {
	sessions, err := queryAll(ctx, ls.db.writer(), scanLiveSession,
		"SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.status = ? AND s.ends_at > ? AND s.recording_lecture_id IS NULL ORDER BY s.ends_at, s.id",
		edustream.LiveEnded, utcMicro(since))
	return sessions, dbError(err, "find ended without recording", "live sessions", 0)
}

// SetRecordingLecture links the session to lectureID unless it has a
// recording lecture already.
func (ls *LiveSessionService) SetRecordingLecture(ctx context.Context, id, lectureID int64) (*edustream.LiveSession, bool, error) {
	var s *edustream.LiveSession
	var changed bool
	err := ls.db.inTx(ctx, func(tx handle) error {
		n, err := rowsAffected(tx.exec(ctx, `UPDATE live_sessions SET recording_lecture_id = ?, version = version + 1, updated_at = ?
WHERE id = ? AND recording_lecture_id IS NULL`, lectureID, utcMicro(ls.now()), id))
		if err != nil {
			return err
		}
		changed = n > 0
		s, err = liveSessionByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, false, dbError(err, "link recording lecture of", "live session", id)
	}
	return s, changed, nil
}
