package edustream_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/internal/testenv"
)

func TestRedactSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain words", "ffmpeg exited with status 1: Invalid data found when processing input",
			"ffmpeg exited with status 1: Invalid data found when processing input"},
		{"presigned URL", `GET "https://b.s3.amazonaws.com/videos/1/source?X-Amz-Signature=abc&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F": 403`,
			`GET "https://b.s3.amazonaws.com/videos/1/source?REDACTED": 403`},
		{"URL at the end of a sentence", "fetch http://127.0.0.1:9000/blobs/x?sig=abc.", "fetch http://127.0.0.1:9000/blobs/x?REDACTED."},
		{"user info", "dial redis://default:hunter2@cache.internal:6379/0: refused", "dial redis://REDACTED@cache.internal:6379/0: refused"},
		{"MySQL DSN", "open edustream:s3cr3t@tcp(db:3306)/edustream: refused", "open edustream:REDACTED@tcp(db:3306)/edustream: refused"},
		{"bearer token", "Authorization: Bearer abc.def-ghi", "Authorization: Bearer REDACTED"},
		{"JWT", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl expired", "token REDACTED expired"},
		{"access key id", "the key ASIAABCDEFGHIJKLMNOP has expired", "the key REDACTED has expired"},
		{"key=value", `webex: 401 (access_token=abc123, "password": "pw", host_key=123456)`, `webex: 401 (access_token=REDACTED, "password": "REDACTED", host_key=REDACTED)`},
		{"blob keys stay", "store videos/12/hls/720p/seg_00001.ts: no space left", "store videos/12/hls/720p/seg_00001.ts: no space left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := edustream.RedactSecrets(tt.in); got != tt.want {
				t.Errorf("RedactSecrets(%q)\n = %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// fakeQueues is a TaskQueues in memory: tasks by id, in one queue each,
// moved the way asynq moves them, with every change recorded.
type fakeQueues struct {
	mu      sync.Mutex
	tasks   map[string]*edustream.TaskInfo
	order   []string
	changes []string
	// stuck are tasks that stay archived when run (a worker fails them
	// again at once).
	stuck map[string]bool
}

func newFakeQueues(tasks ...*edustream.TaskInfo) *fakeQueues {
	f := &fakeQueues{tasks: map[string]*edustream.TaskInfo{}, stuck: map[string]bool{}}
	for _, t := range tasks {
		f.tasks[t.ID] = t
		f.order = append(f.order, t.ID)
	}
	return f
}

func (f *fakeQueues) changed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

func (f *fakeQueues) get(queue, id string) (*edustream.TaskInfo, error) {
	t, ok := f.tasks[id]
	if !ok || (queue != "" && t.Queue != queue) {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "task %s not found", id)
	}
	cp := *t
	return &cp, nil
}

func (f *fakeQueues) set(id string, state edustream.TaskState, change string) (*edustream.TaskInfo, error) {
	f.changes = append(f.changes, change+" "+id)
	f.tasks[id].State = state
	return f.get("", id)
}

func (f *fakeQueues) Queues(context.Context) ([]*edustream.QueueInfo, error) {
	return []*edustream.QueueInfo{{Name: "video"}}, nil
}

func (f *fakeQueues) Queue(_ context.Context, name string) (*edustream.QueueInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := &edustream.QueueInfo{Name: name}
	for _, t := range f.tasks {
		if t.State == edustream.TaskArchived {
			q.Archived++
		}
	}
	return q, nil
}

func (f *fakeQueues) Tasks(_ context.Context, queue string, state edustream.TaskState, offset, limit int) ([]*edustream.TaskInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*edustream.TaskInfo
	for _, id := range f.order {
		if t := f.tasks[id]; t.Queue == queue && t.State == state {
			cp := *t
			out = append(out, &cp)
		}
	}
	out = out[min(offset, len(out)):]
	return out[:min(limit, len(out))], len(out) > limit, nil
}

func (f *fakeQueues) Task(_ context.Context, queue, id string) (*edustream.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.get(queue, id)
}

func (f *fakeQueues) FindTask(_ context.Context, id string) (*edustream.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.get("", id)
}

func (f *fakeQueues) RunTask(_ context.Context, queue, id string) (*edustream.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, err := f.get(queue, id)
	if err != nil || t.State == edustream.TaskPending || t.State == edustream.TaskActive {
		return t, err
	}
	if f.stuck[id] {
		f.changes = append(f.changes, "run "+id)
		return t, nil
	}
	return f.set(id, edustream.TaskPending, "run")
}

func (f *fakeQueues) ArchiveTask(_ context.Context, queue, id string) (*edustream.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, err := f.get(queue, id)
	if err != nil || t.State == edustream.TaskArchived {
		return t, err
	}
	return f.set(id, edustream.TaskArchived, "archive")
}

func (f *fakeQueues) DeleteTask(_ context.Context, queue, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, "delete "+id)
	delete(f.tasks, id)
	return nil
}

func (f *fakeQueues) CancelTask(_ context.Context, id string) (*edustream.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.get("", id); err != nil {
		return nil, err
	}
	return f.set(id, edustream.TaskArchived, "cancel")
}

func (f *fakeQueues) PauseQueue(_ context.Context, name string) (*edustream.QueueInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, "pause "+name)
	return &edustream.QueueInfo{Name: name, Paused: true}, nil
}

