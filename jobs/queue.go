package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

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

// EnqueueVideoStage schedules the chain's step stage for v, in the queue
// v's length calls for (videoStageTask).
func (q *Queue) EnqueueVideoStage(ctx context.Context, v *edustream.Video, stage edustream.VideoStage) error {
	_, err := enqueueVideoStage(ctx, q.enq, v, stage)
	return err
}

// enqueueVideoStage enqueues v's step stage and reports whether it queued
// a new task.
func enqueueVideoStage(ctx context.Context, e *enqueuer, v *edustream.Video, stage edustream.VideoStage) (bool, error) {
	tt, ok := videoStageTask(v, stage)
	if !ok {
		return false, edustream.Errorf(edustream.EINVALID, "stage %s has no task", stage)
	}
	return enqueue(ctx, e, tt, VideoPayload{VideoID: v.ID})
}

// EnqueueVideoRemoval schedules the deletion of a replaced video's
// outputs and row.
func (q *Queue) EnqueueVideoRemoval(ctx context.Context, videoID int64) error {
	_, err := enqueue(ctx, q.enq, videoCleanup, VideoPayload{VideoID: videoID})
	return err
}

// cancelWait bounds how long CancelVideoWork waits for asynq to let go of
// a cancelled task: it moves the task to its retry set as soon as the
// handler's context is done, in milliseconds.
const cancelWait = 5 * time.Second

// CancelVideoWork stops the video's steps. A running one has its context
// cancelled through asynq's CancelProcessing, which reaches the worker that
// runs it, wherever it is, through Redis pub/sub; the handler's ffmpeg dies
// with its context (ffmpeg.Run kills its process group). asynq then puts
// the task in its retry set, and it is dropped from there, as waiting ones
// are. A task asynq does not let go of within cancelWait is left to its
// retry, which finds the video stopped and ends. EINVALID for an id that
// is not positive.
func (q *Queue) CancelVideoWork(ctx context.Context, videoID int64) error {
	if err := positiveID("video", videoID); err != nil {
		return err
	}
	var errs []error
	for _, tt := range videoStepTasks {
		if err := q.cancelTask(ctx, tt.queue, tt.id(VideoPayload{VideoID: videoID})); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cancelTask stops the task id of queue, running or waiting, and drops it.
func (q *Queue) cancelTask(ctx context.Context, queue, id string) error {
	info, err := q.enq.inspector.GetTaskInfo(queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("find task %s: %w", id, err)
	}
	if info.State == asynq.TaskStateActive {
		if err := q.enq.inspector.CancelProcessing(id); err != nil {
			return fmt.Errorf("cancel task %s: %w", id, err)
		}
		if info, err = waitWhileActive(ctx, q.enq.inspector, queue, id, cancelWait); err != nil || info == nil || info.State == asynq.TaskStateActive {
			return err
		}
	}
	if err := q.enq.inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return fmt.Errorf("drop task %s: %w", id, err)
	}
	return nil
}

// waitWhileActive waits, up to wait, until the task is no longer active,
// and returns it as it is then (nil: it is gone).
func waitWhileActive(ctx context.Context, inspector *asynq.Inspector, queue, id string, wait time.Duration) (*asynq.TaskInfo, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(cancelPoll)
	defer tick.Stop()
	for {
		t, err := inspector.GetTaskInfo(queue, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("read task %s: %w", id, err)
		case t.State != asynq.TaskStateActive:
			return t, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return t, nil
		case <-tick.C:
		}
	}
}

// maxQueueScan bounds how far VideoQueuePosition looks: past it, the exact
// number matters to no one.
const maxQueueScan = 1000

// VideoQueuePosition returns how many tasks are ahead of the video's
// waiting step: those running in its queue, on every worker, and those
// pending before it, in the order asynq takes them. A step that waits in
// the retry set (a failed attempt, or one put back because its uploader
// had all the slots allowed) is behind every pending one.
func (q *Queue) VideoQueuePosition(ctx context.Context, videoID int64) (int, bool, error) {
	suffix := ":" + strconv.FormatInt(videoID, 10)
	known, err := q.enq.inspector.Queues()
	if err != nil {
		return 0, false, fmt.Errorf("list the queues: %w", err)
	}
	for _, queue := range videoQueues {
		if !slices.Contains(known, queue) {
			continue // no task was ever queued there
		}
		info, err := q.enq.inspector.GetQueueInfo(queue)
		if err != nil {
			return 0, false, fmt.Errorf("read the %s queue: %w", queue, err)
		}
		pos, found, err := q.pendingPosition(queue, suffix)
		if err != nil {
			return 0, false, err
		}
		if found {
			return info.Active + pos, true, nil
		}
		for _, tt := range videoStepTasks {
			if tt.queue != queue {
				continue
			}
			t, err := q.enq.inspector.GetTaskInfo(queue, tt.id(VideoPayload{VideoID: videoID}))
			if err == nil && t.State == asynq.TaskStateRetry {
				return info.Active + info.Pending, true, nil
			}
		}
	}
	return 0, false, nil
}

// pendingPosition returns the place of the first pending video task whose
// id ends in suffix in queue's pending list, a page at a time.
func (q *Queue) pendingPosition(queue, suffix string) (int, bool, error) {
	const pageSize = 100
	for page := 1; (page-1)*pageSize < maxQueueScan; page++ {
		tasks, err := q.enq.inspector.ListPendingTasks(queue, asynq.PageSize(pageSize), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("list the %s queue: %w", queue, err)
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
