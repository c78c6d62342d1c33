package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// Queues are the queues EduStream's tasks use. The admins' lists show them
// even before their first task, when asynq does not know them yet.
var Queues = []string{QueueDefault, QueueVideo, QueueVideoLong}

// Defaults of Admin.
const (
	// DefaultCancelWait is how long CancelTask waits for the worker of a
	// cancelled task to let go of it: the handler returns as soon as its
	// ffmpeg is dead, well within a second, and asynq then moves the task.
	DefaultCancelWait = 10 * time.Second
	// cancelPoll is how often CancelTask looks meanwhile.
	cancelPoll = 25 * time.Millisecond
)

// Admin is the queues' side of operating the fleet, on asynq's Inspector:
// it implements edustream.TaskQueues. It reads and changes what asynq keeps
// in Redis and nothing else; the rules of what an admin may do, and what
// it means for the videos, are edustream.Operations'. It is safe for
// concurrent use.
type Admin struct {
	inspector *asynq.Inspector
	// CancelWait is how long CancelTask waits for a cancelled task's
	// worker to let go of it (0: DefaultCancelWait).
	CancelWait time.Duration
}

var _ edustream.TaskQueues = (*Admin)(nil)

// NewAdmin returns an Admin on rdb, the process's one Redis client, which
// it shares and does not close.
func NewAdmin(rdb redis.UniversalClient) *Admin {
	return &Admin{inspector: asynq.NewInspectorFromRedisClient(rdb)}
}