func (f *fakeQueues) ResumeQueue(_ context.Context, name string) (*edustream.QueueInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, "resume "+name)
	return &edustream.QueueInfo{Name: name}, nil
}

func (f *fakeQueues) Workers(context.Context) ([]*edustream.WorkerProcess, error) { return nil, nil }

// failingAudit is an audit log whose database is gone.
type failingAudit struct{ edustream.AuditLog }

func (failingAudit) RecordAudit(context.Context, *edustream.AuditEntry) error {
	return errors.New("database is gone")
}

// ops is Operations on the in-memory doubles, with a lecture whose video
// is where a test puts it.
type ops struct {
	*edustream.Operations
	life  *life
	tasks *fakeQueues
	admin *edustream.User
	// ctx carries a logger into logs.
	ctx  context.Context
	logs *testenv.LogBuffer
}

func newOps(t *testing.T, tasks ...*edustream.TaskInfo) *ops {
	t.Helper()
	l := newLife(t)
	admin, err := l.store.UpsertUser(context.Background(), edustream.Claims{Subject: "ops", Role: edustream.RoleAdmin, Name: "Grace"})
	if err != nil {
		t.Fatal(err)
	}
	o := &ops{life: l, tasks: newFakeQueues(tasks...), admin: admin, logs: &testenv.LogBuffer{}}
	o.ctx = edustream.NewContextWithLogger(context.Background(), slog.New(slog.NewJSONHandler(o.logs, nil)))
	o.Operations = &edustream.Operations{Tasks: o.tasks, Life: l.VideoLifecycle, Audit: l.store}
	return o
}

// withTasks replaces the queues' tasks with tasks.
func (o *ops) withTasks(tasks ...*edustream.TaskInfo) *fakeQueues {
	o.tasks = newFakeQueues(tasks...)
	o.Tasks = o.tasks
	return o.tasks
}

// videoAt stores a video of the lecture at (status, stage).
func (o *ops) videoAt(t *testing.T, status edustream.VideoStatus, stage edustream.VideoStage) *edustream.Video {
	t.Helper()
	return o.life.videoAt(t, edustream.VideoState{Status: status, Stage: stage})
}

func stepTask(v *edustream.Video, stage edustream.VideoStage, state edustream.TaskState) *edustream.TaskInfo {
	return &edustream.TaskInfo{ID: "video:" + strings.ToLower(string(stage)) + ":" + strconv.FormatInt(v.ID, 10),
		Queue: "video", State: state, Subject: edustream.TaskSubject{VideoID: v.ID, Stage: stage}}
}

