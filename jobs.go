package edustream

import "context"

// JobQueue is the background work the API hands to the workers. Enqueueing
// the same work twice is not an error: task ids are deterministic and a
// duplicate collapses into the queued one.
type JobQueue interface {
	// EnqueueCoursePurge schedules the removal of a hidden course's lectures,
	// enrollments and row.
	EnqueueCoursePurge(ctx context.Context, courseID int64) error
}
