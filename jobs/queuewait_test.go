package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// The estimate gives the tasks ahead, in order, to the slot that frees
// first; the step starts on the first slot free after them.
func TestQueueAheadETA(t *testing.T) {
	t.Parallel()
	const unknown = -1
	min := func(n int) time.Duration { return time.Duration(n) * time.Minute }
	for _, tc := range []struct {
		name      string
		a         queueAhead
		want      time.Duration
		wantKnown bool
	}{
		{"nothing ahead, own time", queueAhead{slots: 2, own: min(3)}, min(3), true},
		{"nothing ahead, own time unknown", queueAhead{slots: 2, own: unknown}, 0, false},
		{"a free slot: the running task is not waited for", queueAhead{slots: 2, running: []time.Duration{min(60)}, own: min(1)}, min(1), true},
		{"one slot, behind a running hour", queueAhead{slots: 1, running: []time.Duration{min(60)}, own: min(1)}, min(61), true},
		{"one slot, own time unknown", queueAhead{slots: 1, running: []time.Duration{min(60)}, own: unknown}, min(60), true},
		{"one slot, running and pending in a row", queueAhead{slots: 1, running: []time.Duration{min(10)}, pending: []time.Duration{min(5), min(7)}, own: min(2)}, min(24), true},
		// Slot A frees at 10 and takes the 5, then at 15 the 7: free at
		// 22. Slot B frees at 20: the step starts then.
		{"two slots share the pending ones", queueAhead{slots: 2, running: []time.Duration{min(10), min(20)}, pending: []time.Duration{min(5), min(7)}, own: min(2)}, min(22), true},
		{"the pending go to the slot free first", queueAhead{slots: 2, running: []time.Duration{min(30), min(1)}, pending: []time.Duration{min(5), min(5), min(5)}, own: 0}, min(16), true},
		{"more running than the slots known (a worker's heartbeat is late)", queueAhead{slots: 1, running: []time.Duration{min(10), min(20)}, own: min(1)}, min(11), true},
		{"no worker serves the queue: one slot assumed", queueAhead{slots: 0, pending: []time.Duration{min(4)}, own: min(1)}, min(5), true},
		{"unknown times count as none", queueAhead{slots: 1, running: []time.Duration{unknown}, pending: []time.Duration{min(5), unknown}, own: unknown}, min(5), true},
		{"only unknown times: no estimate", queueAhead{slots: 1, running: []time.Duration{unknown}, pending: []time.Duration{unknown}, own: unknown}, 0, false},
	} {
		got, known := tc.a.eta()
		if got != tc.want || known != tc.wantKnown {
			t.Errorf("%s: eta = %v, %v; want %v, %v", tc.name, got, known, tc.want, tc.wantKnown)
		}
	}
}

// A running step's time left is what it wrote less the time since; until
// it writes, a transcode is expected to take its whole time.
func TestRemainingStepTime(t *testing.T) {
	t.Parallel()
	now := time.Now()
	transcode := func(mediaSeconds float64, result string) *asynq.TaskInfo {
		t.Helper()
		task, err := videoTranscode.newTask(context.Background(), VideoPayload{VideoID: 1, MediaSeconds: mediaSeconds})
		if err != nil {
			t.Fatal(err)
		}
		info := &asynq.TaskInfo{Type: task.Type(), Payload: task.Payload()}
		if result != "" {
			info.Result = []byte(result)
		}
		return info
	}
	wrote := func(eta time.Duration, ago time.Duration) string {
		b, err := json.Marshal(stepETA{Seconds: eta.Seconds(), At: now.Add(-ago)})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name      string
		task      *asynq.TaskInfo
		want      time.Duration
		wantKnown bool
	}{
		{"nothing written: the whole step", transcode(60, ""), time.Duration(60 / assumedTranscodeSpeed * float64(time.Second)), true},
		{"nothing written, length unknown", transcode(0, ""), 0, false},
		{"written, less the time since", transcode(60, wrote(100*time.Second, 30*time.Second)), 70 * time.Second, true},
		{"past its ETA: about to end", transcode(60, wrote(10*time.Second, time.Minute)), 0, true},
		{"a result that is no ETA", transcode(60, `garbage`), 0, false},
		{"a probe has no expected time", &asynq.TaskInfo{Type: TypeVideoProbe, Payload: []byte(`{"video_id":1}`)}, 0, false},
	} {
		got, known := remainingStepTime(tc.task, now)
		if got != tc.want || known != tc.wantKnown {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, known, tc.want, tc.wantKnown)
		}
	}
}

