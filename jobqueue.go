package edustream

import "context"

// JobQueue is the background work the API hands to the workers. Enqueueing
// the same work twice is not an error: task ids are deterministic and a
// duplicate collapses into the queued one.
type JobQueue interface {
	// EnqueueCoursePurge schedules the removal of a hidden course's lectures,
	// enrollments and row.
	EnqueueCoursePurge(ctx context.Context, courseID int64) error
	// EnqueueVideoStage schedules the chain's step stage for a video.
	// EINVALID for a stage without a task (StageUpload).
	EnqueueVideoStage(ctx context.Context, videoID int64, stage VideoStage) error
	// EnqueueVideoRemoval schedules the deletion of a replaced video's
	// outputs and row (VideoLifecycle.Remove).
	EnqueueVideoRemoval(ctx context.Context, videoID int64) error
	// VideoQueuePosition returns how many tasks wait ahead of the video's
	// next task in the video queue (0: it runs next), and false when the
	// video has no task waiting there.
	VideoQueuePosition(ctx context.Context, videoID int64) (position int, waiting bool, err error)
}
