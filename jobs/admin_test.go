package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
)

// The admin tests run on Redis (miniredis unless EDUSTREAM_TEST_REDIS_URL
// is set), with asynq servers of their own where a task must run, and the
// whole chain with ffmpeg for the cancelled transcode.

// adminEnv is a Redis database of the test's own, the Queue that enqueues
// into it and the Admin that inspects it.
type adminEnv struct {
	rdb   *goredis.Client
	queue *jobs.Queue
	admin *jobs.Admin
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	rdb := testenv.RedisClient(t, testenv.RedisURL(t))
	return &adminEnv{rdb: rdb, queue: jobs.NewQueue(rdb), admin: jobs.NewAdmin(rdb)}
}

// serve runs an asynq server on the queues, in strict priority order
// (the first queue is always looked at first), until the test ends.
func (e *adminEnv) serve(t *testing.T, mux *asynq.ServeMux, queues ...string) {
	t.Helper()
	priorities := map[string]int{}
	for i, q := range queues {
		priorities[q] = len(queues) - i
	}
	srv := asynq.NewServerFromRedisClient(e.rdb, asynq.Config{
		Concurrency: 2, Queues: priorities, StrictPriority: true,
		TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

// purgesTo handles course purges by sending their task ids to ran.
func purgesTo(ran chan<- string) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeCoursePurge, func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		ran <- id
		return nil
	})
	return mux
}