// queueNames returns EduStream's queues, then the others asynq knows (a
// worker of another version may use one), and which ones asynq knows.
func (a *Admin) queueNames() (names []string, registered map[string]bool, err error) {
	known, err := a.inspector.Queues()
	if err != nil {
		return nil, nil, fmt.Errorf("list the queues: %w", err)
	}
	registered = make(map[string]bool, len(known))
	for _, q := range known {
		registered[q] = true
	}
	slices.Sort(known)
	names = slices.Clone(Queues)
	for _, q := range known {
		if !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	return names, registered, nil
}

// queue checks that name is a queue, and reports whether asynq knows it
// (it does once a task was enqueued to it). ENOTFOUND.
func (a *Admin) queue(name string) (registered bool, err error) {
	names, reg, err := a.queueNames()
	if err != nil {
		return false, err
	}
	if !slices.Contains(names, name) {
		return false, edustream.Errorf(edustream.ENOTFOUND, "queue %q not found", name)
	}
	return reg[name], nil
}

// Queues returns every queue, EduStream's first.
func (a *Admin) Queues(ctx context.Context) ([]*edustream.QueueInfo, error) {
	names, registered, err := a.queueNames()
	if err != nil {
		return nil, err
	}
	out := make([]*edustream.QueueInfo, 0, len(names))
	for _, name := range names {
		q, err := a.queueInfo(name, registered[name])
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// Queue returns one queue. ENOTFOUND for a queue nothing uses.
func (a *Admin) Queue(ctx context.Context, name string) (*edustream.QueueInfo, error) {
	registered, err := a.queue(name)
	if err != nil {
		return nil, err
	}
	return a.queueInfo(name, registered)
}

// queueInfo reads a queue's numbers; one asynq does not know yet is empty.
func (a *Admin) queueInfo(name string, registered bool) (*edustream.QueueInfo, error) {
	if !registered {
		return &edustream.QueueInfo{Name: name}, nil
	}
	q, err := a.inspector.GetQueueInfo(name)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return &edustream.QueueInfo{Name: name}, nil
	} else if err != nil {
		return nil, fmt.Errorf("read queue %s: %w", name, err)
	}
	return &edustream.QueueInfo{
		Name:           name,
		Paused:         q.Paused,
		Size:           q.Size,
		Pending:        q.Pending,
		Active:         q.Active,
		Scheduled:      q.Scheduled,
		Retry:          q.Retry,
		Archived:       q.Archived,
		Completed:      q.Completed,
		ProcessedToday: q.Processed,
		FailedToday:    q.Failed,
		Latency:        q.Latency,
		MemoryBytes:    q.MemoryUsage,
	}, nil
}

// PauseQueue stops workers from taking the queue's tasks and returns the
// queue; a paused one is returned as it is. ECONFLICT for a queue that
// never had a task: asynq would pause it but could not say so. ENOTFOUND.
func (a *Admin) PauseQueue(ctx context.Context, name string) (*edustream.QueueInfo, error) {
	return a.setPaused(name, true)
}

// ResumeQueue lets workers take the queue's tasks again and returns the
// queue; a running one is returned as it is. ENOTFOUND.
func (a *Admin) ResumeQueue(ctx context.Context, name string) (*edustream.QueueInfo, error) {
	return a.setPaused(name, false)
}

func (a *Admin) setPaused(name string, paused bool) (*edustream.QueueInfo, error) {
	registered, err := a.queue(name)
	switch {
	case err != nil:
		return nil, err
	case !registered && paused:
		return nil, edustream.Errorf(edustream.ECONFLICT, "queue %s has had no task yet; there is nothing to pause", name)
	case !registered:
		return &edustream.QueueInfo{Name: name}, nil
	}
	q, err := a.queueInfo(name, true)
	if err != nil || q.Paused == paused {
		return q, err
	}
	change := a.inspector.UnpauseQueue
	if paused {
		change = a.inspector.PauseQueue
	}
	// asynq refuses to pause a paused queue, and another admin may have
	// just done it: read the queue again rather than trust the error.
	changeErr := change(name)
	q, err = a.queueInfo(name, true)
	if err == nil && q.Paused != paused {
		err = fmt.Errorf("set queue %s paused=%v: %w", name, paused, changeErr)
	}
	return q, err
}

// lister returns the Inspector's list of the tasks in state.
func (a *Admin) lister(state edustream.TaskState) (func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error), error) {
	switch state {
	case edustream.TaskPending:
		return a.inspector.ListPendingTasks, nil
	case edustream.TaskActive:
		return a.inspector.ListActiveTasks, nil
	case edustream.TaskScheduled:
		return a.inspector.ListScheduledTasks, nil
	case edustream.TaskRetry:
		return a.inspector.ListRetryTasks, nil
	case edustream.TaskArchived:
		return a.inspector.ListArchivedTasks, nil
	case edustream.TaskCompleted:
		return a.inspector.ListCompletedTasks, nil
	}
	return nil, edustream.Errorf(edustream.EINVALID, "unknown task state %q", state)
}

// Tasks returns up to limit tasks of the queue in state, from offset, in
// the queue's order, and whether more follow.
//
// asynq pages by number, so an offset that is not a multiple of the page
// size falls in two pages; with pages of limit+1 tasks (the one past the
// limit says whether more follow) two reads always cover it.
func (a *Admin) Tasks(ctx context.Context, queue string, state edustream.TaskState, offset, limit int) ([]*edustream.TaskInfo, bool, error) {
	list, err := a.lister(state)
	if err != nil {
		return nil, false, err
	}
	if offset < 0 || limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "offset and limit must not be negative")
	}
	registered, err := a.queue(queue)
	if err != nil || !registered {
		return nil, false, err
	}
	size := limit + 1
	page := offset / size // 0-based
	var tasks []*asynq.TaskInfo
	for p := page; p <= page+1 && len(tasks) < offset-page*size+size; p++ {
		got, err := list(queue, asynq.PageSize(size), asynq.Page(p+1))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, false, nil
		} else if err != nil {
			return nil, false, fmt.Errorf("list %s tasks of queue %s: %w", strings.ToLower(string(state)), queue, err)
		}
		tasks = append(tasks, got...)
		if len(got) < size {
			break
		}
	}
	tasks = tasks[min(offset-page*size, len(tasks)):]
	more := len(tasks) > limit
	tasks = tasks[:min(limit, len(tasks))]
	out := make([]*edustream.TaskInfo, len(tasks))
	for i, t := range tasks {
		out[i] = taskInfo(t)
	}
	return out, more, nil
}

