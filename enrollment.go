package edustream

import (
	"context"
	"time"
)

// Enrollment records that a user takes a course.
type Enrollment struct {
	UserID    int64
	CourseID  int64
	CreatedAt time.Time
}

// EnrollmentService stores enrollments.
type EnrollmentService interface {
	// Enroll enrolls the user in the course and returns the enrollment;
	// enrolling twice returns the first enrollment. ENOTFOUND for a missing
	// course.
	Enroll(ctx context.Context, userID, courseID int64) (*Enrollment, error)
	// FindEnrollments returns the user's enrollments among courseIDs, keyed by
	// course id.
	FindEnrollments(ctx context.Context, userID int64, courseIDs []int64) (map[int64]*Enrollment, error)
}