func (e *adminEnv) task(t *testing.T, queue, id string) *edustream.TaskInfo {
	t.Helper()
	task, err := e.admin.Task(context.Background(), queue, id)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	return task
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := edustream.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func TestAdminListsQueuesAndTasks(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t)
	ctx := context.Background()

	t.Run("before any task", func(t *testing.T) {
		queues, err := e.admin.Queues(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(queues) != 3 || queues[0].Name != jobs.QueueDefault || queues[1].Name != jobs.QueueVideo || queues[2].Name != jobs.QueueVideoLong || queues[0].Size != 0 {
			t.Errorf("queues %+v, want default, video and video-long, empty", queues)
		}
		tasks, more, err := e.admin.Tasks(ctx, jobs.QueueVideo, edustream.TaskPending, 0, 10)
		if err != nil || len(tasks) != 0 || more {
			t.Errorf("tasks of an empty queue: %v (more %v), %v", tasks, more, err)
		}
		_, err = e.admin.Queue(ctx, "nope")
		wantCode(t, err, edustream.ENOTFOUND)
		_, _, err = e.admin.Tasks(ctx, "nope", edustream.TaskPending, 0, 10)
		wantCode(t, err, edustream.ENOTFOUND)
		_, _, err = e.admin.Tasks(ctx, jobs.QueueVideo, "SLEEPING", 0, 10)
		wantCode(t, err, edustream.EINVALID)
	})

	for id := int64(1); id <= 7; id++ {
		if err := e.queue.EnqueueVideoStage(ctx, &edustream.Video{ID: id}, edustream.StageTranscode); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.queue.EnqueueCoursePurge(ctx, 42); err != nil {
		t.Fatal(err)
	}
	if err := e.queue.EnqueueMeetingDelete(ctx, "Series-A"); err != nil {
		t.Fatal(err)
	}
	if err := e.queue.EnqueueRecordingImport(ctx, "rec-1"); err != nil {
		t.Fatal(err)
	}

	t.Run("counts", func(t *testing.T) {
		video, err := e.admin.Queue(ctx, jobs.QueueVideo)
		if err != nil {
			t.Fatal(err)
		}
		if video.Pending != 7 || video.Size != 7 || video.Paused || video.Latency < 0 {
			t.Errorf("video queue %+v, want 7 pending", video)
		}
		def, err := e.admin.Queue(ctx, jobs.QueueDefault)
		if err != nil {
			t.Fatal(err)
		}
		if def.Pending != 3 {
			t.Errorf("default queue %+v, want 3 pending", def)
		}
	})
	t.Run("pages in the order workers take them", func(t *testing.T) {
		var want []string
		for id := 1; id <= 7; id++ {
			want = append(want, jobs.VideoTaskID("transcode", int64(id)))
		}
		// Offsets that fall inside asynq's pages, and past the end.
		for _, tt := range []struct{ offset, limit int }{{0, 3}, {3, 3}, {2, 4}, {5, 10}, {6, 1}, {7, 3}, {1, 0}} {
			tasks, more, err := e.admin.Tasks(ctx, jobs.QueueVideo, edustream.TaskPending, tt.offset, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, task := range tasks {
				got = append(got, task.ID)
			}
			end := min(tt.offset+tt.limit, len(want))
			if !slices.Equal(got, want[min(tt.offset, 7):end]) || more != (end < len(want)) {
				t.Errorf("offset %d limit %d: %v (more %v), want %v (more %v)", tt.offset, tt.limit, got, more, want[min(tt.offset, 7):end], end < len(want))
			}
		}
		_, _, err := e.admin.Tasks(ctx, jobs.QueueVideo, edustream.TaskPending, -1, 3)
		wantCode(t, err, edustream.EINVALID)
	})
	t.Run("what each task is about", func(t *testing.T) {
		for _, tt := range []struct {
			queue, id string
			want      edustream.TaskSubject
		}{
			{jobs.QueueVideo, "video:transcode:3", edustream.TaskSubject{VideoID: 3, Stage: edustream.StageTranscode}},
			{jobs.QueueDefault, "course:purge:42", edustream.TaskSubject{CourseID: 42}},
			{jobs.QueueDefault, jobs.LiveMeetingDeleteTaskID("Series-A"), edustream.TaskSubject{MeetingID: "Series-A"}},
			{jobs.QueueDefault, jobs.LiveRecordingImportTaskID("rec-1"), edustream.TaskSubject{RecordingID: "rec-1"}},
		} {
			task := e.task(t, tt.queue, tt.id)
			if task.Subject != tt.want || task.Queue != tt.queue || task.State != edustream.TaskPending {
				t.Errorf("task %s: %+v, want about %+v, pending in %s", tt.id, task, tt.want, tt.queue)
			}
			found, err := e.admin.FindTask(ctx, tt.id)
			if err != nil || found.Queue != tt.queue {
				t.Errorf("FindTask(%s) = %+v, %v", tt.id, found, err)
			}
		}
		_, err := e.admin.FindTask(ctx, "video:transcode:999")
		wantCode(t, err, edustream.ENOTFOUND)
		_, err = e.admin.Task(ctx, jobs.QueueDefault, "video:transcode:3")
		wantCode(t, err, edustream.ENOTFOUND)
	})
}

// A failed attempt's error is shown without the secrets it quoted.
func TestAdminRedactsTheLastError(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t)
	ctx := context.Background()
	const presigned = "https://bucket.s3.amazonaws.com/videos/7/source?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE&X-Amz-Signature=0123abcd"
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeCoursePurge, func(context.Context, *asynq.Task) error {
		return fmt.Errorf("GET %s: 403 Forbidden (password=hunter2)", presigned)
	})
	if err := e.queue.EnqueueCoursePurge(ctx, 7); err != nil {
		t.Fatal(err)
	}
	e.serve(t, mux, jobs.QueueDefault)
	var task *edustream.TaskInfo
	testenv.Eventually(t, "the failed purge to wait for its retry", func() bool {
		task = e.task(t, jobs.QueueDefault, jobs.CoursePurgeTaskID(7))
		return task.State == edustream.TaskRetry
	})
	if task.Retried != 1 || task.LastFailedAt == nil || task.NextProcessAt == nil || !task.NextProcessAt.After(*task.LastFailedAt) {
		t.Errorf("retrying task %+v, want one retry, when it failed and when it runs next", task)
	}
	for _, secret := range []string{"0123abcd", "AKIAIOSFODNN7EXAMPLE", "hunter2"} {
		if strings.Contains(task.LastError, secret) {
			t.Errorf("last error %q shows %q", task.LastError, secret)
		}
	}
	if !strings.Contains(task.LastError, "https://bucket.s3.amazonaws.com/videos/7/source?REDACTED: 403 Forbidden") {
		t.Errorf("last error %q no longer says what failed", task.LastError)
	}
}

// A paused queue's tasks wait; resumed, they run.
func TestAdminPausesAndResumesAQueue(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t)
	ctx := context.Background()
	ran := make(chan string, 10)
	mux := purgesTo(ran)

	_, err := e.admin.PauseQueue(ctx, jobs.QueueDefault)
	wantCode(t, err, edustream.ECONFLICT) // asynq does not know the queue yet
	_, err = e.admin.PauseQueue(ctx, "nope")
	wantCode(t, err, edustream.ENOTFOUND)

	if err := e.queue.EnqueueCoursePurge(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for range 2 { // pausing twice is harmless
		q, err := e.admin.PauseQueue(ctx, jobs.QueueDefault)
		if err != nil || !q.Paused || q.Pending != 1 {
			t.Fatalf("pause: %+v, %v; want the queue paused with its task pending", q, err)
		}
	}
	// The server looks at the paused queue before the signal queue, so by
	// the time the signal's task runs it has passed over the paused one.
	const signal = "signal"
	signalTask := asynq.NewTask(jobs.TypeCoursePurge, []byte(`{"course_id":2}`), asynq.Queue(signal), asynq.TaskID("course:purge:2"))
	if _, err := asynq.NewClientFromRedisClient(e.rdb).Enqueue(signalTask); err != nil {
		t.Fatal(err)
	}
	e.serve(t, mux, jobs.QueueDefault, signal)
	if id := receive(t, ran); id != "course:purge:2" {
		t.Fatalf("%s ran first, want the signal's task: the paused queue's task ran", id)
	}
	if task := e.task(t, jobs.QueueDefault, "course:purge:1"); task.State != edustream.TaskPending {
		t.Fatalf("the paused queue's task is %s, want PENDING", task.State)
	}

	for range 2 {
		q, err := e.admin.ResumeQueue(ctx, jobs.QueueDefault)
		if err != nil || q.Paused {
			t.Fatalf("resume: %+v, %v", q, err)
		}
	}
	if id := receive(t, ran); id != "course:purge:1" {
		t.Fatalf("%s ran, want the resumed queue's task", id)
	}
}

// receive waits (bounded) for the next value of ch.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testenv.WaitLimit):
		t.Fatalf("nothing arrived in %v", testenv.WaitLimit)
	}
	panic("unreachable")
}