// Task returns a task. ENOTFOUND.
func (a *Admin) Task(ctx context.Context, queue, id string) (*edustream.TaskInfo, error) {
	t, err := a.inspector.GetTaskInfo(queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return nil, errTaskNotFound(queue, id)
	case err != nil:
		return nil, fmt.Errorf("read task %s: %w", id, err)
	}
	return taskInfo(t), nil
}

func errTaskNotFound(queue, id string) error {
	return edustream.Errorf(edustream.ENOTFOUND, "task %q not found in queue %q", id, queue)
}

// FindTask returns a task from whichever queue holds it. ENOTFOUND.
func (a *Admin) FindTask(ctx context.Context, id string) (*edustream.TaskInfo, error) {
	names, _, err := a.queueNames()
	if err != nil {
		return nil, err
	}
	for _, q := range names {
		t, err := a.Task(ctx, q, id)
		if edustream.ErrorCode(err) != edustream.ENOTFOUND {
			return t, err
		}
	}
	return nil, edustream.Errorf(edustream.ENOTFOUND, "task %q not found", id)
}

// RunTask makes a scheduled, retrying or archived task pending and returns
// it; a pending or active one is returned as it is. ENOTFOUND.
func (a *Admin) RunTask(ctx context.Context, queue, id string) (*edustream.TaskInfo, error) {
	return a.move(ctx, queue, id, "run", a.inspector.RunTask, edustream.TaskPending, edustream.TaskActive)
}

// ArchiveTask archives a pending, scheduled or retrying task and returns
// it; an archived one is returned as it is. ECONFLICT for an active one.
// ENOTFOUND.
func (a *Admin) ArchiveTask(ctx context.Context, queue, id string) (*edustream.TaskInfo, error) {
	t, err := a.Task(ctx, queue, id)
	if err == nil && t.State == edustream.TaskActive {
		return nil, errTaskRunning(id)
	}
	return a.move(ctx, queue, id, "archive", a.inspector.ArchiveTask, edustream.TaskArchived)
}

func errTaskRunning(id string) error {
	return edustream.Errorf(edustream.ECONFLICT, "task %q is running; cancel it to stop it", id)
}

// move applies change to the task unless it is in one of done already,
// and returns the task as it is afterwards. asynq refuses a change from a
// state it does not apply to; the task may have moved meanwhile, so that
// is judged on the task as it is, not on the error.
func (a *Admin) move(ctx context.Context, queue, id, verb string, change func(queue, id string) error, done ...edustream.TaskState) (*edustream.TaskInfo, error) {
	t, err := a.Task(ctx, queue, id)
	if err != nil || slices.Contains(done, t.State) {
		return t, err
	}
	changeErr := change(queue, id)
	if t, err = a.Task(ctx, queue, id); err != nil {
		return nil, err
	}
	if changeErr != nil && !slices.Contains(done, t.State) {
		if t.State == edustream.TaskActive {
			return nil, errTaskRunning(id)
		}
		return nil, fmt.Errorf("%s task %s: %w", verb, id, changeErr)
	}
	return t, nil
}

// DeleteTask deletes a task that is not running. A missing task is not an
// error; an active one is ECONFLICT. ENOTFOUND for an unknown queue.
func (a *Admin) DeleteTask(ctx context.Context, queue, id string) error {
	if _, err := a.queue(queue); err != nil {
		return err
	}
	err := a.inspector.DeleteTask(queue, id)
	switch {
	case err == nil, errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return nil
	}
	if t, terr := a.Task(ctx, queue, id); terr == nil && t.State == edustream.TaskActive {
		return errTaskRunning(id)
	}
	return fmt.Errorf("delete task %s: %w", id, err)
}

