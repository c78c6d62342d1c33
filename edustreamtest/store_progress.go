package edustreamtest

import (
	"cmp"
	"context"
	"slices"

	"github.com/edustream/edustream"
)

// The viewers' progress, with the rules of sqldb's lecture_progress:
// one row per (user, lecture), written only over the version it was
// read at; rows of deleted lectures linger unseen, as rows without a
// foreign key do.

var _ edustream.ProgressService = (*Store)(nil)

type progressKey struct{ userID, lectureID int64 }

func copyProgress(p *edustream.LectureProgress) *edustream.LectureProgress {
	cp := *p
	cp.Watched = slices.Clone(p.Watched)
	cp.CompletedAt = copyPtr(p.CompletedAt)
	return &cp
}

// progressOf returns a copy of the user's row on a lecture that exists,
// with its course filled in. Callers hold mu.
func (s *Store) progressOf(userID, lectureID int64) *edustream.LectureProgress {
	p, ok := s.progress[progressKey{userID, lectureID}]
	l, exists := s.lectures[lectureID]
	if !ok || !exists {
		return nil
	}
	cp := copyProgress(p)
	cp.CourseID = l.CourseID
	return cp
}

// FindWatchTarget returns what a beat needs. ENOTFOUND for a missing
// lecture or one of a hidden course.
func (s *Store) FindWatchTarget(_ context.Context, userID, lectureID int64) (*edustream.WatchTarget, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.visibleLecture(lectureID)
	if !ok {
		return nil, notFound("lecture", lectureID)
	}
	c := s.courses[l.CourseID]
	t := &edustream.WatchTarget{
		LectureID: l.ID,
		Course:    &edustream.Course{ID: c.ID, InstructorID: c.InstructorID, PublishedAt: copyPtr(c.PublishedAt), DeletedAt: copyPtr(c.DeletedAt)},
		Progress:  s.progressOf(userID, lectureID),
	}
	_, t.Enrolled = s.enrollments[enrollmentKey{userID, c.ID}]
	if l.VideoID != nil {
		if v, ok := s.videos[*l.VideoID]; ok {
			t.Video = copyVideo(v)
		}
	}
	return t, nil
}

// SaveLectureProgress writes p over the version before it. ECONFLICT
// when the row moved on.
func (s *Store) SaveLectureProgress(_ context.Context, p *edustream.LectureProgress) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := progressKey{p.UserID, p.LectureID}
	stored := int64(0)
	if cur, ok := s.progress[key]; ok {
		stored = cur.Version
	}
	if stored != p.Version-1 {
		return edustream.Errorf(edustream.ECONFLICT, "the progress of user %d in lecture %d changed meanwhile", p.UserID, p.LectureID)
	}
	cp := copyProgress(p)
	cp.CourseID = 0
	cp.CompletedAt = utcMicroPtr(p.CompletedAt)
	cp.LastWatchedAt, cp.BudgetAt, cp.CreatedAt = utcMicro(p.LastWatchedAt), utcMicro(p.BudgetAt), utcMicro(p.CreatedAt)
	if len(cp.Watched) == 0 {
		cp.Watched = nil
	}
	s.progress[key] = cp
	return nil
}

// FindLectureProgress returns the user's progress among lectureIDs.
func (s *Store) FindLectureProgress(_ context.Context, userID int64, lectureIDs []int64) (map[int64]*edustream.LectureProgress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]*edustream.LectureProgress, len(lectureIDs))
	for _, id := range lectureIDs {
		if p := s.progressOf(userID, id); p != nil {
			out[id] = p
		}
	}
	return out, nil
}

// courseProgressOf counts the user's completed lectures among the
// course's lectures with a READY video. Callers hold mu.
func (s *Store) courseProgressOf(userID, courseID int64) *edustream.CourseProgress {
	cp := &edustream.CourseProgress{CourseID: courseID}
	for _, l := range s.lecturesOf(courseID) {
		if l.VideoID == nil {
			continue
		}
		cp.TotalLectures++
		if p := s.progress[progressKey{userID, l.ID}]; p != nil && p.CompletedAt != nil {
			cp.CompletedLectures++
			if cp.CompletedAt == nil || p.CompletedAt.After(*cp.CompletedAt) {
				cp.CompletedAt = copyPtr(p.CompletedAt)
			}
		}
	}
	if !cp.Complete() {
		cp.CompletedAt = nil
	}
	return cp
}

// FindCourseProgress returns the user's progress in each course.
func (s *Store) FindCourseProgress(_ context.Context, userID int64, courseIDs []int64) (map[int64]*edustream.CourseProgress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]*edustream.CourseProgress, len(courseIDs))
	for _, id := range courseIDs {
		out[id] = s.courseProgressOf(userID, id)
	}
	return out, nil
}

