package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// Queue is the API side of the jobs: it enqueues tasks for the workers.
// It implements edustream.JobQueue and is safe for concurrent use.
type Queue struct {
	enq *enqueuer
}

var _ edustream.JobQueue = (*Queue)(nil)

// NewQueue returns a Queue on rdb, the process's one Redis client, which it
// shares and does not close.
func NewQueue(rdb redis.UniversalClient) *Queue {
	return &Queue{enq: newEnqueuer(rdb)}
}

// EnqueueCoursePurge schedules the purge of the hidden course courseID. A
// purge that is already queued is not an error. EINVALID if the id is not
// positive.
func (q *Queue) EnqueueCoursePurge(ctx context.Context, courseID int64) error {
	_, err := enqueue(ctx, q.enq, coursePurge, CoursePurgePayload{CourseID: courseID})
	return err
}

// EnqueueVideoStage schedules the chain's step stage for the video.
func (q *Queue) EnqueueVideoStage(ctx context.Context, videoID int64, stage edustream.VideoStage) error {
	tt, ok := stageTasks[stage]
	if !ok {
		return edustream.Errorf(edustream.EINVALID, "stage %s has no task", stage)
	}
	_, err := enqueue(ctx, q.enq, tt, VideoPayload{VideoID: videoID})
	return err
}

// EnqueueVideoRemoval schedules the deletion of a replaced video's
// outputs and row.
func (q *Queue) EnqueueVideoRemoval(ctx context.Context, videoID int64) error {
	_, err := enqueue(ctx, q.enq, videoCleanup, VideoPayload{VideoID: videoID})
	return err
}

// maxQueueScan bounds how far VideoQueuePosition looks: past it, the exact
// number matters to no one.
const maxQueueScan = 1000

// VideoQueuePosition returns how many tasks wait ahead of the video's task
// in the video queue. It reads the pending list in the order asynq takes
// from it, a page at a time.
func (q *Queue) VideoQueuePosition(ctx context.Context, videoID int64) (int, bool, error) {
	suffix := ":" + strconv.FormatInt(videoID, 10)
	const pageSize = 100
	for page := 1; (page-1)*pageSize < maxQueueScan; page++ {
		tasks, err := q.enq.inspector.ListPendingTasks(QueueVideo, asynq.PageSize(pageSize), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("list the video queue: %w", err)
		}
		for i, t := range tasks {
			if strings.HasPrefix(t.ID, "video:") && strings.HasSuffix(t.ID, suffix) {
				return (page-1)*pageSize + i, true, nil
			}
		}
		if len(tasks) < pageSize {
			break
		}
	}
	return 0, false, nil
}

// enqueuer is the one enqueue path of the API and the reconcilers.
type enqueuer struct {
	client    *asynq.Client
	inspector *asynq.Inspector
}

func newEnqueuer(rdb redis.UniversalClient) *enqueuer {
	return &enqueuer{
		client:    asynq.NewClientFromRedisClient(rdb),
		inspector: asynq.NewInspectorFromRedisClient(rdb),
	}
}

// enqueue enqueues the task of tt for p and reports whether it queued a new
// task (false: one was already there).
//
// A conflicting id usually means the same work is already waiting or running,
// which is what the caller wants. The exception is an archived task: asynq
// keeps those (up to 90 days) under the same id after retries ran out or a
// handler returned SkipRetry, and would refuse every new enqueue, so work
// that failed once could never be retried. The caller only enqueues work the
// database still wants done, so an archived task with the id is stale: it is
// deleted and the task enqueued afresh, with a fresh retry budget.
func enqueue[P any](ctx context.Context, e *enqueuer, tt taskType[P], p P) (queued bool, err error) {
	id := tt.id(p)
	ctx, end := startEnqueue(ctx, tt.name, tt.queue, id)
	defer func() { end(queued, err) }()
	task, err := tt.newTask(ctx, p)
	if err != nil {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		_, err := e.client.EnqueueContext(ctx, task)
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, asynq.ErrTaskIDConflict):
			return false, fmt.Errorf("enqueue task %s: %w", id, err)
		case attempt > 0:
			// Someone else enqueued it between our delete and our retry.
			return false, nil
		}
		info, err := e.inspector.GetTaskInfo(tt.queue, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			// It finished between the two calls; the work may have started
			// before the caller's change, so queue it again.
			continue
		case err != nil:
			return false, fmt.Errorf("inspect task %s: %w", id, err)
		case info.State != asynq.TaskStateArchived:
			return false, nil
		}
		if err := e.inspector.DeleteTask(tt.queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return false, fmt.Errorf("delete archived task %s: %w", id, err)
		}
	}
}