// CancelTask stops a task for good and returns it archived.
//
// asynq cancels a running handler's context when asked (CancelProcessing),
// and the handler's ffmpeg, run with that context in its own process
// group, is killed. But asynq counts a cancelled handler as a failed
// attempt and schedules a retry, as for any error (unless the retries are
// spent). So once the worker has let go of the task, it is archived from
// the retry set: cancelled means it does not run again until someone runs
// it. A task that is waiting is archived at once; one that a worker took
// between the two looks is cancelled on the next.
func (a *Admin) CancelTask(ctx context.Context, id string) (*edustream.TaskInfo, error) {
	wait := cmp.Or(a.CancelWait, DefaultCancelWait)
	for range 3 {
		t, err := a.FindTask(ctx, id)
		if err != nil {
			return nil, err
		}
		switch t.State {
		case edustream.TaskArchived:
			return t, nil
		case edustream.TaskCompleted:
			return nil, edustream.Errorf(edustream.ECONFLICT, "task %q has completed", id)
		case edustream.TaskActive:
			if err := a.inspector.CancelProcessing(id); err != nil {
				return nil, fmt.Errorf("cancel task %s: %w", id, err)
			}
			t, err = a.waitWhileActive(ctx, t.Queue, id, wait)
			switch {
			case edustream.ErrorCode(err) == edustream.ENOTFOUND:
				return nil, edustream.Errorf(edustream.ENOTFOUND, "task %q finished before it could be cancelled", id)
			case err != nil:
				return nil, err
			case t.State == edustream.TaskActive:
				return t, nil // its worker has not let go of it; see TaskQueues
			}
		}
		if t, err = a.ArchiveTask(ctx, t.Queue, id); edustream.ErrorCode(err) != edustream.ECONFLICT {
			return t, err
		}
		// A worker took it meanwhile: cancel it there.
	}
	return nil, edustream.Errorf(edustream.ECONFLICT, "task %q keeps moving; try again", id)
}

// waitWhileActive waits, up to wait, until the task is no longer active,
// and returns it as it is then. ENOTFOUND once it is gone.
func (a *Admin) waitWhileActive(ctx context.Context, queue, id string, wait time.Duration) (*edustream.TaskInfo, error) {
	t, err := waitWhileActive(ctx, a.inspector, queue, id, wait)
	switch {
	case err != nil:
		return nil, err
	case t == nil:
		return nil, errTaskNotFound(queue, id)
	}
	return taskInfo(t), nil
}

// Workers returns the worker processes whose heartbeat is recent: asynq
// keeps one record per server, and a Worker runs one server per queue, so
// the servers of one process (host and pid) are one WorkerProcess.
func (a *Admin) Workers(ctx context.Context) ([]*edustream.WorkerProcess, error) {
	servers, err := a.inspector.Servers()
	if err != nil {
		return nil, fmt.Errorf("list the workers: %w", err)
	}
	type processKey struct {
		host string
		pid  int
	}
	byProcess := map[processKey]*edustream.WorkerProcess{}
	var out []*edustream.WorkerProcess
	for _, s := range servers {
		key := processKey{s.Host, s.PID}
		w := byProcess[key]
		if w == nil {
			w = &edustream.WorkerProcess{Host: s.Host, PID: s.PID, StartedAt: s.Started, Status: s.Status}
			byProcess[key] = w
			out = append(out, w)
		}
		if s.Started.Before(w.StartedAt) {
			w.StartedAt = s.Started
		}
		if s.Status == "active" {
			// One server still taking tasks makes the process active.
			w.Status = s.Status
		}
		for _, q := range slices.Sorted(maps.Keys(s.Queues)) {
			// A server's concurrency is shared by its queues; EduStream's
			// servers have one queue each.
			w.Queues = append(w.Queues, edustream.WorkerQueue{Name: q, Concurrency: s.Concurrency})
		}
		for _, r := range s.ActiveWorkers {
			rt := edustream.RunningTask{TaskID: r.TaskID, Type: r.TaskType, Queue: r.Queue,
				Subject: subjectOf(r.TaskType, r.TaskPayload), StartedAt: r.Started}
			if !r.Deadline.IsZero() {
				deadline := r.Deadline
				rt.Deadline = &deadline
			}
			w.Running = append(w.Running, rt)
		}
	}
	for _, w := range out {
		slices.SortFunc(w.Queues, func(a, b edustream.WorkerQueue) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(w.Running, func(a, b edustream.RunningTask) int {
			return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.TaskID, b.TaskID))
		})
	}
	slices.SortFunc(out, func(a, b *edustream.WorkerProcess) int {
		return cmp.Or(strings.Compare(a.Host, b.Host), cmp.Compare(a.PID, b.PID))
	})
	return out, nil
}