// With the real asynq: a worker with one slot runs a transcode that
// reports its ETA; the videos waiting behind it are told at least its
// time left, and less as it progresses.
func TestVideoQueueWaitFollowsTheRunningETA(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	q := NewQueue(clientOf(t, opt))
	ctx := context.Background()
	video := func(id int64, seconds float64) *edustream.Video {
		return &edustream.Video{ID: id, Media: &edustream.MediaInfo{DurationSeconds: seconds}}
	}
	for _, v := range []*edustream.Video{video(1, 12), video(2, 30), video(3, 45)} {
		if err := q.EnqueueVideoStage(ctx, v, edustream.StageTranscode); err != nil {
			t.Fatal(err)
		}
	}
	expected := func(mediaSeconds float64) time.Duration {
		return time.Duration(mediaSeconds / assumedTranscodeSpeed * float64(time.Second))
	}
	// waitFor polls video id's wait until ok accepts it.
	waitFor := func(when string, id int64, ok func(edustream.QueueWait) bool) edustream.QueueWait {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			w, waiting, err := q.VideoQueueWait(ctx, id)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if waiting && ok(w) {
				return w
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: video %d waits %+v (waiting %v)", when, id, w, waiting)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	within := func(got, want time.Duration) bool { return got <= want && got > want-5*time.Second }

	// No worker yet: the videos ahead, then the video's own time.
	waitFor("no worker", 2, func(w edustream.QueueWait) bool {
		return w.Position == 1 && w.ETAKnown && w.ETA == expected(12)+expected(30)
	})

	reported := make(chan time.Duration)
	taken := make(chan struct{})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 1, Queues: map[string]int{QueueVideo: 1}, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	// The handler reports as the transcode's progress reporter does,
	// through handle's result writer, each ETA the test sends.
	handle(mux, videoTranscode, func(ctx context.Context, p VideoPayload) error {
		if p.VideoID != 1 {
			return nil // the test is over
		}
		taken <- struct{}{}
		for eta := range reported {
			if err := writeStepETA(ctx, eta, time.Now()); err != nil {
				t.Error(err)
			}
			taken <- struct{}{}
		}
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	defer close(reported)
	<-taken
	// The worker's slots are read from its heartbeat.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, err := q.slots(QueueVideo)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fleet has %d slots for the video queue, want the worker's 1", n)
		}
	}

	// Running, nothing written yet: the whole of video 1's expected time.
	waitFor("video 1 started", 2, func(w edustream.QueueWait) bool {
		return w.Position == 1 && w.ETAKnown && within(w.ETA, expected(12)+expected(30))
	})
	reported <- time.Hour
	<-taken
	w2 := waitFor("video 1 reported an hour", 2, func(w edustream.QueueWait) bool {
		return w.Position == 1 && w.ETAKnown && within(w.ETA, time.Hour+expected(30))
	})
	if w2.ETA < time.Hour-5*time.Second {
		t.Errorf("video 2 waits %v, less than the running transcode's hour", w2.ETA)
	}
	waitFor("video 3 behind both", 3, func(w edustream.QueueWait) bool {
		return w.Position == 2 && w.ETAKnown && within(w.ETA, time.Hour+expected(30)+expected(45))
	})
	reported <- 10 * time.Minute
	<-taken
	w2 = waitFor("video 1 progressed", 2, func(w edustream.QueueWait) bool {
		return w.Position == 1 && w.ETAKnown && within(w.ETA, 10*time.Minute+expected(30))
	})
	if w2.ETA < 10*time.Minute-5*time.Second {
		t.Errorf("video 2 waits %v, less than the running transcode's 10 minutes left", w2.ETA)
	}
}
