package sqldb

import (
	"context"

	"github.com/edustream/edustream"
)

// EnrollmentService implements edustream.EnrollmentService.
type EnrollmentService struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.EnrollmentService = (*EnrollmentService)(nil)

// NewEnrollmentService returns an EnrollmentService on db that stamps times
// with now (nil: time.Now).
func NewEnrollmentService(db *DB, now edustream.Clock) *EnrollmentService {
	return &EnrollmentService{db: db, now: clockOrNow(now)}
}

const enrollmentColumns = "e.user_id, e.course_id, e.created_at"

func scanEnrollment(s scanner) (*edustream.Enrollment, error) {
	var e edustream.Enrollment
	if err := s.Scan(&e.UserID, &e.CourseID, &e.CreatedAt); err != nil {
		return nil, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return &e, nil
}

// Enroll enrolls the user in a visible course and returns the enrollment,
// read back from the primary; enrolling twice returns the first enrollment.
// ENOTFOUND for a missing or hidden course.
//
// The insert ignores duplicates and inserts nothing for an invisible course
// (see dialect.enroll), so concurrent enrolls cannot fail each other; the
// read back then tells which case it was.
func (s *EnrollmentService) Enroll(ctx context.Context, userID, courseID int64) (*edustream.Enrollment, error) {
	h := s.db.writer()
	if _, err := h.exec(ctx, s.db.dialect.enroll, userID, utcMicro(s.now()), courseID); err != nil {
		return nil, dbError(err, "enroll in", "course", courseID)
	}
	e, err := scanEnrollment(h.queryRow(ctx,
		"SELECT "+enrollmentColumns+" FROM enrollments e JOIN courses c ON c.id = e.course_id AND c.deleted_at IS NULL WHERE e.user_id = ? AND e.course_id = ?",
		userID, courseID))
	if err != nil {
		return nil, dbError(err, "enroll in", "course", courseID)
	}
	return e, nil
}

// FindEnrollments returns the user's enrollments in visible courses among
// courseIDs, keyed by course id, with one query.
func (s *EnrollmentService) FindEnrollments(ctx context.Context, userID int64, courseIDs []int64) (map[int64]*edustream.Enrollment, error) {
	out := make(map[int64]*edustream.Enrollment, len(courseIDs))
	if len(courseIDs) == 0 {
		return out, nil
	}
	in, args := inList(courseIDs)
	enrollments, err := queryAll(ctx, s.db.reader(ctx), scanEnrollment,
		"SELECT "+enrollmentColumns+" FROM enrollments e JOIN courses c ON c.id = e.course_id AND c.deleted_at IS NULL WHERE e.user_id = ? AND e.course_id IN ("+in+")",
		append([]any{userID}, args...)...)
	if err != nil {
		return nil, dbError(err, "find enrollments of", "user", userID)
	}
	for _, e := range enrollments {
		out[e.CourseID] = e
	}
	return out, nil
}
