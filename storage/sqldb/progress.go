package sqldb

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/edustream/edustream"
)

// ProgressService implements edustream.ProgressService on the
// lecture_progress table: one row per (viewer, lecture). A beat costs one
// read (FindWatchTarget: the lecture, its course, the enrollment, the
// current video and the row, joined) and one write: an INSERT for a
// viewer's first beat, else an UPDATE conditional on the version read.
// The watched seconds are a few bytes of run-length encoding; the
// analytics read them, one row per learner, in one query.
type ProgressService struct {
	db *DB
}

var _ edustream.ProgressService = (*ProgressService)(nil)

// NewProgressService returns a ProgressService on db. It reads no clock:
// the domain (edustream.Progress) stamps every time a row holds.
func NewProgressService(db *DB) *ProgressService {
	return &ProgressService{db: db}
}

// progressColumns are read with lectures l joined, for the course id.
const progressColumns = "p.lecture_id, p.user_id, l.course_id, p.video_id, p.video_duration, p.watched, p.watched_seconds, " +
	"p.position_seconds, p.played_seconds, p.learner, p.completed_at, p.last_watched_at, p.budget_at, p.recent_beats, " +
	"p.version, p.created_at"

// progressRow scans progressColumns, all nullable: a LEFT JOIN may find
// no row (version is then NULL).
type progressRow struct {
	lectureID, userID, courseID, videoID, version sql.NullInt64
	duration, watchedSeconds, position, played    sql.NullFloat64
	watched, recent                               []byte
	learner                                       sql.NullBool
	completed, lastWatched, budget, created       sql.Null[time.Time]
}

func (r *progressRow) dest() []any {
	return []any{&r.lectureID, &r.userID, &r.courseID, &r.videoID, &r.duration, &r.watched, &r.watchedSeconds,
		&r.position, &r.played, &r.learner, &r.completed, &r.lastWatched, &r.budget, &r.recent, &r.version, &r.created}
}

// progress returns the row, or nil when there was none.
func (r *progressRow) progress() (*edustream.LectureProgress, error) {
	if !r.version.Valid {
		return nil, nil
	}
	p := &edustream.LectureProgress{
		LectureID: r.lectureID.Int64, UserID: r.userID.Int64, CourseID: r.courseID.Int64,
		VideoID: r.videoID.Int64, VideoDuration: r.duration.Float64, WatchedSeconds: r.watchedSeconds.Float64,
		PositionSeconds: r.position.Float64, PlayedSeconds: r.played.Float64, Learner: r.learner.Bool,
		CompletedAt: timePtr(r.completed), LastWatchedAt: r.lastWatched.V.UTC(), BudgetAt: r.budget.V.UTC(),
		Version: r.version.Int64, CreatedAt: r.created.V.UTC(),
	}
	if err := p.Watched.UnmarshalBinary(r.watched); err != nil {
		return nil, fmt.Errorf("progress of user %d in lecture %d: %w", p.UserID, p.LectureID, err)
	}
	if len(r.recent) == 8*len(p.RecentBeats) {
		for i := range p.RecentBeats {
			p.RecentBeats[i] = binary.LittleEndian.Uint64(r.recent[8*i:])
		}
	}
	return p, nil
}

func scanProgress(s scanner) (*edustream.LectureProgress, error) {
	var r progressRow
	if err := s.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.progress()
}

