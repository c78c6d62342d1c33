package edustream

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
)

// Operating the fleet: what admins see of the queues, their tasks and the
// worker processes, and what they may do to them. The queues are asynq's,
// read through its Inspector (package jobs implements TaskQueues);
// Operations adds the rules: admins only, every action in the audit log and
// in the log, and a task about a video moves the video through its
// VideoLifecycle. That last rule is what makes an action stick: the
// database is the truth, and the reconciler gives a video that still waits
// for a step its task back, whatever was done to the task in Redis.

// TaskState is where a task is in its queue.
type TaskState string

// Task states, as in the GraphQL schema.
const (
	// TaskPending: waiting for a worker.
	TaskPending TaskState = "PENDING"
	// TaskActive: a worker runs it.
	TaskActive TaskState = "ACTIVE"
	// TaskScheduled: waiting for its time.
	TaskScheduled TaskState = "SCHEDULED"
	// TaskRetry: failed, waiting for its next attempt.
	TaskRetry TaskState = "RETRY"
	// TaskArchived: failed for good (or stopped by an admin); it runs only
	// if someone runs it again.
	TaskArchived TaskState = "ARCHIVED"
	// TaskCompleted: done, kept for a while (EduStream keeps none).
	TaskCompleted TaskState = "COMPLETED"
)

// QueueInfo is a queue as it is now.
type QueueInfo struct {
	Name   string
	Paused bool
	// Size counts the tasks waiting, running, retrying and archived.
	Size                                                   int
	Pending, Active, Scheduled, Retry, Archived, Completed int
	// ProcessedToday and FailedToday count the attempts since midnight
	// UTC, failed ones included in ProcessedToday.
	ProcessedToday, FailedToday int
	// Latency is the age of the oldest pending task (0: none waits): what
	// a fleet scales its workers on.
	Latency time.Duration
	// MemoryBytes is what the queue takes in Redis, as asynq samples it.
	MemoryBytes int64
}

// TaskSubject is what a task is about: the ids its payload names, never
// the payload itself. The zero value is a task about nothing in
// particular (the live classes' sync).
type TaskSubject struct {
	VideoID int64
	// Stage is the chain's step a video's task runs; empty for a video's
	// other tasks (its cleanup, the expiry of its upload).
	Stage    VideoStage
	CourseID int64
	// MeetingID is the Webex meeting series whose deletion the task asks.
	MeetingID string
	// RecordingID is the Webex recording the task imports.
	RecordingID string
}

// TaskInfo is a task as its queue keeps it.
type TaskInfo struct {
	ID    string
	Queue string
	// Type is the task type ("video:transcode:v1").
	Type              string
	State             TaskState
	Retried, MaxRetry int
	// LastError is why the last attempt failed, with secrets removed
	// (RedactSecrets); empty if none did.
	LastError     string
	LastFailedAt  *time.Time
	NextProcessAt *time.Time
	CompletedAt   *time.Time
	Subject       TaskSubject
}

// WorkerProcess is one running process that takes tasks, from the
// heartbeats its queues' servers write.
type WorkerProcess struct {
	Host string
	PID  int
	// Queues are the queues it takes tasks from, each with how many it
	// runs at once.
	Queues    []WorkerQueue
	StartedAt time.Time
	// Status is asynq's word for the process's servers: "active", or
	// "stopped" once it stopped taking tasks to shut down.
	Status string
	// Running are the tasks it runs now, the longest-running first.
	Running []RunningTask
}

// WorkerQueue is a queue a worker takes tasks from.
type WorkerQueue struct {
	Name        string
	Concurrency int
}

// RunningTask is a task a worker runs now.
type RunningTask struct {
	TaskID    string
	Type      string
	Queue     string
	Subject   TaskSubject
	StartedAt time.Time
	// Deadline is when the worker gives up on it (nil: none).
	Deadline *time.Time
}