// An archived task runs when run again; every move is safe to repeat.
func TestAdminRunsAnArchivedTask(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t)
	ctx := context.Background()
	id := jobs.CoursePurgeTaskID(5)
	if err := e.queue.EnqueueCoursePurge(ctx, 5); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		task, err := e.admin.ArchiveTask(ctx, jobs.QueueDefault, id)
		if err != nil || task.State != edustream.TaskArchived {
			t.Fatalf("archive: %+v, %v", task, err)
		}
	}
	if q, _ := e.admin.Queue(ctx, jobs.QueueDefault); q.Archived != 1 || q.Pending != 0 {
		t.Errorf("queue %+v, want the task archived", q)
	}
	_, err := e.admin.ArchiveTask(ctx, jobs.QueueDefault, "course:purge:404")
	wantCode(t, err, edustream.ENOTFOUND)

	ran := make(chan string, 1)
	mux := purgesTo(ran)
	// The server does not run archived tasks: the signal's task, in the
	// same queue, runs alone.
	if err := e.queue.EnqueueCoursePurge(ctx, 6); err != nil {
		t.Fatal(err)
	}
	e.serve(t, mux, jobs.QueueDefault)
	if got := receive(t, ran); got != jobs.CoursePurgeTaskID(6) {
		t.Fatalf("%s ran, want only the pending task", got)
	}
	if task := e.task(t, jobs.QueueDefault, id); task.State != edustream.TaskArchived {
		t.Fatalf("the archived task is %s", task.State)
	}

	task, err := e.admin.RunTask(ctx, jobs.QueueDefault, id)
	if err != nil || (task.State != edustream.TaskPending && task.State != edustream.TaskActive) {
		t.Fatalf("run: %+v, %v; want it pending (or taken already)", task, err)
	}
	if got := receive(t, ran); got != id {
		t.Fatalf("%s ran, want the task run again", got)
	}
	// It finished once its handler returned; none is kept.
	testenv.Eventually(t, "the task to finish", func() bool {
		_, err := e.admin.Task(ctx, jobs.QueueDefault, id)
		return edustream.ErrorCode(err) == edustream.ENOTFOUND
	})
	_, err = e.admin.RunTask(ctx, jobs.QueueDefault, id)
	wantCode(t, err, edustream.ENOTFOUND)

	t.Run("delete", func(t *testing.T) {
		if err := e.queue.EnqueueVideoStage(ctx, &edustream.Video{ID: 8}, edustream.StageProbe); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := e.admin.DeleteTask(ctx, jobs.QueueVideo, "video:probe:8"); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.admin.Task(ctx, jobs.QueueVideo, "video:probe:8")
		wantCode(t, err, edustream.ENOTFOUND)
		wantCode(t, e.admin.DeleteTask(ctx, "nope", "video:probe:8"), edustream.ENOTFOUND)
	})
}

