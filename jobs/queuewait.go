package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// How long a waiting video waits, the estimate of VideoQueueWait. The
// running steps write how long they still need as their task's result
// (stepETA, through asynq's ResultWriter, which the Inspector reads back
// with the active tasks), and the waiting transcodes carry their video's
// length in their payload (VideoPayload.MediaSeconds), so the whole
// estimate comes from a few Redis reads, with no database read per task.

// assumedTranscodeSpeed is the seconds of video a transcode of the whole
// ladder is expected to do per second of wall time, for a transcode that
// has not reported its own ETA yet. It is conservative: a 1080p ladder on
// two cores runs at about this speed (the workers' measure is the metric
// edustream_video_transcode_speed_ratio); a faster fleet only sees waits
// end earlier than announced.
const assumedTranscodeSpeed = 0.5

// maxActiveScan bounds the running tasks read per queue: more than a
// fleet's slots.
const maxActiveScan = 500

// stepETA is the result a running step writes each time it reports its
// progress: the time it still needed then.
type stepETA struct {
	Seconds float64   `json:"eta_seconds"`
	At      time.Time `json:"at"`
}

// taskResultKey carries the running task's asynq.ResultWriter to the
// progress reporter.
type taskResultKey struct{}

func withTaskResult(ctx context.Context, w *asynq.ResultWriter) context.Context {
	if w == nil {
		return ctx // called outside an asynq server (tests)
	}
	return context.WithValue(ctx, taskResultKey{}, w)
}

// writeStepETA records, as the running task's result, that its step
// still needs eta (0: no longer known, which clears what an earlier
// attempt wrote).
func writeStepETA(ctx context.Context, eta time.Duration, now time.Time) error {
	w, _ := ctx.Value(taskResultKey{}).(*asynq.ResultWriter)
	if w == nil {
		return nil
	}
	var data []byte
	if eta > 0 {
		var err error
		if data, err = json.Marshal(stepETA{Seconds: eta.Seconds(), At: now}); err != nil {
			return err
		}
	}
	_, err := w.Write(data)
	return err
}

// expectedStepTime is how long the step of the task t is expected to
// take from its start, and false when unknown: only a transcode whose
// payload carries its video's length has an expectation.
func expectedStepTime(t *asynq.TaskInfo) (time.Duration, bool) {
	if t.Type != TypeVideoTranscode {
		return 0, false
	}
	var p VideoPayload
	if err := json.Unmarshal(t.Payload, &p); err != nil || p.MediaSeconds <= 0 {
		return 0, false
	}
	return time.Duration(p.MediaSeconds / assumedTranscodeSpeed * float64(time.Second)), true
}

// remainingStepTime is how long the running task t still needs at now:
// what its step last wrote, less the time since, or its whole expected
// time while it has written nothing yet.
func remainingStepTime(t *asynq.TaskInfo, now time.Time) (time.Duration, bool) {
	if len(t.Result) == 0 {
		return expectedStepTime(t)
	}
	var r stepETA
	if err := json.Unmarshal(t.Result, &r); err != nil || r.Seconds <= 0 {
		return 0, false
	}
	left := time.Duration(r.Seconds*float64(time.Second)) - now.Sub(r.At)
	return max(left, 0), true // past its ETA: about to end
}

// queueAhead is what a waiting step has ahead of it in its queue. A time
// that is not known is negative.
type queueAhead struct {
	// slots is the number of tasks of the queue the fleet runs at once.
	slots int
	// running is the remaining time of each task running in the queue.
	running []time.Duration
	// pending is the expected time of each task waiting ahead, in the
	// order the workers take them.
	pending []time.Duration
	// own is the step's own expected time.
	own time.Duration
}

// eta estimates when the step is done: the tasks ahead are given, in
// order, to the slot that frees first, and the step takes the first slot
// free after them, then its own time. A time not known counts as none (a
// lower bound); with no known time at all there is no estimate.
func (a queueAhead) eta() (time.Duration, bool) {
	known := a.own >= 0
	free := make([]time.Duration, max(a.slots, len(a.running), 1))
	for i, r := range a.running {
		if r >= 0 {
			free[i], known = r, true
		}
	}
	for _, p := range a.pending {
		i := slices.Index(free, slices.Min(free))
		if p >= 0 {
			free[i] += p
			known = true
		}
	}
	if !known {
		return 0, false
	}
	return slices.Min(free) + max(a.own, 0), true
}

