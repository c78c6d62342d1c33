package edustream

import (
	"context"
	"time"
)

// JobQueue is the background work the API hands to the workers. Enqueueing
// the same work twice is not an error: task ids are deterministic and a
// duplicate collapses into the queued one.
type JobQueue interface {
	// EnqueueCoursePurge schedules the removal of a hidden course's lectures,
	// enrollments and row.
	EnqueueCoursePurge(ctx context.Context, courseID int64) error
	// EnqueueVideoStage schedules the chain's step stage for v. What v
	// is decides where the step waits (a long video's transcode has its
	// own queue, so that it never holds up short ones). EINVALID for a
	// stage without a task (StageUpload).
	EnqueueVideoStage(ctx context.Context, v *Video, stage VideoStage) error
	// EnqueueVideoRemoval schedules the deletion of a replaced video's
	// outputs and row (VideoLifecycle.Remove).
	EnqueueVideoRemoval(ctx context.Context, videoID int64) error
	// CancelVideoWork stops the video's steps: a running one has its
	// context cancelled on whichever worker runs it (which kills its
	// ffmpeg), and waiting ones are dropped. Call it after the video's
	// state says that no step is owed, or the reconciler queues them again.
	CancelVideoWork(ctx context.Context, videoID int64) error
	// EnqueueTranscodeCancel schedules the cancel of jobID, the external
	// transcoder's job of a video whose transcode was stopped, and then the
	// deletion of what the job wrote (VideoLifecycle.DropStoppedTranscode).
	// The task retries while the transcoder is unavailable.
	EnqueueTranscodeCancel(ctx context.Context, videoID int64, jobID string) error
	// VideoQueueWait returns where the video's next step waits in its
	// queue, and false when the video has no task waiting.
	VideoQueueWait(ctx context.Context, videoID int64) (wait QueueWait, waiting bool, err error)
}

// QueueWait is where a video's waiting step stands.
type QueueWait struct {
	// Position is how many tasks are ahead of the step in its queue,
	// those running there included (0: it runs as soon as a worker is
	// free).
	Position int
	// ETA estimates the time until the step is done: until a worker slot
	// frees for it (the remaining time of the tasks running ahead and the
	// expected time of those waiting ahead, over the fleet's slots for the
	// queue), plus the step's own expected time when known. Tasks whose
	// time is not known count as none, so it is a lower bound. Meaningful
	// only when ETAKnown.
	ETA time.Duration
	// ETAKnown is false when nothing ahead, and not the step itself, has
	// a known time: then there is no estimate.
	ETAKnown bool
}