// FindWatchTarget reads what a beat needs in one query, from the primary:
// the beat writes over the version it reads, and a replica's would be
// stale. ENOTFOUND for a missing lecture or one of a hidden course.
func (s *ProgressService) FindWatchTarget(ctx context.Context, userID, lectureID int64) (*edustream.WatchTarget, error) {
	var (
		t         = &edustream.WatchTarget{Course: &edustream.Course{}}
		published sql.Null[time.Time]
		enrolled  int64
		videoID   sql.NullInt64
		status    sql.NullString
		media     sql.NullString
		r         progressRow
	)
	err := s.db.writer().queryRow(ctx, `SELECT l.id, c.id, c.instructor_id, c.published_at,
  (SELECT COUNT(*) FROM enrollments e WHERE e.user_id = ? AND e.course_id = c.id),
  v.id, v.status, v.media, `+progressColumns+`
FROM lectures l
JOIN courses c ON c.id = l.course_id AND c.deleted_at IS NULL
LEFT JOIN videos v ON v.id = l.video_id
LEFT JOIN lecture_progress p ON p.lecture_id = l.id AND p.user_id = ?
WHERE l.id = ?`, userID, userID, lectureID).Scan(append([]any{&t.LectureID, &t.Course.ID, &t.Course.InstructorID, &published,
		&enrolled, &videoID, &status, &media}, r.dest()...)...)
	if err != nil {
		return nil, dbError(err, "find", "lecture", lectureID)
	}
	t.Course.PublishedAt, t.Enrolled = timePtr(published), enrolled > 0
	if videoID.Valid {
		t.Video = &edustream.Video{ID: videoID.Int64, LectureID: lectureID, Status: edustream.VideoStatus(status.String)}
		if media.Valid && media.String != "" {
			t.Video.Media = &edustream.MediaInfo{}
			if err := json.Unmarshal([]byte(media.String), t.Video.Media); err != nil {
				return nil, fmt.Errorf("video %d media: %w", videoID.Int64, err)
			}
		}
	}
	if t.Progress, err = r.progress(); err != nil {
		return nil, err
	}
	return t, nil
}

// progressArgs are the stored columns of p, in the order of the INSERT
// and of the UPDATE's SET.
func progressArgs(p *edustream.LectureProgress) []any {
	watched, _ := p.Watched.MarshalBinary()
	recent := make([]byte, 8*len(p.RecentBeats))
	for i, d := range p.RecentBeats {
		binary.LittleEndian.PutUint64(recent[8*i:], d)
	}
	return []any{p.VideoID, p.VideoDuration, watched, p.WatchedSeconds, p.PositionSeconds, p.PlayedSeconds, p.Learner,
		nullTime(p.CompletedAt), utcMicro(p.LastWatchedAt), utcMicro(p.BudgetAt), recent, p.Version}
}