// VideoQueueWait returns where the video's waiting step stands: how many
// tasks are ahead of it, those running in its queue, on every worker, and
// those pending before it, in the order asynq takes them; and when it
// should be done (edustream.QueueWait.ETA). A step that waits in the
// retry set (a failed attempt, or one put back because its uploader had
// all the slots allowed) is behind every pending one.
func (q *Queue) VideoQueueWait(ctx context.Context, videoID int64) (edustream.QueueWait, bool, error) {
	known, err := q.enq.inspector.Queues()
	if err != nil {
		return edustream.QueueWait{}, false, fmt.Errorf("list the queues: %w", err)
	}
	for _, queue := range videoQueues {
		if !slices.Contains(known, queue) {
			continue // no task was ever queued there
		}
		ahead, own, found, err := q.pendingAhead(ctx, queue, videoID)
		if err != nil {
			return edustream.QueueWait{}, false, err
		}
		if !found {
			continue
		}
		a := queueAhead{pending: ahead, own: -1}
		if ownTime, ok := expectedStepTime(own); ok {
			a.own = ownTime
		}
		if a.running, err = q.running(queue); err != nil {
			return edustream.QueueWait{}, false, err
		}
		if a.slots, err = q.slots(queue); err != nil {
			return edustream.QueueWait{}, false, err
		}
		w := edustream.QueueWait{Position: len(a.running) + len(ahead)}
		w.ETA, w.ETAKnown = a.eta()
		return w, true, nil
	}
	return edustream.QueueWait{}, false, nil
}

// pendingAhead finds the video's step task waiting in queue (pending, or
// in the retry set) and returns the expected time of each pending task
// ahead of it (negative: unknown), up to maxQueueScan of them.
func (q *Queue) pendingAhead(ctx context.Context, queue string, videoID int64) (ahead []time.Duration, own *asynq.TaskInfo, found bool, err error) {
	suffix := ":" + strconv.FormatInt(videoID, 10)
	const pageSize = 100
	for page := 1; (page-1)*pageSize < maxQueueScan; page++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, false, err
		}
		tasks, err := q.enq.inspector.ListPendingTasks(queue, asynq.PageSize(pageSize), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, nil, false, nil
		}
		if err != nil {
			return nil, nil, false, fmt.Errorf("list the %s queue: %w", queue, err)
		}
		for _, t := range tasks {
			if strings.HasPrefix(t.ID, "video:") && strings.HasSuffix(t.ID, suffix) {
				return ahead, t, true, nil
			}
			d, ok := expectedStepTime(t)
			if !ok {
				d = -1
			}
			ahead = append(ahead, d)
		}
		if len(tasks) < pageSize {
			break
		}
	}
	// Not pending: waiting in the retry set, behind everything pending?
	for _, tt := range videoStepTasks {
		if tt.queue != queue {
			continue
		}
		t, err := q.enq.inspector.GetTaskInfo(queue, tt.id(VideoPayload{VideoID: videoID}))
		if err == nil && t.State == asynq.TaskStateRetry {
			return ahead, t, true, nil
		}
	}
	return nil, nil, false, nil
}

// running returns the remaining time of each task running in queue
// (negative: unknown).
func (q *Queue) running(queue string) ([]time.Duration, error) {
	tasks, err := q.enq.inspector.ListActiveTasks(queue, asynq.PageSize(maxActiveScan))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the running tasks of the %s queue: %w", queue, err)
	}
	now := time.Now()
	out := make([]time.Duration, len(tasks))
	for i, t := range tasks {
		d, ok := remainingStepTime(t, now)
		if !ok {
			d = -1
		}
		out[i] = d
	}
	return out, nil
}

// slots returns how many tasks of queue the fleet's workers run at once:
// each worker runs a queue in an asynq server of its own (Worker.Run), so
// the sum of the concurrency of the servers that serve it.
func (q *Queue) slots(queue string) (int, error) {
	servers, err := q.enq.inspector.Servers()
	if err != nil {
		return 0, fmt.Errorf("list the workers: %w", err)
	}
	n := 0
	for _, s := range servers {
		if _, ok := s.Queues[queue]; ok {
			n += s.Concurrency
		}
	}
	return n, nil
}