// FindLecturesInProgress returns the lectures of visible courses the
// user started and did not complete, most recently watched first.
func (s *Store) FindLecturesInProgress(_ context.Context, userID int64, limit int) ([]*edustream.LectureProgress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*edustream.LectureProgress
	for key := range s.progress {
		if key.userID != userID {
			continue
		}
		if _, ok := s.visibleLecture(key.lectureID); !ok {
			continue
		}
		if p := s.progressOf(userID, key.lectureID); p.InProgress() {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *edustream.LectureProgress) int {
		return cmp.Or(b.LastWatchedAt.Compare(a.LastWatchedAt), cmp.Compare(b.LectureID, a.LectureID))
	})
	return out[:min(len(out), max(limit, 0))], nil
}

// FindLectureLearners returns the learners' progress in the lecture, by
// user id.
func (s *Store) FindLectureLearners(_ context.Context, lectureID int64) ([]*edustream.LectureProgress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*edustream.LectureProgress
	for key, p := range s.progress {
		if key.lectureID == lectureID && p.Learner {
			if cp := s.progressOf(key.userID, key.lectureID); cp != nil {
				out = append(out, cp)
			}
		}
	}
	slices.SortFunc(out, func(a, b *edustream.LectureProgress) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// students returns the course's enrolled students' ids (neither its
// instructor nor admins), in id order. Callers hold mu.
func (s *Store) students(c *edustream.Course) []int64 {
	var ids []int64
	for key := range s.enrollments {
		if key.courseID != c.ID || key.userID == c.InstructorID {
			continue
		}
		if u, ok := s.users[key.userID]; ok && u.Role == edustream.RoleAdmin {
			continue
		}
		ids = append(ids, key.userID)
	}
	slices.Sort(ids)
	return ids
}

// FindCourseWatchCounts returns the aggregates of the course's
// analytics.
func (s *Store) FindCourseWatchCounts(_ context.Context, courseID int64) (*edustream.CourseWatchCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := &edustream.CourseWatchCounts{}
	c, ok := s.courses[courseID]
	if !ok {
		return counts, nil
	}
	counts.Enrolled = len(s.students(c))
	started := map[int64]bool{}
	for _, l := range s.lecturesOf(courseID) {
		lc := &edustream.LectureWatchCounts{LectureID: l.ID, Enrolled: counts.Enrolled}
		for key, p := range s.progress {
			if key.lectureID != l.ID || !p.Learner {
				continue
			}
			started[key.userID] = true
			lc.Viewers++
			if p.CompletedAt != nil {
				lc.Completions++
			}
		}
		counts.Lectures = append(counts.Lectures, lc)
	}
	counts.Started = len(started)
	for userID := range started {
		if s.courseProgressOf(userID, courseID).Complete() {
			counts.Completed++
		}
	}
	return counts, nil
}

// FindCourseStudents returns a page of the course's students with their
// progress. EINVALID for a negative limit.
func (s *Store) FindCourseStudents(_ context.Context, courseID, afterUserID int64, limit int) ([]*edustream.CourseStudent, bool, error) {
	if limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "limit must not be negative, got %d", limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.courses[courseID]
	if !ok {
		return nil, false, nil
	}
	var out []*edustream.CourseStudent
	for _, id := range s.students(c) {
		if id <= afterUserID {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		st := &edustream.CourseStudent{UserID: id, EnrolledAt: s.enrollments[enrollmentKey{id, courseID}].CreatedAt,
			Progress: s.courseProgressOf(id, courseID)}
		for _, l := range s.lecturesOf(courseID) {
			if p := s.progress[progressKey{id, l.ID}]; p != nil && (st.LastWatchedAt == nil || p.LastWatchedAt.After(*st.LastWatchedAt)) {
				at := p.LastWatchedAt
				st.LastWatchedAt = &at
			}
		}
		out = append(out, st)
	}
	return out, false, nil
}

// CarryOverProgress moves the lecture's progress on video from to video
// to, by the rule of edustream.CarryOver.
func (s *Store) CarryOverProgress(_ context.Context, lectureID, from, to int64, toDuration float64, keep bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, p := range s.progress {
		if key.lectureID != lectureID || p.VideoID != from {
			continue
		}
		p.VideoID, p.VideoDuration, p.RecentBeats = to, toDuration, [len(p.RecentBeats)]uint64{}
		if keep {
			p.WatchedSeconds, p.PositionSeconds = min(p.WatchedSeconds, toDuration), min(p.PositionSeconds, toDuration)
		} else {
			p.Watched, p.WatchedSeconds, p.PositionSeconds = nil, 0, 0
		}
		p.Version++
	}
	return nil
}
