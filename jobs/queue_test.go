package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

func TestNewCoursePurgeTask(t *testing.T) {
	t.Parallel()
	task, err := NewCoursePurgeTask(42)
	if err != nil {
		t.Fatal(err)
	}
	if task.Type() != TypeCoursePurge {
		t.Errorf("type = %q, want %q", task.Type(), TypeCoursePurge)
	}
	var p CoursePurgePayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil {
		t.Fatal(err)
	}
	if p.CourseID != 42 {
		t.Errorf("payload course id = %d, want 42", p.CourseID)
	}
	// The payload is part of the wire format between versions of the binary.
	if got, want := string(task.Payload()), `{"course_id":42}`; got != want {
		t.Errorf("payload = %s, want %s", got, want)
	}
	if got, want := CoursePurgeTaskID(42), "course:purge:42"; got != want {
		t.Errorf("task id = %q, want %q", got, want)
	}
}

func TestNewCoursePurgeTaskRejectsBadIDs(t *testing.T) {
	t.Parallel()
	for _, id := range []int64{0, -1} {
		_, err := NewCoursePurgeTask(id)
		if code := edustream.ErrorCode(err); code != edustream.EINVALID {
			t.Errorf("NewCoursePurgeTask(%d): code %q (%v), want %q", id, code, err, edustream.EINVALID)
		}
	}
}

// The options of a task are only visible once it is in Redis.
func TestQueueEnqueuesCoursePurgeWithItsOptions(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	q := newTestQueue(t, opt)
	if err := q.EnqueueCoursePurge(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	info, err := newInspector(t, opt).GetTaskInfo(QueueDefault, "course:purge:7")
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != TypeCoursePurge || info.Queue != QueueDefault || info.State != asynq.TaskStatePending {
		t.Errorf("task = type %q queue %q state %v, want %q %q pending", info.Type, info.Queue, info.State, TypeCoursePurge, QueueDefault)
	}
	if info.MaxRetry != coursePurge.maxRetry {
		t.Errorf("MaxRetry = %d, want %d", info.MaxRetry, coursePurge.maxRetry)
	}
	// asynq stores whole seconds; a fractional timeout would come back
	// different (or as none at all).
	if info.Timeout != coursePurge.timeout {
		t.Errorf("Timeout = %v, want %v", info.Timeout, coursePurge.timeout)
	}
	if string(info.Payload) != `{"course_id":7}` {
		t.Errorf("payload = %s", info.Payload)
	}
}

func TestQueueEnqueueCoursePurgeTwiceCollapses(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	q := newTestQueue(t, opt)
	ctx := context.Background()
	for range 3 {
		if err := q.EnqueueCoursePurge(ctx, 9); err != nil {
			t.Fatalf("EnqueueCoursePurge: %v", err)
		}
	}
	if err := q.EnqueueCoursePurge(ctx, 10); err != nil {
		t.Fatal(err)
	}
	ids := pendingTaskIDs(t, opt)
	if len(ids) != 2 || !slices.Contains(ids, "course:purge:9") || !slices.Contains(ids, "course:purge:10") {
		t.Errorf("pending tasks = %v, want course:purge:9 and course:purge:10 once each", ids)
	}
}

func TestQueueEnqueueCoursePurgeRejectsBadID(t *testing.T) {
	t.Parallel()
	q := newTestQueue(t, redisOpt(t))
	err := q.EnqueueCoursePurge(context.Background(), 0)
	if code := edustream.ErrorCode(err); code != edustream.EINVALID {
		t.Errorf("code %q (%v), want %q", code, err, edustream.EINVALID)
	}
}

// An archived task keeps its id in Redis; it must not block the purge the
// database still wants forever.
func TestEnqueueReplacesArchivedTask(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	q := newTestQueue(t, opt)
	ins := newInspector(t, opt)
	ctx := context.Background()
	if err := q.EnqueueCoursePurge(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if err := ins.ArchiveTask(QueueDefault, "course:purge:5"); err != nil {
		t.Fatal(err)
	}
	queued, err := enqueue(ctx, q.enq, coursePurge, CoursePurgePayload{CourseID: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !queued {
		t.Error("enqueue over an archived task reported it as already queued")
	}
	info, err := ins.GetTaskInfo(QueueDefault, "course:purge:5")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending {
		t.Errorf("state = %v, want pending", info.State)
	}
	// A pending task is left alone.
	queued, err = enqueue(ctx, q.enq, coursePurge, CoursePurgePayload{CourseID: 5})
	if err != nil || queued {
		t.Errorf("second enqueue = %v, %v; want false, nil", queued, err)
	}
}

// "Already queued" must not swallow real failures.
func TestQueueEnqueueFailsWithoutRedis(t *testing.T) {
	t.Parallel()
	q := newTestQueue(t, unreachableRedis(t))
	ctx := context.Background()
	err := q.EnqueueCoursePurge(ctx, 1)
	if err == nil {
		t.Fatal("EnqueueCoursePurge without Redis returned nil")
	}
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("unexpected conflict: %v", err)
	}
}

// A waiting video's position counts the tasks running in its queue, on
// every worker, and those pending before it; a long video waits in its own
// queue, where short ones are not counted.
func TestVideoQueuePositionCountsWhatRuns(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	q := NewQueue(clientOf(t, opt))
	ctx := context.Background()
	video := func(id int64, seconds float64) *edustream.Video {
		return &edustream.Video{ID: id, Media: &edustream.MediaInfo{DurationSeconds: seconds}}
	}
	type want struct {
		pos     int
		waiting bool
	}
	check := func(when string, wants map[int64]want) {
		t.Helper()
		for id, w := range wants {
			pos, waiting, err := q.VideoQueuePosition(ctx, id)
			if err != nil || pos != w.pos || waiting != w.waiting {
				t.Errorf("%s: video %d at %d, waiting %v, %v; want %d, %v", when, id, pos, waiting, err, w.pos, w.waiting)
			}
		}
	}
	check("nothing queued", map[int64]want{1: {0, false}})
	for _, v := range []*edustream.Video{video(1, 12), video(2, 12), video(3, 12), video(4, LongVideo.Seconds())} {
		if err := q.EnqueueVideoStage(ctx, v, edustream.StageTranscode); err != nil {
			t.Fatal(err)
		}
	}
	check("no worker yet", map[int64]want{1: {0, true}, 2: {1, true}, 3: {2, true}, 4: {0, true}})

	started, release := make(chan string, 1), make(chan struct{})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 1, Queues: map[string]int{QueueVideo: 1}, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeVideoTranscode, func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		started <- id
		<-release
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	defer close(release)
	if id := <-started; id != VideoTaskID("transcode", 1) {
		t.Fatalf("the worker took %s first, want video 1's", id)
	}
	check("video 1 running", map[int64]want{1: {0, false}, 2: {1, true}, 3: {2, true}, 4: {0, true}})
}