// TaskQueues is the queues' side of operating the fleet. Every method is
// safe to repeat.
type TaskQueues interface {
	// Queues returns every queue, the ones EduStream's tasks use even
	// before their first task.
	Queues(ctx context.Context) ([]*QueueInfo, error)
	// Queue returns one queue. ENOTFOUND for a queue nothing uses.
	Queue(ctx context.Context, name string) (*QueueInfo, error)
	// Tasks returns up to limit tasks of the queue in state from offset,
	// in the queue's order (pending ones in the order workers take them),
	// and whether more follow. Tasks move between states all the time, so
	// a page is a snapshot. ENOTFOUND for an unknown queue, EINVALID for
	// an unknown state or a negative offset or limit.
	Tasks(ctx context.Context, queue string, state TaskState, offset, limit int) (tasks []*TaskInfo, hasMore bool, err error)
	// Task returns a task. ENOTFOUND, also for a finished task (none is
	// kept).
	Task(ctx context.Context, queue, id string) (*TaskInfo, error)
	// FindTask returns a task from whichever queue holds it. ENOTFOUND.
	FindTask(ctx context.Context, id string) (*TaskInfo, error)
	// RunTask makes a scheduled, retrying or archived task pending, and
	// returns it; a pending or active one is returned as it is. ENOTFOUND.
	RunTask(ctx context.Context, queue, id string) (*TaskInfo, error)
	// ArchiveTask archives a pending, scheduled or retrying task, so that
	// it runs only if someone runs it again, and returns it; an archived
	// one is returned as it is. ECONFLICT for an active one (CancelTask
	// stops those); ENOTFOUND.
	ArchiveTask(ctx context.Context, queue, id string) (*TaskInfo, error)
	// DeleteTask deletes a task that is not running. A missing task is not
	// an error; an active one is ECONFLICT. ENOTFOUND for an unknown queue.
	DeleteTask(ctx context.Context, queue, id string) error
	// CancelTask stops a task for good and returns it archived: an active
	// task's handler has its context cancelled (which kills its ffmpeg)
	// and the task is archived once its worker let go of it; a waiting one
	// is archived at once. A task whose worker does not let go in time is
	// returned active. ENOTFOUND, also for a task that finished before it
	// could be stopped; ECONFLICT for a completed one that is kept.
	CancelTask(ctx context.Context, id string) (*TaskInfo, error)
	// PauseQueue stops workers from taking the queue's tasks (running ones
	// finish) and returns the queue. ENOTFOUND for an unknown queue.
	PauseQueue(ctx context.Context, name string) (*QueueInfo, error)
	// ResumeQueue lets workers take the queue's tasks again and returns
	// the queue. ENOTFOUND for an unknown queue.
	ResumeQueue(ctx context.Context, name string) (*QueueInfo, error)
	// Workers returns the worker processes whose heartbeat is recent, with
	// what each runs now.
	Workers(ctx context.Context) ([]*WorkerProcess, error)
}

// VideoFilter selects a page of videos across every course, newest first:
// what admins look through. Videos that were replaced, and those of
// lectures that are gone or of hidden courses, are not listed.
type VideoFilter struct {
	// Status, when set, keeps only the videos with this status.
	Status *VideoStatus
	// BeforeID is the keyset cursor: only videos with a smaller id (0:
	// start).
	BeforeID int64
	// Limit is the page size; the store returns at most Limit videos.
	Limit int
}

// CanOperate reports whether u may see and operate the queues, the workers
// and every video, and read the audit log: admins only.
func CanOperate(u *User) bool { return u.IsAdmin() }

// Operations is what admins do to run the fleet. Every method refuses
// anyone but an admin, anonymous callers included (EFORBIDDEN); every
// action is recorded in the audit log and logged,
// whatever its result.
type Operations struct {
	Tasks TaskQueues
	// Life moves the videos the tasks are about; its Videos are read here.
	Life  *VideoLifecycle
	Audit AuditLog
}