// taskInfo is what admins see of an asynq task: never its payload, only
// what it is about, and its last error with secrets removed.
func taskInfo(t *asynq.TaskInfo) *edustream.TaskInfo {
	return &edustream.TaskInfo{
		ID:            t.ID,
		Queue:         t.Queue,
		Type:          t.Type,
		State:         taskState(t.State),
		Retried:       t.Retried,
		MaxRetry:      t.MaxRetry,
		LastError:     edustream.RedactSecrets(t.LastErr),
		LastFailedAt:  timeOrNil(t.LastFailedAt),
		NextProcessAt: timeOrNil(t.NextProcessAt),
		CompletedAt:   timeOrNil(t.CompletedAt),
		Subject:       subjectOf(t.Type, t.Payload),
	}
}

func taskState(s asynq.TaskState) edustream.TaskState {
	switch s {
	case asynq.TaskStateActive:
		return edustream.TaskActive
	case asynq.TaskStateScheduled:
		return edustream.TaskScheduled
	case asynq.TaskStateRetry:
		return edustream.TaskRetry
	case asynq.TaskStateArchived:
		return edustream.TaskArchived
	case asynq.TaskStateCompleted:
		return edustream.TaskCompleted
	}
	// Pending, and aggregating, which EduStream's tasks never are (they
	// have no group): both wait for a worker.
	return edustream.TaskPending
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// stageOfType maps the chain's task types to their steps.
var stageOfType = func() map[string]edustream.VideoStage {
	m := make(map[string]edustream.VideoStage, len(stageTasks))
	for stage, tt := range stageTasks {
		m[tt.name] = stage
	}
	return m
}()

// subjectOf reads what a task is about from its payload. A payload that
// does not decode is about nothing anyone can name.
func subjectOf(typ string, payload []byte) edustream.TaskSubject {
	var s edustream.TaskSubject
	switch typ {
	case TypeCoursePurge:
		var p CoursePurgePayload
		if json.Unmarshal(payload, &p) == nil {
			s.CourseID = p.CourseID
		}
	case TypeVideoCleanup, TypeUploadExpire, TypeVideoProbe, TypeVideoTranscode, TypeVideoPublish,
		TypeVideoThumbnails, TypeVideoCaptions, TypeVideoMetadata, TypeVideoComplete:
		var p VideoPayload
		if json.Unmarshal(payload, &p) == nil {
			s.VideoID, s.Stage = p.VideoID, stageOfType[typ]
		}
	case TypeTranscodeCancel:
		var p TranscodeCancelPayload
		if json.Unmarshal(payload, &p) == nil {
			s.VideoID = p.VideoID
		}
	case TypeLiveMeetingDelete:
		var p LiveMeetingPayload
		if json.Unmarshal(payload, &p) == nil {
			s.MeetingID = p.MeetingID
		}
	case TypeLiveRecordingImport:
		var p LiveRecordingPayload
		if json.Unmarshal(payload, &p) == nil {
			s.RecordingID = p.RecordingID
		}
	}
	return s
}
