// Package jobs is EduStream's background work on asynq: the task types and
// their payloads, the Queue the API enqueues through, the Worker that runs the
// handlers, the middleware every handler runs in, and the reconciler that
// re-enqueues from the database whatever Redis may have lost.
//
// Redis is transport, never the truth. Every task carries ids only and its
// handler re-reads state from the database; task ids are deterministic so that
// enqueueing the same work twice (the API and the reconciler, or two API
// instances) collapses into one task.
package jobs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// Task types. The version suffix lets a new payload shape ship next to the
// old one: workers keep a handler for v1 until no v1 task is left in Redis.
const (
	// TypeCoursePurge removes a hidden course with its lectures and
	// enrollments (CoursePurgePayload).
	TypeCoursePurge = "course:purge:v1"
)

// queueDefault is the one queue EduStream uses so far. Tasks name it
// explicitly because looking a task up by id (see enqueuer) needs the queue.
const queueDefault = "default"

// Purge task options. A purge is a few DELETE statements in one transaction,
// so five minutes is generous; the timeout is whole seconds because asynq
// stores seconds and a fraction would be silently dropped. Ten retries with
// asynq's backoff (n⁴+15 s plus jitter) span several hours, enough to ride
// out a database failover; past that the reconciler takes over.
const (
	coursePurgeMaxRetry = 10
	coursePurgeTimeout  = 5 * time.Minute
)

// CoursePurgePayload is the payload of TypeCoursePurge. It carries the id
// only: the handler asks the database whether the course is still hidden.
type CoursePurgePayload struct {
	CourseID int64 `json:"course_id"`
}

// CoursePurgeTaskID returns the deterministic id of the purge task of a
// course, so a second enqueue of the same purge collapses into the first.
func CoursePurgeTaskID(courseID int64) string {
	return "course:purge:" + strconv.FormatInt(courseID, 10)
}

// NewCoursePurgeTask returns the task that purges the hidden course courseID.
// EINVALID if the id is not positive.
//
// Duplicates collapse through TaskID rather than asynq's Unique option: a
// task id holds for the task's whole life in Redis (pending, retrying,
// running), while Unique is a lock with a TTL that can expire under a task
// still waiting for its retry, and whose expiry depends on Redis's clock
// (miniredis needs ClockTTL for it).
func NewCoursePurgeTask(courseID int64) (*asynq.Task, error) {
	if courseID <= 0 {
		return nil, edustream.Errorf(edustream.EINVALID, "course id must be positive, got %d", courseID)
	}
	payload, err := json.Marshal(CoursePurgePayload{CourseID: courseID})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", TypeCoursePurge, err)
	}
	return asynq.NewTask(TypeCoursePurge, payload,
		asynq.TaskID(CoursePurgeTaskID(courseID)),
		asynq.Queue(queueDefault),
		asynq.MaxRetry(coursePurgeMaxRetry),
		asynq.Timeout(coursePurgeTimeout),
	), nil
}
