package jobs

import (
	"context"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// RunStage runs one step of the chain for the video as its task would, on
// this goroutine: for tests that drive the chain step by step.
func (w *Worker) RunStage(ctx context.Context, stage edustream.VideoStage, videoID int64) error {
	c := &chain{d: w.deps}
	return c.runStage(ctx, stage, videoID)
}

// NewCoursePurgeTask returns the task that purges the hidden course
// courseID. EINVALID if the id is not positive.
func NewCoursePurgeTask(courseID int64) (*asynq.Task, error) {
	return coursePurge.newTask(context.Background(), CoursePurgePayload{CourseID: courseID})
}
