package sqldb

import (
	"context"
	"strings"

	"github.com/edustream/edustream"
)

// The reads of the admins' screens: every video, and the live sessions and
// recordings the tasks are about, each one query per page.

// CountVideos counts the videos of visible lectures, not replaced, by
// status, in one query.
func (s *VideoService) CountVideos(ctx context.Context) (map[edustream.VideoStatus]int, error) {
	rows, err := s.db.reader(ctx).query(ctx, `SELECT v.status, COUNT(*) FROM videos v
JOIN lectures l ON l.id = v.lecture_id
JOIN courses c ON c.id = l.course_id AND c.deleted_at IS NULL
WHERE v.replaced_at IS NULL GROUP BY v.status`)
	if err != nil {
		return nil, dbError(err, "count", "videos", 0)
	}
	defer rows.Close()
	counts := map[edustream.VideoStatus]int{}
	for rows.Next() {
		var status edustream.VideoStatus
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, dbError(err, "count", "videos", 0)
		}
		counts[status] = n
	}
	return counts, dbError(rows.Err(), "count", "videos", 0)
}

// FindVideos returns one page of the videos of visible lectures, not
// replaced, newest first, with one query: it fetches Limit+1 rows, and the
// extra row only says that more follow. EINVALID for a negative limit.
func (s *VideoService) FindVideos(ctx context.Context, f edustream.VideoFilter) ([]*edustream.Video, bool, error) {
	if f.Limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "page size must not be negative")
	}
	where := []string{"v.replaced_at IS NULL"}
	var args []any
	if f.Status != nil {
		where = append(where, "v.status = ?")
		args = append(args, *f.Status)
	}
	if f.BeforeID != 0 {
		where = append(where, "v.id < ?")
		args = append(args, f.BeforeID)
	}
	args = append(args, f.Limit+1)
	videos, err := queryAll(ctx, s.db.reader(ctx), scanVideo, "SELECT "+videoColumns+` FROM videos v
JOIN lectures l ON l.id = v.lecture_id
JOIN courses c ON c.id = l.course_id AND c.deleted_at IS NULL
WHERE `+strings.Join(where, " AND ")+" ORDER BY v.id DESC LIMIT ?", args...)
	if err != nil {
		return nil, false, dbError(err, "find", "videos", 0)
	}
	if len(videos) > f.Limit {
		return videos[:f.Limit], true, nil
	}
	return videos, false, nil
}

// FindLiveSessionsByIDs returns the sessions that exist among ids, keyed by
// id, with one query.
func (ls *LiveSessionService) FindLiveSessionsByIDs(ctx context.Context, ids []int64) (map[int64]*edustream.LiveSession, error) {
	out := make(map[int64]*edustream.LiveSession, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	sessions, err := queryAll(ctx, ls.db.reader(ctx), scanLiveSession,
		"SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.id IN ("+in+")", args...)
	if err != nil {
		return nil, dbError(err, "find", "live sessions", 0)
	}
	for _, s := range sessions {
		out[s.ID] = s
	}
	return out, nil
}

// FindLiveSessionsByMeetingIDs returns the sessions of the meeting series
// among meetingIDs, keyed by meeting id, with one query.
func (ls *LiveSessionService) FindLiveSessionsByMeetingIDs(ctx context.Context, meetingIDs []string) (map[string]*edustream.LiveSession, error) {
	out := make(map[string]*edustream.LiveSession, len(meetingIDs))
	if len(meetingIDs) == 0 {
		return out, nil
	}
	in, args := inStrings(meetingIDs)
	sessions, err := queryAll(ctx, ls.db.reader(ctx), scanLiveSession,
		"SELECT "+liveSessionColumns+" FROM live_sessions s WHERE s.meeting_id IN ("+in+")", args...)
	if err != nil {
		return nil, dbError(err, "find", "live sessions by meeting", 0)
	}
	for _, s := range sessions {
		out[s.MeetingID] = s
	}
	return out, nil
}

// FindLiveRecordingsByIDs returns the recordings claimed among
// recordingIDs, keyed by recording id, with one query.
func (ls *LiveSessionService) FindLiveRecordingsByIDs(ctx context.Context, recordingIDs []string) (map[string]*edustream.LiveRecording, error) {
	out := make(map[string]*edustream.LiveRecording, len(recordingIDs))
	if len(recordingIDs) == 0 {
		return out, nil
	}
	in, args := inStrings(recordingIDs)
	recordings, err := queryAll(ctx, ls.db.reader(ctx), scanLiveRecording,
		"SELECT "+liveRecordingColumns+" FROM live_recordings r WHERE r.recording_id IN ("+in+")", args...)
	if err != nil {
		return nil, dbError(err, "find", "live recordings", 0)
	}
	for _, r := range recordings {
		out[r.RecordingID] = r
	}
	return out, nil
}

// inStrings is inList for text keys: the placeholders for keys, without
// duplicates, and the matching arguments. keys must not be empty.
func inStrings(keys []string) (string, []any) {
	seen := make(map[string]bool, len(keys))
	args := make([]any, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			args = append(args, k)
		}
	}
	return strings.Repeat("?, ", len(args)-1) + "?", args
}