func (o *ops) audit(t *testing.T) []string {
	t.Helper()
	entries, _, err := o.life.store.FindAuditEntries(context.Background(), edustream.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(entries) {
		out = append(out, e.Action+" "+e.Target+": "+e.Result)
	}
	return out
}

func TestOperationsRefuseAllButAdmins(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	ctx := o.ctx
	student := &edustream.User{ID: 9, Subject: "sam", Role: edustream.RoleStudent}
	instructor := &edustream.User{ID: 8, Subject: "ada", Role: edustream.RoleInstructor}
	for _, u := range []*edustream.User{nil, student, instructor} {
		want := edustream.EFORBIDDEN
		calls := map[string]error{}
		_, calls["Queues"] = o.Queues(ctx, u)
		_, calls["Queue"] = o.Queue(ctx, u, "video")
		_, _, calls["ListTasks"] = o.ListTasks(ctx, u, "video", edustream.TaskPending, 0, 10)
		_, calls["Workers"] = o.Workers(ctx, u)
		_, _, calls["ListVideos"] = o.ListVideos(ctx, u, edustream.VideoFilter{Limit: 10})
		_, _, calls["AuditEntries"] = o.AuditEntries(ctx, u, edustream.AuditFilter{Limit: 10})
		_, calls["RunTask"] = o.RunTask(ctx, u, "video", "x")
		_, calls["ArchiveTask"] = o.ArchiveTask(ctx, u, "video", "x")
		calls["DeleteTask"] = o.DeleteTask(ctx, u, "video", "x")
		_, calls["CancelTask"] = o.CancelTask(ctx, u, "x")
		_, calls["PauseQueue"] = o.PauseQueue(ctx, u, "video")
		_, calls["ResumeQueue"] = o.ResumeQueue(ctx, u, "video")
		_, calls["RunAllArchivedTasks"] = o.RunAllArchivedTasks(ctx, u, "video")
		for name, err := range calls {
			if code := edustream.ErrorCode(err); code != want {
				t.Errorf("%s as %+v: %v, want %s", name, u, err, want)
			}
		}
	}
	if changes := o.tasks.changed(); len(changes) != 0 {
		t.Errorf("refused calls changed the queues: %v", changes)
	}
	if entries := o.audit(t); len(entries) != 0 {
		t.Errorf("refused calls were recorded: %v", entries)
	}
	// The mutations' refusals are logged, with who tried.
	if refused := o.logs.Records(t, "admin action refused"); len(refused) != 3*7 || refused[7]["role"] != "STUDENT" {
		t.Errorf("logged %d refusals (%v), want the 7 mutations of 3 callers", len(refused), refused)
	}
}

// What an admin does to a step of the chain sticks: the video moves with
// the task, or the reconciler would undo it.
func TestOperationsMoveTheVideoOfAStep(t *testing.T) {
	t.Parallel()
	t.Run("archive a waiting step", func(t *testing.T) {
		o := newOps(t)
		ctx := o.ctx
		v := o.videoAt(t, edustream.VideoUploaded, edustream.StageTranscode)
		task := stepTask(v, edustream.StageTranscode, edustream.TaskPending)
		o.withTasks(task)
		got, err := o.ArchiveTask(ctx, o.admin, "video", task.ID)
		if err != nil || got.State != edustream.TaskArchived {
			t.Fatalf("archive: %+v, %v", got, err)
		}
		v, _ = o.life.store.FindVideoByID(ctx, v.ID)
		if v.Status != edustream.VideoFailed || v.Error != "Grace, an admin, archived the transcode step; retry the video to run it again" {
			t.Errorf("video %s: %q", v.Status, v.Error)
		}
		if events := o.life.events.Published(); len(events) == 0 || events[len(events)-1].Encoding.Status != edustream.VideoFailed {
			t.Errorf("the video's failure was not announced: %+v", events)
		}

		// Running it again retries the video, which queues the step.
		got, err = o.RunTask(ctx, o.admin, "video", task.ID)
		if err != nil || got.State != edustream.TaskPending {
			t.Fatalf("run: %+v, %v", got, err)
		}
		v, _ = o.life.store.FindVideoByID(ctx, v.ID)
		if v.Status != edustream.VideoUploaded || v.Error != "" {
			t.Errorf("video after the run: %s %q, want it retried", v.Status, v.Error)
		}
		if queued := o.life.jobs.VideoTasks(); len(queued) != 1 || queued[0] != (edustreamtest.VideoTask{VideoID: v.ID, Stage: edustream.StageTranscode}) {
			t.Errorf("queued %v, want the transcode", queued)
		}
		want := []string{
			"archiveTask task " + task.ID + " in queue video: ok (video 1 failed at TRANSCODE)",
			"runTask task " + task.ID + " in queue video: ok (video 1 retried from TRANSCODE)",
		}
		if got := o.audit(t); !slices.Equal(got, want) {
			t.Errorf("audit log %q, want %q", got, want)
		}
		logged := o.logs.Records(t, "admin action")
		if len(logged) != 2 || logged[0]["actor"] != "ops" || logged[0]["action"] != "archiveTask" || logged[0]["audit_id"] == nil {
			t.Errorf("logged %v, want both actions with their actor and audit entry", logged)
		}
	})
	t.Run("a task the video has moved past leaves the video alone", func(t *testing.T) {
		o := newOps(t)
		ctx := o.ctx
		v := o.videoAt(t, edustream.VideoProcessing, edustream.StagePublish)
		stale := stepTask(v, edustream.StageTranscode, edustream.TaskRetry)
		o.withTasks(stale)
		for _, do := range []func() error{
			func() error { _, err := o.ArchiveTask(ctx, o.admin, "video", stale.ID); return err },
			func() error { _, err := o.RunTask(ctx, o.admin, "video", stale.ID); return err },
			func() error { _, err := o.CancelTask(ctx, o.admin, stale.ID); return err },
			func() error { return o.DeleteTask(ctx, o.admin, "video", stale.ID) },
		} {
			if err := do(); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := o.life.store.FindVideoByID(ctx, v.ID); got.Status != edustream.VideoProcessing || got.Stage != edustream.StagePublish {
			t.Errorf("video moved to %s at %s", got.Status, got.Stage)
		}
		if want := []string{"archive " + stale.ID, "run " + stale.ID, "cancel " + stale.ID, "delete " + stale.ID}; !slices.Equal(o.tasks.changed(), want) {
			t.Errorf("changes %v, want %v", o.tasks.changed(), want)
		}
	})
	t.Run("a running task cannot be archived or deleted", func(t *testing.T) {
		o := newOps(t)
		ctx := o.ctx
		v := o.videoAt(t, edustream.VideoProcessing, edustream.StageTranscode)
		running := stepTask(v, edustream.StageTranscode, edustream.TaskActive)
		o.withTasks(running)
		_, err := o.ArchiveTask(ctx, o.admin, "video", running.ID)
		if edustream.ErrorCode(err) != edustream.ECONFLICT {
			t.Errorf("archive a running task: %v", err)
		}
		if err := o.DeleteTask(ctx, o.admin, "video", running.ID); edustream.ErrorCode(err) != edustream.ECONFLICT {
			t.Errorf("delete a running task: %v", err)
		}
		if got, _ := o.life.store.FindVideoByID(ctx, v.ID); got.Status != edustream.VideoProcessing {
			t.Errorf("refused calls moved the video to %s", got.Status)
		}
		want := []string{
			"archiveTask task " + running.ID + " in queue video: failed: CONFLICT: task " + running.ID + " is running; cancel it to stop it",
			"deleteTask task " + running.ID + " in queue video: failed: CONFLICT: task " + running.ID + " is running; cancel it to stop it",
		}
		if got := o.audit(t); !slices.Equal(got, want) {
			t.Errorf("audit log %q, want %q", got, want)
		}
	})
}

// Running every archived task stops when what is left will not leave the
// archive, and says how many it ran.
func TestOperationsRunAllArchivedTasks(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	ctx := o.ctx
	failed := o.videoAt(t, edustream.VideoFailed, edustream.StageProbe)
	var tasks []*edustream.TaskInfo
	tasks = append(tasks, stepTask(failed, edustream.StageProbe, edustream.TaskArchived))
	for _, id := range []string{"course:purge:1", "course:purge:2", "live:sync-meetings"} {
		tasks = append(tasks, &edustream.TaskInfo{ID: id, Queue: "video", State: edustream.TaskArchived})
	}
	o.withTasks(tasks...).stuck["live:sync-meetings"] = true
	q, err := o.RunAllArchivedTasks(ctx, o.admin, "video")
	if err != nil {
		t.Fatal(err)
	}
	if q.Archived != 1 {
		t.Errorf("queue %+v, want the stuck task left archived", q)
	}
	if got, _ := o.life.store.FindVideoByID(ctx, failed.ID); got.Status != edustream.VideoUploaded {
		t.Errorf("the failed video is %s, want it retried", got.Status)
	}
	if got := o.audit(t); len(got) != 1 || got[0] != "runAllArchivedTasks queue video: ok (4 tasks run, 1 of them by retrying their video)" {
		t.Errorf("audit log %q", got)
	}
}

// An action whose record fails still happens: the log line keeps it.
func TestOperationsActWithoutTheAuditLog(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	o.Audit = failingAudit{}
	q, err := o.PauseQueue(o.ctx, o.admin, "video")
	if err != nil || !q.Paused {
		t.Errorf("pause with the audit log down: %+v, %v", q, err)
	}
	if lost := o.logs.Records(t, "record an admin action in the audit log; this line is its only record"); len(lost) != 1 ||
		lost[0]["action"] != "pauseQueue" || lost[0]["result"] != "ok" || lost[0]["audit_error"] != "database is gone" {
		t.Errorf("logged %v, want the action and why it is not in the audit log", lost)
	}
	if changes := o.tasks.changed(); !slices.Equal(changes, []string{"pause video"}) {
		t.Errorf("changes %v", changes)
	}
}
