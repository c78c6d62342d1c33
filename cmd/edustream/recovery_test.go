package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// Recovery follows events, with real `work` processes. Both tests log
// the figure docs/benchmarks.md reports ("Recovery"); what they assert is
// that recovery happens within testenv.WaitLimit (30 s), which asynq's
// own recovery (60 s at the least after a SIGKILL) and the reconciler's
// minute could not meet.

// A worker is SIGKILLed in the middle of a transcode: the other worker
// runs the task again within seconds, and the video ends READY once.
func TestRecoveryAfterWorkerKill(t *testing.T) {
	t.Parallel()
	testenv.FFmpeg(t)
	if testing.Short() {
		t.Skip("waits out a task lease")
	}
	env, _ := backendEnv(t)
	env["EDUSTREAM_WORK"] = "false"
	env["EDUSTREAM_VIDEO_CONCURRENCY"] = "1"
	in := start(t, env, "serve")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lectureID := in.publishedLecture(t, ada)
	progress, err := in.subscribe(t, ada, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	workers := make([]*process, 2)
	dirs := make([]string, 2)
	for i := range workers {
		dirs[i] = t.TempDir()
		wenv := map[string]string{"EDUSTREAM_WORK_DIR": dirs[i]}
		for k, v := range env {
			if _, ok := wenv[k]; !ok {
				wenv[k] = v
			}
		}
		workers[i] = startProcess(t, wenv, "work")
	}

	in.uploadClip(t, ada, lectureID, sharedClip(t, testenv.Clip{Width: 1280, Height: 720, Seconds: 10, Audio: true}))
	events := untilTranscoding(t, progress)
	busy := -1
	for i, dir := range dirs {
		if len(processesUnder(t, dir)) > 0 {
			busy = i
		}
	}
	if busy < 0 {
		t.Fatal("no worker runs ffmpeg while the video transcodes: the test would prove nothing")
	}
	other := 1 - busy
	killed := time.Now()
	workers[busy].kill(t)
	testenv.Eventually(t, "the transcode to run again on the other worker", func() bool {
		return len(processesUnder(t, dirs[other])) > 0
	})
	t.Logf("recovery: worker SIGKILL -> its transcode running again on the other worker: %.1f s", time.Since(killed).Seconds())

	events = append(events, progress.until(t, "READY", 4*time.Minute)...)
	if n := countEvents(events, "READY"); n != 1 {
		t.Errorf("READY seen %d times, want once", n)
	}
	if !containsLine(workers[other].out.String(), "took back the task of a dead worker") {
		t.Error("the surviving worker did not say it took the task back")
	}
}

// Redis dies while a video is completed, and comes back empty: the chain
// starts within seconds of its return, from the database.
func TestRecoveryAfterRedisReturnsEmpty(t *testing.T) {
	t.Parallel()
	testenv.FFmpeg(t)
	srv := testenv.StartRedis(t)
	env, _ := backendEnv(t)
	env["EDUSTREAM_REDIS_URL"] = srv.URL
	env["EDUSTREAM_WORK"] = "false"
	env["EDUSTREAM_WORK_DIR"] = t.TempDir()
	in := start(t, env, "serve")
	worker := startProcess(t, env, "work")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lectureID := in.publishedLecture(t, ada)
	data, err := os.ReadFile(sharedClip(t, testenv.Clip{Width: 320, Height: 240, Seconds: 2}))
	if err != nil {
		t.Fatal(err)
	}
	uploadID, parts := in.uploadParts(t, ada, lectureID, data)
	testenv.Eventually(t, "the worker to be up", func() bool { return containsLine(worker.out.String(), "jobs worker started") })

	srv.Kill()
	// The database is the truth: completing works without Redis, and the
	// step it could not enqueue waits for the reconciler.
	in.graphql(t, ada, `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"uploadId": uploadID, "parts": parts}}).ok(t)
	if s := videoStatus(t, in, ada, lectureID); s != "UPLOADED" {
		t.Fatalf("with Redis down the video is %s, want UPLOADED", s)
	}
	testenv.Eventually(t, "the worker to see Redis down", func() bool { return containsLine(worker.out.String(), "redis unreachable") })
	srv.Restart()
	back := time.Now()
	testenv.Eventually(t, "the chain to move", func() bool { return videoStatus(t, in, ada, lectureID) != "UPLOADED" })
	t.Logf("recovery: Redis back (empty) -> the chain moving: %.1f s", time.Since(back).Seconds())
	testenv.Eventually(t, "the video to be READY", func() bool { return videoStatus(t, in, ada, lectureID) == "READY" })
}

// videoStatus returns the status of the lecture's video.
func videoStatus(t testing.TB, in *instance, tok, lectureID string) string {
	t.Helper()
	var r struct {
		Lecture struct{ Video *struct{ Status string } }
	}
	decode(t, in.graphql(t, tok, `query($id: ID!) { lecture(id: $id) { video { status } } }`, map[string]any{"id": lectureID}).ok(t), &r)
	if r.Lecture.Video == nil {
		return ""
	}
	return r.Lecture.Video.Status
}

// containsLine reports whether a process's JSON log has a line with msg.
func containsLine(log, msg string) bool {
	return strings.Contains(log, `"msg":"`+msg+`"`)
}

// linesWith returns the lines of a process's log that hold s.
func linesWith(log, s string) []string {
	var lines []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, s) {
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
	}
	return lines
}