// mayOperate refuses anyone but an admin, signed in or not.
func mayOperate(u *User) error {
	if !CanOperate(u) {
		return Errorf(EFORBIDDEN, "only admins may operate the queues and workers")
	}
	return nil
}

// Queues returns every queue.
func (o *Operations) Queues(ctx context.Context, actor *User) ([]*QueueInfo, error) {
	if err := mayOperate(actor); err != nil {
		return nil, err
	}
	return o.Tasks.Queues(ctx)
}

// Queue returns one queue. ENOTFOUND.
func (o *Operations) Queue(ctx context.Context, actor *User, name string) (*QueueInfo, error) {
	if err := mayOperate(actor); err != nil {
		return nil, err
	}
	return o.Tasks.Queue(ctx, name)
}

// ListTasks returns a page of a queue's tasks in state (see
// TaskQueues.Tasks).
func (o *Operations) ListTasks(ctx context.Context, actor *User, queue string, state TaskState, offset, limit int) ([]*TaskInfo, bool, error) {
	if err := mayOperate(actor); err != nil {
		return nil, false, err
	}
	return o.Tasks.Tasks(ctx, queue, state, offset, limit)
}

// Workers returns the running worker processes.
func (o *Operations) Workers(ctx context.Context, actor *User) ([]*WorkerProcess, error) {
	if err := mayOperate(actor); err != nil {
		return nil, err
	}
	return o.Tasks.Workers(ctx)
}

// ListVideos returns a page of videos across every course (see
// VideoFilter).
func (o *Operations) ListVideos(ctx context.Context, actor *User, f VideoFilter) ([]*Video, bool, error) {
	if err := mayOperate(actor); err != nil {
		return nil, false, err
	}
	return o.Life.Videos.FindVideos(ctx, f)
}

// AuditEntries returns a page of the audit log, newest first.
func (o *Operations) AuditEntries(ctx context.Context, actor *User, f AuditFilter) ([]*AuditEntry, bool, error) {
	if err := mayOperate(actor); err != nil {
		return nil, false, err
	}
	return o.Audit.FindAuditEntries(ctx, f)
}

// RunTask runs a task again now. An archived (or retrying) step of a
// video that failed at that step retries the video from there
// (VideoLifecycle.Retry), which queues the step afresh with its whole
// retry budget: run as it is, the step would find the video FAILED and do
// nothing. Any other task is made pending as it is. ENOTFOUND.
func (o *Operations) RunTask(ctx context.Context, actor *User, queue, id string) (*TaskInfo, error) {
	var task *TaskInfo
	err := o.act(ctx, actor, "runTask", taskTarget(queue, id), func() (string, error) {
		var err error
		var detail string
		task, detail, err = o.runTask(ctx, queue, id)
		return detail, err
	})
	return task, err
}

func (o *Operations) runTask(ctx context.Context, queue, id string) (*TaskInfo, string, error) {
	task, err := o.Tasks.Task(ctx, queue, id)
	if err != nil {
		return nil, "", err
	}
	detail := ""
	if v, err := o.failedVideoOf(ctx, task); err != nil {
		return nil, "", err
	} else if v != nil {
		if _, err := o.Life.Retry(ctx, v); err != nil {
			return nil, "", err
		}
		detail = fmt.Sprintf("video %d retried from %s", v.ID, v.Stage)
		// The retry queued the step afresh in place of an archived task;
		// a retrying one is still there and only needs to run now.
		if _, err := o.Tasks.Task(ctx, queue, id); ErrorCode(err) == ENOTFOUND {
			// A worker took the fresh task and finished it already.
			done := *task
			done.State, done.LastError, done.LastFailedAt, done.NextProcessAt = TaskCompleted, "", nil, nil
			return &done, detail, nil
		} else if err != nil {
			return nil, "", err
		}
	}
	task, err = o.Tasks.RunTask(ctx, queue, id)
	if err != nil {
		return nil, "", err
	}
	return task, detail, nil
}

