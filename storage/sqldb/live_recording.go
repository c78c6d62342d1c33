package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/edustream/edustream"
)

// The imports of live sessions' recordings, part of LiveSessionService.

const liveRecordingColumns = "r.recording_id, r.session_id, r.lecture_id, r.video_id, r.imported_at, r.created_at"

func scanLiveRecording(sc scanner) (*edustream.LiveRecording, error) {
	var r edustream.LiveRecording
	var video sql.NullInt64
	var imported sql.Null[time.Time]
	if err := sc.Scan(&r.RecordingID, &r.SessionID, &r.LectureID, &video, &imported, &r.CreatedAt); err != nil {
		return nil, err
	}
	r.VideoID, r.ImportedAt, r.CreatedAt = video.Int64, timePtr(imported), r.CreatedAt.UTC()
	return &r, nil
}

// ClaimLiveRecording records the import of r.RecordingID and appends
// lecture to its course in one transaction, so a lecture exists exactly
// when the claim does. The course is locked before the claim is looked
// for, which serialises two claims of one recording (a recording belongs
// to one course); the second finds the first's row and creates nothing.
func (ls *LiveSessionService) ClaimLiveRecording(ctx context.Context, r *edustream.LiveRecording, lecture *edustream.Lecture) (*edustream.LiveRecording, error) {
	if r.RecordingID == "" {
		return nil, edustream.Errorf(edustream.EINVALID, "a recording claim needs a recording id")
	}
	if err := lecture.Validate(); err != nil {
		return nil, err
	}
	now := utcMicro(ls.now())
	var out *edustream.LiveRecording
	err := ls.db.inTx(ctx, func(tx handle) error {
		find := func(lock string) error {
			var err error
			out, err = scanLiveRecording(tx.queryRow(ctx, "SELECT "+liveRecordingColumns+" FROM live_recordings r WHERE r.recording_id = ?"+lock, r.RecordingID))
			return err
		}
		// Claimed already: no need to lock (or even find) the course.
		if err := find(""); !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := ls.db.lockCourse(ctx, tx, lecture.CourseID); err != nil {
			return dbError(err, "lock", "course", lecture.CourseID)
		}
		if err := find(ls.db.dialect.forUpdate); !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		lecture.Position, lecture.VideoID = 0, nil
		if err := insertLecture(ctx, tx, lecture, now); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO live_recordings (recording_id, session_id, lecture_id, video_id, imported_at, created_at, updated_at)
VALUES (?, ?, ?, NULL, NULL, ?, ?)`, r.RecordingID, r.SessionID, lecture.ID, now, now); err != nil {
			return err
		}
		out = &edustream.LiveRecording{RecordingID: r.RecordingID, SessionID: r.SessionID, LectureID: lecture.ID, CreatedAt: now}
		return nil
	})
	if err != nil {
		return nil, dbError(err, "claim recording of", "live session", r.SessionID)
	}
	return out, nil
}

// SetLiveRecordingVideo records the video of a claimed recording, unless
// it has one.
func (ls *LiveSessionService) SetLiveRecordingVideo(ctx context.Context, recordingID string, videoID int64) error {
	return ls.updateRecording(ctx, "record the video of", recordingID,
		"UPDATE live_recordings SET video_id = ?, updated_at = ? WHERE recording_id = ? AND video_id IS NULL", videoID)
}

// MarkLiveRecordingImported records that the recording's import is done.
func (ls *LiveSessionService) MarkLiveRecordingImported(ctx context.Context, recordingID string) error {
	now := utcMicro(ls.now())
	return ls.updateRecording(ctx, "mark imported", recordingID,
		"UPDATE live_recordings SET imported_at = COALESCE(imported_at, ?), updated_at = ? WHERE recording_id = ?", now)
}

// updateRecording runs query with (arg, now, recordingID). ENOTFOUND for
// a recording never claimed.
func (ls *LiveSessionService) updateRecording(ctx context.Context, op, recordingID, query string, arg any) error {
	n, err := rowsAffected(ls.db.writer().exec(ctx, query, arg, utcMicro(ls.now()), recordingID))
	if err != nil {
		return dbError(err, op, "recording "+recordingID, 0)
	}
	if n == 0 {
		var exists int
		err := ls.db.writer().queryRow(ctx, "SELECT COUNT(*) FROM live_recordings WHERE recording_id = ?", recordingID).Scan(&exists)
		if err != nil {
			return dbError(err, op, "recording "+recordingID, 0)
		}
		if exists == 0 {
			return edustream.Errorf(edustream.ENOTFOUND, "recording %s was never claimed", recordingID)
		}
	}
	return nil
}
