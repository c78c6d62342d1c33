package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// Queue is the API side of the jobs: it enqueues tasks for the workers.
// It implements edustream.JobQueue and is safe for concurrent use.
type Queue struct {
	rdb redis.UniversalClient
	enq *enqueuer
}

var _ edustream.JobQueue = (*Queue)(nil)

// NewQueue returns a Queue on the Redis that redisOpt describes. It does not
// connect yet; the first enqueue does. It panics if redisOpt is not one of
// asynq's own RedisConnOpt types, as asynq.NewClient does.
func NewQueue(redisOpt asynq.RedisConnOpt) *Queue {
	rdb := redisClient(redisOpt)
	return &Queue{rdb: rdb, enq: newEnqueuer(rdb)}
}

// EnqueueCoursePurge schedules the purge of the hidden course courseID. A
// purge that is already queued is not an error. EINVALID if the id is not
// positive.
func (q *Queue) EnqueueCoursePurge(ctx context.Context, courseID int64) error {
	_, err := q.enq.coursePurge(ctx, courseID)
	return err
}

// Close closes the Redis connection.
func (q *Queue) Close() error {
	return q.rdb.Close()
}

// redisClient turns asynq's connection option into the go-redis client that
// asynq would build itself, so that the client, the inspector and the server
// of one process share one connection pool.
func redisClient(opt asynq.RedisConnOpt) redis.UniversalClient {
	c, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		panic(fmt.Sprintf("jobs: unsupported asynq.RedisConnOpt type %T", opt))
	}
	return c
}

// enqueuer is the one enqueue path of the API and the reconciler.
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

// coursePurge enqueues the purge of courseID and reports whether it queued a
// new task (false: one was already there).
func (e *enqueuer) coursePurge(ctx context.Context, courseID int64) (queued bool, err error) {
	task, err := NewCoursePurgeTask(courseID)
	if err != nil {
		return false, err
	}
	return e.enqueue(ctx, task, CoursePurgeTaskID(courseID))
}

// enqueue enqueues task, whose TaskID option is id, and reports whether it
// queued a new task.
//
// A conflicting id usually means the same work is already waiting or running,
// which is what the caller wants. The exception is an archived task: asynq
// keeps those (up to 90 days) under the same id after retries ran out or a
// handler returned SkipRetry, and would refuse every new enqueue, so a purge
// that failed once could never be retried by the reconciler. The caller only
// enqueues work the database still wants done, so an archived task with the
// id is stale: it is deleted and the task enqueued afresh, with a fresh retry
// budget.
func (e *enqueuer) enqueue(ctx context.Context, task *asynq.Task, id string) (bool, error) {
	for attempt := 0; ; attempt++ {
		_, err := e.client.EnqueueContext(ctx, task)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, asynq.ErrDuplicateTask):
			return false, nil
		case !errors.Is(err, asynq.ErrTaskIDConflict):
			return false, fmt.Errorf("enqueue task %s: %w", id, err)
		case attempt > 0:
			// Someone else enqueued it between our delete and our retry.
			return false, nil
		}
		info, err := e.inspector.GetTaskInfo(queueDefault, id)
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
		if err := e.inspector.DeleteTask(queueDefault, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return false, fmt.Errorf("delete archived task %s: %w", id, err)
		}
	}
}