// failedVideoOf returns the video a task's step failed, if the task is a
// step of the chain and its video failed there; nil otherwise.
func (o *Operations) failedVideoOf(ctx context.Context, t *TaskInfo) (*Video, error) {
	if t.Subject.VideoID == 0 || t.Subject.Stage == "" || (t.State != TaskArchived && t.State != TaskRetry) {
		return nil, nil
	}
	v, err := o.Life.Videos.FindVideoByID(ctx, t.Subject.VideoID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if v.ReplacedAt != nil || v.Status != VideoFailed || v.Stage != t.Subject.Stage {
		return nil, nil
	}
	return v, nil
}

// RunAllArchivedTasks runs every archived task of the queue again, each as
// RunTask does, and returns the queue. It stops after maxRunAll tasks,
// saying so in the audit log; running it again runs the rest.
func (o *Operations) RunAllArchivedTasks(ctx context.Context, actor *User, queue string) (*QueueInfo, error) {
	var q *QueueInfo
	err := o.act(ctx, actor, "runAllArchivedTasks", "queue "+queue, func() (string, error) {
		ran, retried, more, err := o.runAllArchived(ctx, queue)
		detail := fmt.Sprintf("%d tasks run, %d of them by retrying their video", ran, retried)
		if more {
			detail += "; more are archived, run it again"
		}
		if err != nil {
			return detail, err
		}
		q, err = o.Tasks.Queue(ctx, queue)
		return detail, err
	})
	return q, err
}

// maxRunAll bounds the tasks one RunAllArchivedTasks runs, so one call
// does not hold a request for minutes.
const maxRunAll = 1000

func (o *Operations) runAllArchived(ctx context.Context, queue string) (ran, retried int, more bool, err error) {
	const page = 100
	tried := map[string]bool{}
	for ran < maxRunAll {
		tasks, hasMore, err := o.Tasks.Tasks(ctx, queue, TaskArchived, 0, page)
		if err != nil {
			return ran, retried, false, err
		}
		progress := false
		for _, t := range tasks {
			if tried[t.ID] {
				// Archived again already (a worker failed it for good):
				// it ran, and running it once more is the next call's.
				continue
			}
			tried[t.ID] = true
			progress = true
			_, detail, err := o.runTask(ctx, queue, t.ID)
			switch {
			case ErrorCode(err) == ENOTFOUND:
				continue // deleted meanwhile
			case err != nil:
				return ran, retried, false, fmt.Errorf("run task %s: %w", t.ID, err)
			}
			ran++
			if detail != "" {
				retried++
			}
			if ran == maxRunAll {
				return ran, retried, true, nil
			}
		}
		if !hasMore || !progress {
			return ran, retried, false, nil
		}
	}
	return ran, retried, true, nil
}

// ArchiveTask archives a waiting task: it will not run unless run again.
// A step of a video that waits for it also ends the video FAILED
// (VideoLifecycle.Cancel, naming the admin), or the reconciler would queue
// the step again; retrying the video runs it again. ECONFLICT for a
// running task (CancelTask stops those); ENOTFOUND.
func (o *Operations) ArchiveTask(ctx context.Context, actor *User, queue, id string) (*TaskInfo, error) {
	var task *TaskInfo
	err := o.act(ctx, actor, "archiveTask", taskTarget(queue, id), func() (string, error) {
		t, err := o.Tasks.Task(ctx, queue, id)
		if err != nil {
			return "", err
		}
		if t.State == TaskActive {
			return "", Errorf(ECONFLICT, "task %s is running; cancel it to stop it", id)
		}
		detail, err := o.stopVideo(ctx, actor, t, "archived")
		if err != nil {
			return "", err
		}
		task, err = o.Tasks.ArchiveTask(ctx, queue, id)
		return detail, err
	})
	return task, err
}

// DeleteTask deletes a task that is not running and returns its id. A step
// of a video that waits for it ends the video FAILED, as ArchiveTask does.
// A missing task is not an error. ECONFLICT for a running task.
func (o *Operations) DeleteTask(ctx context.Context, actor *User, queue, id string) error {
	return o.act(ctx, actor, "deleteTask", taskTarget(queue, id), func() (string, error) {
		t, err := o.Tasks.Task(ctx, queue, id)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			// Gone already, or a queue nothing uses: DeleteTask says which.
			if err := o.Tasks.DeleteTask(ctx, queue, id); err != nil {
				return "", err
			}
			return "there was no such task", nil
		case err != nil:
			return "", err
		case t.State == TaskActive:
			return "", Errorf(ECONFLICT, "task %s is running; cancel it to stop it", id)
		}
		detail, err := o.stopVideo(ctx, actor, t, "deleted")
		if err != nil {
			return "", err
		}
		return detail, o.Tasks.DeleteTask(ctx, queue, id)
	})
}