// ffmpegsUnder returns the ffmpeg processes whose command line names a file
// under dir.
func ffmpegsUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to look for processes in: %v", err)
	}
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // it exited meanwhile
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "ffmpeg" && bytes.Contains(cmdline, []byte(dir)) {
			found = append(found, e.Name())
		}
	}
	return found
}

// longClip returns an MP4 of about minutes minutes, cheap to make: a short
// clip looped without encoding it again. Transcoding it keeps a worker
// busy long enough to cancel it.
func longClip(t *testing.T, minutes int) string {
	t.Helper()
	bins := testenv.FFmpeg(t)
	short := testenv.MakeClip(t, testenv.Clip{Width: 320, Height: 240, Seconds: 2})
	long := filepath.Join(t.TempDir(), "long.mp4")
	out, err := exec.Command(bins.FFmpeg, "-v", "error", "-nostdin", "-y", "-stream_loop", strconv.Itoa(minutes*30-1),
		"-i", short, "-c", "copy", long).CombinedOutput()
	if err != nil {
		t.Fatalf("loop the clip: %v\n%s", err, out)
	}
	return long
}

// An admin cancels a running transcode: its ffmpeg is killed, the video
// ends FAILED naming the admin, and the task is archived, not retried.
func TestAdminCancelsARunningTranscode(t *testing.T) {
	c := setupChain(t)
	admin := jobs.NewAdmin(c.rdb)
	audit := edustreamtest.NewStore(nil)
	ops := &edustream.Operations{Tasks: admin, Life: c.life, Audit: audit}
	ada := &edustream.User{ID: 1, Subject: "ops-1", Name: "Grace Hopper", Role: edustream.RoleAdmin}
	ctx := edustream.NewContextWithLogger(context.Background(), c.logger)

	c.startWorker(t, workerOptions{})
	v := c.upload(t, longClip(t, 6))
	taskID := jobs.VideoTaskID("transcode", v.ID)

	testenv.Eventually(t, "ffmpeg to transcode the video", func() bool { return len(ffmpegsUnder(t, c.workDir)) > 0 })
	t.Run("the worker shows what it runs", func(t *testing.T) {
		// Workers write their state every few seconds.
		var running []edustream.RunningTask
		testenv.Eventually(t, "the worker to report the transcode", func() bool {
			workers, err := admin.Workers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			running = nil
			for _, w := range workers {
				if w.PID == os.Getpid() {
					running = w.Running
				}
			}
			return slices.ContainsFunc(running, func(r edustream.RunningTask) bool { return r.TaskID == taskID })
		})
		workers, _ := admin.Workers(ctx)
		var me *edustream.WorkerProcess
		for _, w := range workers {
			if w.PID == os.Getpid() {
				me = w
			}
		}
		wantQueues := []edustream.WorkerQueue{{Name: jobs.QueueDefault, Concurrency: 4}, {Name: jobs.QueueVideo, Concurrency: 1}, {Name: jobs.QueueVideoLong, Concurrency: 1}}
		if me == nil || !slices.Equal(me.Queues, wantQueues) || me.Status != "active" || me.StartedAt.IsZero() {
			t.Errorf("this process as a worker: %+v, want queues %v, active", me, wantQueues)
		}
		i := slices.IndexFunc(running, func(r edustream.RunningTask) bool { return r.TaskID == taskID })
		if r := running[i]; r.Subject.VideoID != v.ID || r.Subject.Stage != edustream.StageTranscode || r.Queue != jobs.QueueVideo || r.StartedAt.IsZero() {
			t.Errorf("running %+v, want the transcode of video %d", r, v.ID)
		}
	})

	task, err := ops.CancelTask(ctx, ada, taskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.State != edustream.TaskArchived {
		t.Errorf("cancelled task %+v, want it archived", task)
	}
	testenv.Eventually(t, "no ffmpeg of the cancelled transcode to be left", func() bool { return len(ffmpegsUnder(t, c.workDir)) == 0 })

	got, err := c.videos.FindVideoByID(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != edustream.VideoFailed || got.Stage != edustream.StageTranscode || !strings.Contains(got.Error, "Grace Hopper, an admin, cancelled the transcode step") {
		t.Errorf("video = %s at %s: %q, want FAILED at TRANSCODE naming the admin", got.Status, got.Stage, got.Error)
	}
	// Archived, it never runs again by itself; repeating the cancel says so.
	again, err := ops.CancelTask(ctx, ada, taskID)
	if err != nil || again.State != edustream.TaskArchived {
		t.Errorf("cancel again: %+v, %v", again, err)
	}
	entries, _, err := audit.FindAuditEntries(ctx, edustream.AuditFilter{Limit: 10})
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit log %v, %v; want the two cancels", entries, err)
	}
	if e := entries[1]; e.ActorID != ada.ID || e.Action != "cancelTask" || e.Target != "task "+taskID ||
		e.Result != fmt.Sprintf("ok (video %d failed at TRANSCODE)", v.ID) {
		t.Errorf("audit entry %+v", e)
	}

	t.Run("retrying the video transcodes it again", func(t *testing.T) {
		task, err := ops.RunTask(ctx, ada, jobs.QueueVideo, taskID)
		if err != nil {
			t.Fatal(err)
		}
		if task.State == edustream.TaskArchived {
			t.Fatalf("run: %+v, want the step queued afresh", task)
		}
		testenv.Eventually(t, "ffmpeg to transcode the video again", func() bool { return len(ffmpegsUnder(t, c.workDir)) > 0 })
		if got, _ := c.videos.FindVideoByID(ctx, v.ID); got.Status == edustream.VideoFailed || got.Error != "" {
			t.Errorf("video after the run: %s %q, want it retried", got.Status, got.Error)
		}
		// Leave nothing running for the worker's shutdown to wait on.
		if _, err := ops.CancelTask(ctx, ada, taskID); err != nil {
			t.Error(err)
		}
	})
}