// SaveLectureProgress writes p with one statement: an INSERT at version
// 1, an UPDATE over version p.Version-1 after. ECONFLICT when another
// write got there first.
func (s *ProgressService) SaveLectureProgress(ctx context.Context, p *edustream.LectureProgress) error {
	h := s.db.writer()
	conflict := edustream.Errorf(edustream.ECONFLICT, "the progress of user %d in lecture %d changed meanwhile", p.UserID, p.LectureID)
	if p.Version == 1 {
		_, err := h.exec(ctx, `INSERT INTO lecture_progress (video_id, video_duration, watched, watched_seconds, position_seconds,
  played_seconds, learner, completed_at, last_watched_at, budget_at, recent_beats, version, lecture_id, user_id, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append(progressArgs(p), p.LectureID, p.UserID, utcMicro(p.CreatedAt))...)
		if isDuplicate(err) {
			return conflict
		}
		return dbError(err, "save the progress in", "lecture", p.LectureID)
	}
	n, err := rowsAffected(h.exec(ctx, `UPDATE lecture_progress SET video_id = ?, video_duration = ?, watched = ?,
  watched_seconds = ?, position_seconds = ?, played_seconds = ?, learner = ?, completed_at = ?, last_watched_at = ?,
  budget_at = ?, recent_beats = ?, version = ?
WHERE lecture_id = ? AND user_id = ? AND version = ?`, append(progressArgs(p), p.LectureID, p.UserID, p.Version-1)...))
	if err != nil {
		return dbError(err, "save the progress in", "lecture", p.LectureID)
	}
	if n == 0 {
		return conflict
	}
	return nil
}

// FindLectureProgress returns the user's progress among lectureIDs, with
// one query.
func (s *ProgressService) FindLectureProgress(ctx context.Context, userID int64, lectureIDs []int64) (map[int64]*edustream.LectureProgress, error) {
	out := make(map[int64]*edustream.LectureProgress, len(lectureIDs))
	if len(lectureIDs) == 0 {
		return out, nil
	}
	in, args := inList(lectureIDs)
	rows, err := queryAll(ctx, s.db.reader(ctx), scanProgress,
		"SELECT "+progressColumns+" FROM lecture_progress p JOIN lectures l ON l.id = p.lecture_id WHERE p.user_id = ? AND p.lecture_id IN ("+in+")",
		append([]any{userID}, args...)...)
	if err != nil {
		return nil, dbError(err, "find the progress of", "user", userID)
	}
	for _, p := range rows {
		out[p.LectureID] = p
	}
	return out, nil
}

// FindCourseProgress counts the user's completed lectures among each
// course's lectures with a READY video (lectures.video_id is set only
// when one is), with one query.
func (s *ProgressService) FindCourseProgress(ctx context.Context, userID int64, courseIDs []int64) (map[int64]*edustream.CourseProgress, error) {
	out := make(map[int64]*edustream.CourseProgress, len(courseIDs))
	for _, id := range courseIDs {
		out[id] = &edustream.CourseProgress{CourseID: id}
	}
	if len(courseIDs) == 0 {
		return out, nil
	}
	in, args := inList(courseIDs)
	rows, err := s.db.reader(ctx).query(ctx, `SELECT l.course_id, COUNT(*), COUNT(p.completed_at), MAX(p.completed_at)
FROM lectures l LEFT JOIN lecture_progress p ON p.lecture_id = l.id AND p.user_id = ?
WHERE l.course_id IN (`+in+`) AND l.video_id IS NOT NULL GROUP BY l.course_id`, append([]any{userID}, args...)...)
	if err != nil {
		return nil, dbError(err, "find the course progress of", "user", userID)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var cp edustream.CourseProgress
		var last aggregateTime
		if err := rows.Scan(&id, &cp.TotalLectures, &cp.CompletedLectures, &last); err != nil {
			return nil, dbError(err, "find the course progress of", "user", userID)
		}
		cp.CourseID = id
		if cp.Complete() {
			cp.CompletedAt = last.ptr()
		}
		out[id] = &cp
	}
	return out, dbError(rows.Err(), "find the course progress of", "user", userID)
}

// FindLecturesInProgress returns the user's lectures of visible courses
// started and not completed, most recent first, through the user's index.
func (s *ProgressService) FindLecturesInProgress(ctx context.Context, userID int64, limit int) ([]*edustream.LectureProgress, error) {
	rows, err := queryAll(ctx, s.db.reader(ctx), scanProgress, "SELECT "+progressColumns+` FROM lecture_progress p
JOIN lectures l ON l.id = p.lecture_id
JOIN courses c ON c.id = l.course_id AND c.deleted_at IS NULL
WHERE p.user_id = ? AND p.completed_at IS NULL AND (p.watched_seconds > 0 OR p.position_seconds > 0)
ORDER BY p.last_watched_at DESC, p.lecture_id DESC LIMIT ?`, userID, max(limit, 0))
	return rows, dbError(err, "find the lectures in progress of", "user", userID)
}

// FindLectureLearners returns the learners' rows of the lecture, one
// range of the primary key, with only what the analytics read (10,000
// learners are 10,000 rows: every column and allocation counts).
func (s *ProgressService) FindLectureLearners(ctx context.Context, lectureID int64) ([]*edustream.LectureProgress, error) {
	rows, err := s.db.reader(ctx).query(ctx, `SELECT p.user_id, l.course_id, p.video_id, p.video_duration, p.watched, p.watched_seconds,
  p.played_seconds, p.completed_at
FROM lecture_progress p JOIN lectures l ON l.id = p.lecture_id WHERE p.lecture_id = ? AND p.learner = ? ORDER BY p.user_id`, lectureID, true)
	if err != nil {
		return nil, dbError(err, "find the learners of", "lecture", lectureID)
	}
	defer rows.Close()
	var out []*edustream.LectureProgress
	var watched sql.RawBytes
	for rows.Next() {
		p := &edustream.LectureProgress{LectureID: lectureID, Learner: true}
		var completed sql.Null[time.Time]
		if err := rows.Scan(&p.UserID, &p.CourseID, &p.VideoID, &p.VideoDuration, &watched, &p.WatchedSeconds, &p.PlayedSeconds, &completed); err != nil {
			return nil, dbError(err, "find the learners of", "lecture", lectureID)
		}
		if err := p.Watched.UnmarshalBinary(watched); err != nil {
			return nil, fmt.Errorf("progress of user %d in lecture %d: %w", p.UserID, lectureID, err)
		}
		p.CompletedAt = timePtr(completed)
		out = append(out, p)
	}
	return out, dbError(rows.Err(), "find the learners of", "lecture", lectureID)
}

// students is the condition on enrollments e (with users u and courses c
// joined) that keeps the course's students: neither its instructor nor
// admins. Its argument is edustream.RoleAdmin.
const students = "e.user_id <> c.instructor_id AND u.role <> ?"

// FindCourseWatchCounts returns the course's aggregates with two queries:
// the course's counts, and each lecture's.
func (s *ProgressService) FindCourseWatchCounts(ctx context.Context, courseID int64) (*edustream.CourseWatchCounts, error) {
	h := s.db.reader(ctx)
	counts := &edustream.CourseWatchCounts{}
	err := h.queryRow(ctx, `SELECT
  (SELECT COUNT(*) FROM enrollments e JOIN users u ON u.id = e.user_id JOIN courses c ON c.id = e.course_id
    WHERE e.course_id = ? AND `+students+`),
  (SELECT COUNT(DISTINCT p.user_id) FROM lecture_progress p JOIN lectures l ON l.id = p.lecture_id
    WHERE l.course_id = ? AND p.learner = ?),
  (SELECT COUNT(*) FROM (SELECT p.user_id FROM lecture_progress p JOIN lectures l ON l.id = p.lecture_id
    WHERE l.course_id = ? AND l.video_id IS NOT NULL AND p.learner = ? AND p.completed_at IS NOT NULL
    GROUP BY p.user_id
    HAVING COUNT(*) = (SELECT COUNT(*) FROM lectures r WHERE r.course_id = ? AND r.video_id IS NOT NULL)) done)`,
		courseID, edustream.RoleAdmin, courseID, true, courseID, true, courseID).Scan(&counts.Enrolled, &counts.Started, &counts.Completed)
	if err != nil {
		return nil, dbError(err, "count the learners of", "course", courseID)
	}
	counts.Lectures, err = queryAll(ctx, h, func(sc scanner) (*edustream.LectureWatchCounts, error) {
		lc := &edustream.LectureWatchCounts{Enrolled: counts.Enrolled}
		var position int
		return lc, sc.Scan(&lc.LectureID, &position, &lc.Viewers, &lc.Completions)
	}, `SELECT l.id, l.position, COUNT(p.user_id), COUNT(p.completed_at)
FROM lectures l LEFT JOIN lecture_progress p ON p.lecture_id = l.id AND p.learner = ?
WHERE l.course_id = ? GROUP BY l.id, l.position ORDER BY l.position`, true, courseID)
	if err != nil {
		return nil, dbError(err, "count the learners of the lectures of", "course", courseID)
	}
	return counts, nil
}

// FindCourseStudents returns a page of the course's students by user id,
// with their progress: the page from enrollments, then the progress of
// its students and the course's count of lectures with a READY video.
// EINVALID for a negative limit.
func (s *ProgressService) FindCourseStudents(ctx context.Context, courseID, afterUserID int64, limit int) ([]*edustream.CourseStudent, bool, error) {
	if limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "limit must not be negative, got %d", limit)
	}
	h := s.db.reader(ctx)
	page, err := queryAll(ctx, h, func(sc scanner) (*edustream.CourseStudent, error) {
		st := &edustream.CourseStudent{Progress: &edustream.CourseProgress{CourseID: courseID}}
		err := sc.Scan(&st.UserID, &st.EnrolledAt)
		st.EnrolledAt = st.EnrolledAt.UTC()
		return st, err
	}, `SELECT e.user_id, e.created_at FROM enrollments e JOIN users u ON u.id = e.user_id JOIN courses c ON c.id = e.course_id
WHERE e.course_id = ? AND e.user_id > ? AND `+students+` ORDER BY e.user_id LIMIT ?`,
		courseID, afterUserID, edustream.RoleAdmin, limit+1)
	if err != nil {
		return nil, false, dbError(err, "find the students of", "course", courseID)
	}
	hasMore := len(page) > limit
	page = page[:min(len(page), limit)]
	if len(page) == 0 {
		return nil, hasMore, nil
	}
	byUser := make(map[int64]*edustream.CourseStudent, len(page))
	ids := make([]int64, len(page))
	for i, st := range page {
		byUser[st.UserID], ids[i] = st, st.UserID
	}
	var total int
	if err := h.queryRow(ctx, "SELECT COUNT(*) FROM lectures WHERE course_id = ? AND video_id IS NOT NULL", courseID).Scan(&total); err != nil {
		return nil, false, dbError(err, "count the lectures of", "course", courseID)
	}
	in, args := inList(ids)
	rows, err := h.query(ctx, `SELECT p.user_id,
  COUNT(CASE WHEN l.video_id IS NOT NULL AND p.completed_at IS NOT NULL THEN 1 END),
  MAX(CASE WHEN l.video_id IS NOT NULL THEN p.completed_at END),
  MAX(p.last_watched_at)
FROM lecture_progress p JOIN lectures l ON l.id = p.lecture_id
WHERE l.course_id = ? AND p.user_id IN (`+in+`) GROUP BY p.user_id`, append([]any{courseID}, args...)...)
	if err != nil {
		return nil, false, dbError(err, "find the progress of the students of", "course", courseID)
	}
	defer rows.Close()
	for rows.Next() {
		var userID int64
		var completed int
		var completedAt, watchedAt aggregateTime
		if err := rows.Scan(&userID, &completed, &completedAt, &watchedAt); err != nil {
			return nil, false, dbError(err, "find the progress of the students of", "course", courseID)
		}
		st := byUser[userID]
		st.Progress.CompletedLectures, st.LastWatchedAt = completed, watchedAt.ptr()
		if st.Progress.CompletedLectures >= total && total > 0 {
			st.Progress.CompletedAt = completedAt.ptr()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, dbError(err, "find the progress of the students of", "course", courseID)
	}
	for _, st := range page {
		st.Progress.TotalLectures = total
	}
	return page, hasMore, nil
}

// CarryOverProgress moves the lecture's rows on video from to video to
// with one UPDATE, by the rule of edustream.CarryOver.
func (s *ProgressService) CarryOverProgress(ctx context.Context, lectureID, from, to int64, toDuration float64, keep bool) error {
	least := "LEAST"
	if s.db.dialect.name == EngineSQLite {
		least = "MIN" // SQLite's scalar min of its arguments
	}
	// The digests of beats of the old video are forgotten: no beat of the
	// new one replays them.
	noBeats := make([]byte, 8*len(edustream.LectureProgress{}.RecentBeats))
	var err error
	if keep {
		_, err = s.db.writer().exec(ctx, `UPDATE lecture_progress SET video_id = ?, video_duration = ?, recent_beats = ?,
  watched_seconds = `+least+`(watched_seconds, ?), position_seconds = `+least+`(position_seconds, ?), version = version + 1
WHERE lecture_id = ? AND video_id = ?`, to, toDuration, noBeats, toDuration, toDuration, lectureID, from)
	} else {
		_, err = s.db.writer().exec(ctx, `UPDATE lecture_progress SET video_id = ?, video_duration = ?, recent_beats = ?, watched = ?,
  watched_seconds = 0, position_seconds = 0, version = version + 1
WHERE lecture_id = ? AND video_id = ?`, to, toDuration, noBeats, []byte{}, lectureID, from)
	}
	return dbError(err, "carry the progress over in", "lecture", lectureID)
}

// aggregateTime scans MAX() of a time column: MySQL returns a time,
// SQLite the integer microseconds it stores (an aggregate has no declared
// type for the driver to convert by).
type aggregateTime struct {
	t     time.Time
	valid bool
}

func (a *aggregateTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		a.valid = false
	case time.Time:
		a.t, a.valid = v.UTC(), true
	case int64:
		a.t, a.valid = time.UnixMicro(v).UTC(), true
	default:
		return fmt.Errorf("scan %T as a time", src)
	}
	return nil
}

func (a aggregateTime) ptr() *time.Time {
	if !a.valid {
		return nil
	}
	t := a.t
	return &t
}