// CancelTask stops a task for good (see TaskQueues.CancelTask): a running
// one has its ffmpeg killed. A step of a video ends the video FAILED first,
// through VideoLifecycle.Cancel with a reason naming the admin, so that
// neither the step's retry nor the reconciler runs it again; retrying the
// video does. Cancelling a task that is archived already returns it.
// ENOTFOUND.
func (o *Operations) CancelTask(ctx context.Context, actor *User, id string) (*TaskInfo, error) {
	var task *TaskInfo
	err := o.act(ctx, actor, "cancelTask", "task "+id, func() (string, error) {
		t, err := o.Tasks.FindTask(ctx, id)
		if err != nil {
			return "", err
		}
		detail, err := o.stopVideo(ctx, actor, t, "cancelled")
		if err != nil {
			return "", err
		}
		task, err = o.Tasks.CancelTask(ctx, id)
		if err == nil && task.State == TaskActive {
			detail = strings.TrimPrefix(detail+"; the worker has not stopped it yet", "; ")
		}
		return detail, err
	})
	return task, err
}

// stopVideo ends FAILED the video whose step t is, if the video waits for
// that step, with a reason naming the admin and what they did. It returns
// what it did, for the audit log.
func (o *Operations) stopVideo(ctx context.Context, actor *User, t *TaskInfo, did string) (string, error) {
	if t.Subject.VideoID == 0 || t.Subject.Stage == "" {
		return "", nil
	}
	v, err := o.Life.Videos.FindVideoByID(ctx, t.Subject.VideoID)
	if ErrorCode(err) == ENOTFOUND {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if stage, ok := v.PendingStage(); !ok || stage != t.Subject.Stage {
		return "", nil
	}
	reason := fmt.Sprintf("%s, an admin, %s the %s step; retry the video to run it again",
		actorName(actor), did, strings.ToLower(string(v.Stage)))
	if _, err := o.Life.Cancel(ctx, v, reason); ErrorCode(err) == ECONFLICT {
		// It moved on meanwhile (the step finished, or failed): the task
		// is all there is to stop.
		return "", nil
	} else if err != nil {
		return "", err
	}
	return fmt.Sprintf("video %d failed at %s", v.ID, v.Stage), nil
}

// actorName is how a video's reason names an admin: by name, or by the
// token's subject when the token carried no name.
func actorName(u *User) string {
	if name := strings.TrimSpace(u.Name); name != "" {
		return name
	}
	return u.Subject
}

// PauseQueue stops workers from taking the queue's tasks and returns it.
// Pausing a paused queue returns it as it is.
func (o *Operations) PauseQueue(ctx context.Context, actor *User, name string) (*QueueInfo, error) {
	var q *QueueInfo
	err := o.act(ctx, actor, "pauseQueue", "queue "+name, func() (string, error) {
		var err error
		q, err = o.Tasks.PauseQueue(ctx, name)
		return "", err
	})
	return q, err
}

// ResumeQueue lets workers take the queue's tasks again and returns it.
// Resuming a running queue returns it as it is.
func (o *Operations) ResumeQueue(ctx context.Context, actor *User, name string) (*QueueInfo, error) {
	var q *QueueInfo
	err := o.act(ctx, actor, "resumeQueue", "queue "+name, func() (string, error) {
		var err error
		q, err = o.Tasks.ResumeQueue(ctx, name)
		return "", err
	})
	return q, err
}

func taskTarget(queue, id string) string { return "task " + id + " in queue " + queue }

// act runs an admin action for actor, then records it in the audit log and
// the log with its result. Refusals of non-admins are logged but not
// recorded: they changed nothing, and a log anyone could write to would
// not be worth reading. Recording is best effort: the action happened,
// and the log line keeps it if the database does not.
func (o *Operations) act(ctx context.Context, actor *User, action, target string, do func() (detail string, err error)) error {
	log := Logger(ctx)
	if err := mayOperate(actor); err != nil {
		attrs := []any{slog.String("action", action), slog.String("target", target)}
		if actor != nil {
			attrs = append(attrs, slog.Int64("user_id", actor.ID), slog.String("role", string(actor.Role)))
		}
		log.Warn("admin action refused", attrs...)
		return err
	}
	detail, err := do()
	result := "ok"
	if err != nil {
		result = "failed: " + PublicCode(ErrorCode(err)) + ": " + ErrorMessage(err)
	}
	if detail != "" {
		result += " (" + detail + ")"
	}
	e := &AuditEntry{ActorID: actor.ID, Action: action, Target: target, Result: result}
	attrs := []any{slog.Int64("actor_id", actor.ID), slog.String("actor", actor.Subject), slog.String("action", action),
		slog.String("target", target), slog.String("result", result)}
	if err != nil && ErrorCode(err) == EINTERNAL {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if aerr := o.Audit.RecordAudit(ctx, e); aerr != nil {
		log.Error("record an admin action in the audit log; this line is its only record",
			append(attrs, slog.String("audit_error", aerr.Error()))...)
		return err
	}
	log.Info("admin action", append(attrs, slog.Int64("audit_id", e.ID))...)
	return err
}

// secretPatterns find what must not leave the fleet in text shown to
// admins: an error message may quote a presigned URL, a DSN or a header.
var secretPatterns = []struct {
	re   *regexp.Regexp
	with string
}{
	// URLs: the query (signatures, credentials, tokens) and the user info.
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@"'<>]*@`), "${1}REDACTED@"},
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s?#"'<>]*)\?(?:[^\s#"'<>]*[^\s#"'<>:,.;)\]])?`), "${1}?REDACTED"},
	// A MySQL DSN's password: user:password@tcp(host)/db.
	{regexp.MustCompile(`([A-Za-z0-9_.-]+):[^\s@/:]+@(tcp|unix)\(`), "${1}:REDACTED@${2}("},
	// Authorization headers and bare JWTs.
	{regexp.MustCompile(`(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+`), "${1} REDACTED"},
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`), "REDACTED"},
	// AWS access key ids.
	{regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`), "REDACTED"},
	// name=value and name: value pairs whose name says secret.
	{regexp.MustCompile(`(?i)\b((?:x-amz-)?(?:password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api_key|apikey|signature|credential|security-token|host_key|hostkey))("?\s*[=:]\s*"?)[^\s&",;)\]]+`), "${1}${2}REDACTED"},
}

// RedactSecrets returns s with what looks like a secret replaced by
// REDACTED: URL queries and user info, DSN passwords, bearer tokens and
// JWTs, AWS access key ids, and the values of password=, token=, secret=
// and the like. It is applied to text from outside EduStream's own words
// (a failed task's error) before admins see it.
func RedactSecrets(s string) string {
	for _, p := range secretPatterns {
		s = p.re.ReplaceAllString(s, p.with)
	}
	return s
}
