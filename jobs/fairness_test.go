package jobs_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/storage/sqldb"
)

// Stopping and fairness, with the real ffmpeg: a source of an hour keeps a
// worker's slot busy for as long as a test wants, and is stopped at its end.

// hourLong writes a source of an hour, tiny and cheap: 128×72 at 5 frames
// a second, about 10 MB.
func hourLong(t testing.TB) string {
	t.Helper()
	bins := testenv.FFmpeg(t)
	path := filepath.Join(t.TempDir(), "hour.mp4")
	out, err := exec.Command(bins.FFmpeg, "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=128x72:rate=5",
		"-t", "3600", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "45", "-pix_fmt", "yuv420p", path).CombinedOutput()
	if err != nil {
		t.Fatalf("make the hour-long source: %v\n%s", err, out)
	}
	return path
}

// slowForLong is the real ffmpeg, with the slowest preset for sources of
// LongVideo and more, so that their transcode outlasts anything a test does
// meanwhile; short ones transcode as usual.
type slowForLong struct {
	edustream.MediaTools
	slow edustream.MediaTools
}

func newSlowForLong(t testing.TB) *slowForLong {
	bins := testenv.FFmpeg(t)
	return &slowForLong{
		MediaTools: ffmpeg.New(ffmpeg.Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe}),
		slow:       ffmpeg.New(ffmpeg.Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe, Preset: "veryslow"}),
	}
}

func (m *slowForLong) Transcode(ctx context.Context, src string, info *edustream.MediaInfo, ladder []edustream.Rendition, dir string, progress func(edustream.TranscodeProgress)) error {
	if info.DurationSeconds >= jobs.LongVideo.Seconds() {
		return m.slow.Transcode(ctx, src, info, ladder, dir, progress)
	}
	return m.MediaTools.Transcode(ctx, src, info, ladder, dir, progress)
}

// ffmpegPIDs returns the ffmpeg processes working in dir.
func ffmpegPIDs(t testing.TB, dir string) []int {
	t.Helper()
	return testenv.ProcessesNaming(t, dir, "ffmpeg")
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// stopping checks that ffmpeg still runs as a test stops it, and returns
// the time the stop starts.
func stopping(t testing.TB, pids []int) time.Time {
	t.Helper()
	if !slices.ContainsFunc(pids, alive) {
		t.Fatalf("ffmpeg %v finished before the test stopped it", pids)
	}
	return time.Now()
}

// waitTranscoding waits until ffmpeg transcodes the video, and returns its
// processes.
func (c *chain) waitTranscoding(t testing.TB, v *edustream.Video) []int {
	t.Helper()
	var pids []int
	testenv.Eventually(t, fmt.Sprintf("video %d to be transcoding", v.ID), func() bool {
		got, err := c.videos.FindVideoByID(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		pids = ffmpegPIDs(t, c.workDir)
		return got.Status == edustream.VideoProcessing && got.Stage == edustream.StageTranscode && len(pids) > 0
	})
	return pids
}

// waitGone waits until every process of pids has exited, and returns how
// long after since that was.
func waitGone(t testing.TB, pids []int, since time.Time) time.Duration {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("ffmpeg %v to exit", pids), func() bool {
		return !slices.ContainsFunc(pids, alive)
	})
	return time.Since(since)
}

// stopWithin is how soon a stopped transcode's ffmpeg must be gone.
const stopWithin = 5 * time.Second

// newLecture adds a course of a new instructor with one lecture.
func (c *chain) newLecture(t testing.TB, subject string) (*edustream.User, *edustream.Lecture) {
	t.Helper()
	ctx := context.Background()
	u, err := sqldb.NewUserService(c.db).UpsertUser(ctx, edustream.Claims{Subject: subject, Role: edustream.RoleInstructor, Name: subject})
	if err != nil {
		t.Fatal(err)
	}
	course := &edustream.Course{InstructorID: u.ID, Title: "Course of " + subject}
	if err := sqldb.NewCourseService(c.db, nil).CreateCourse(ctx, course); err != nil {
		t.Fatal(err)
	}
	l := &edustream.Lecture{CourseID: course.ID, Title: "Lecture"}
	if err := c.lectures.CreateLecture(ctx, l); err != nil {
		t.Fatal(err)
	}
	return u, l
}

// A running transcode is stopped within seconds, with its ffmpeg, when its
// instructor cancels it, when a new upload replaces it and when its lecture
// is deleted; what it had made is deleted and the video ends where the
// table says.
func TestChainStopsARunningTranscode(t *testing.T) {
	c := setupChain(t)
	c.startWorker(t, workerOptions{media: newSlowForLong(t)})
	src := hourLong(t)
	inspector := asynq.NewInspectorFromRedisClient(c.rdb)
	taskGone := func(t *testing.T, v *edustream.Video) {
		t.Helper()
		testenv.Eventually(t, "the transcode task to be dropped", func() bool {
			_, err := inspector.GetTaskInfo(jobs.QueueVideoLong, jobs.VideoTaskID("transcode", v.ID))
			return err != nil
		})
		testenv.Eventually(t, "the task's directory to be removed", func() bool { return len(taskDirs(t, c.workDir)) == 0 })
		if keys := c.keys(t, v.WorkPrefix()); len(keys) != 0 {
			t.Errorf("the stopped transcode left %v", keys)
		}
	}

	t.Run("cancelled", func(t *testing.T) {
		v := c.upload(t, src)
		pids := c.waitTranscoding(t, v)
		stop := stopping(t, pids)
		v, _ = c.videos.FindVideoByID(context.Background(), v.ID)
		stopped, err := c.life.StopProcessing(context.Background(), v, edustream.CancelledBy(c.instructor))
		if err != nil {
			t.Fatal(err)
		}
		took := waitGone(t, pids, stop)
		t.Logf("ffmpeg %v exited %s after the stop", pids, took)
		if took > stopWithin {
			t.Errorf("ffmpeg took %s to exit, want under %s", took, stopWithin)
		}
		if stopped.Status != edustream.VideoFailed || stopped.Stage != edustream.StageTranscode || !strings.Contains(stopped.Error, "Ada cancelled") {
			t.Errorf("video = %s at %s: %q, want FAILED at TRANSCODE naming Ada", stopped.Status, stopped.Stage, stopped.Error)
		}
		taskGone(t, v)
		if got, _ := c.videos.FindVideoByID(context.Background(), v.ID); got.Status != edustream.VideoFailed {
			t.Errorf("after the step let go the video is %s", got.Status)
		}
	})

	t.Run("replaced by a new upload", func(t *testing.T) {
		v := c.upload(t, src)
		pids := c.waitTranscoding(t, v)
		stop := stopping(t, pids)
		c.open(t, []byte("the next take"), "take-2.mp4")
		took := waitGone(t, pids, stop)
		t.Logf("ffmpeg %v exited %s after the stop", pids, took)
		if took > stopWithin {
			t.Errorf("ffmpeg took %s to exit, want under %s", took, stopWithin)
		}
		got, _ := c.videos.FindVideoByID(context.Background(), v.ID)
		if got.Status != edustream.VideoFailed || !strings.Contains(got.Error, "new upload") {
			t.Errorf("video = %s: %q, want FAILED because a new upload replaced it", got.Status, got.Error)
		}
		taskGone(t, v)
	})

	t.Run("lecture deleted", func(t *testing.T) {
		user, lecture := c.newLecture(t, "grace")
		v := c.uploadAs(t, user, lecture, src)
		pids := c.waitTranscoding(t, v)
		stop := stopping(t, pids)
		if err := c.lectures.DeleteLecture(context.Background(), lecture.ID); err != nil {
			t.Fatal(err)
		}
		if err := c.life.StopLectures(context.Background(), []int64{lecture.ID}, "the lecture was deleted"); err != nil {
			t.Fatal(err)
		}
		took := waitGone(t, pids, stop)
		t.Logf("ffmpeg %v exited %s after the stop", pids, took)
		if took > stopWithin {
			t.Errorf("ffmpeg took %s to exit, want under %s", took, stopWithin)
		}
		// Its removal ran: no row, no object.
		testenv.Eventually(t, "the video and its objects to be removed", func() bool {
			_, err := c.videos.FindVideoByID(context.Background(), v.ID)
			return edustream.ErrorCode(err) == edustream.ENOTFOUND && len(c.keys(t, edustream.VideoPrefix(v.ID))) == 0
		})
		taskGone(t, v)
	})
}

// A video waiting behind a running transcode is told how long: at least
// the time the running one still needs (which its ffmpeg reports as it
// goes), plus its own, and less as the running one progresses.
func TestChainWaitingVideoETAFollowsTheRunningTranscode(t *testing.T) {
	c := setupChain(t)
	c.startWorker(t, workerOptions{media: newSlowForLong(t), concurrency: 1, longConcurrency: 1})
	hour := hourLong(t)
	running := c.upload(t, hour)
	c.waitTranscoding(t, running)
	grace, lecture := c.newLecture(t, "grace")
	waiting := c.uploadAs(t, grace, lecture, hour)

	ctx := context.Background()
	// Its own transcode, an hour of video, is expected to take an hour
	// over the assumed speed; the running one's time left comes on top.
	own := time.Duration(time.Hour.Seconds() / jobs.AssumedTranscodeSpeed * float64(time.Second))
	var first edustream.QueueWait
	testenv.Eventually(t, "the second hour to wait for the transcode slot with an ETA", func() bool {
		w, ok, err := c.queue.VideoQueueWait(ctx, waiting.ID)
		if err != nil {
			t.Fatal(err)
		}
		first = w
		return ok && w.Position == 1 && w.ETAKnown && w.ETA > own+time.Second
	})
	// The running transcode's own ETA, as ffmpeg reports it, falls as it
	// runs; so does the wait behind it.
	var later edustream.QueueWait
	testenv.Eventually(t, "the wait to fall as the running transcode progresses", func() bool {
		w, ok, err := c.queue.VideoQueueWait(ctx, waiting.ID)
		if err != nil {
			t.Fatal(err)
		}
		later = w
		return ok && w.ETAKnown && w.ETA < first.ETA-time.Second
	})
	t.Logf("the waiting hour's ETA: %v, then %v", first.ETA, later.ETA)
	if got, _ := c.videos.FindVideoByID(ctx, running.ID); got.Status != edustream.VideoProcessing {
		t.Fatalf("the running hour is %s: the test proves nothing", got.Status)
	}
	if later.Position != 1 || later.ETA <= own {
		t.Errorf("the waiting hour: %+v, want 1 ahead and more than its own %v", later, own)
	}
}

// A 12-second clip is not starved by an hour-long upload: the long
// transcode waits in its own queue with its own slot, so the clip finishes
// while it runs, on a worker whose one video slot the long one would
// otherwise hold for its whole hour. And one uploader cannot take every
// slot: with one slot per uploader, Ada's second video waits for her
// first, while Grace's goes through; it shows where it waits.
func TestChainShortVideosDoNotWaitForLongOnes(t *testing.T) {
	c := setupChain(t)
	c.startWorker(t, workerOptions{media: newSlowForLong(t), concurrency: 1, perUploader: 1})
	long := c.upload(t, hourLong(t))
	c.waitTranscoding(t, long)

	// Ada's next video waits for her slot.
	_, adaSecond := c.newLecture(t, "ada-second")
	adaClip := c.uploadAs(t, c.instructor, adaSecond, testenv.MakeClip(t, testenv.Clip{Width: 320, Height: 180, Seconds: 2}))
	testenv.Eventually(t, "Ada's second video to be put back for her turn", func() bool {
		return len(c.logs.Records(t, "task put back")) > 0
	})

	grace, lecture := c.newLecture(t, "grace")
	clip := c.waitDone(t, c.uploadAs(t, grace, lecture, testenv.MakeClip(t, testenv.Clip{Width: 426, Height: 240, Seconds: 12, Audio: true})).ID)
	if clip.Status != edustream.VideoReady {
		t.Fatalf("the 12-second clip: %s (%s), want READY", clip.Status, clip.Error)
	}
	ctx := context.Background()
	if got, _ := c.videos.FindVideoByID(ctx, long.ID); got.Status != edustream.VideoProcessing || got.Stage != edustream.StageTranscode {
		t.Fatalf("the hour-long video is %s at %s, want still transcoding: the test proves nothing", got.Status, got.Stage)
	}
	if got, _ := c.videos.FindVideoByID(ctx, adaClip.ID); got.Status != edustream.VideoUploaded || got.Stage != edustream.StageProbe {
		t.Errorf("Ada's second video is %s at %s, want waiting for her slot at PROBE", got.Status, got.Stage)
	}
	if w, waiting, err := c.queue.VideoQueueWait(ctx, adaClip.ID); err != nil || !waiting {
		t.Errorf("Ada's waiting video: position %d, waiting %v, %v; want it shown waiting", w.Position, waiting, err)
	}

	// Stopping the long one gives Ada her slot back.
	long, _ = c.videos.FindVideoByID(ctx, long.ID)
	if _, err := c.life.StopProcessing(ctx, long, "the test is over"); err != nil {
		t.Fatal(err)
	}
	if got := c.waitDone(t, adaClip.ID); got.Status != edustream.VideoReady {
		t.Errorf("Ada's second video: %s (%s), want READY once her slot is free", got.Status, got.Error)
	}
	testenv.Eventually(t, "ffmpeg to be gone", func() bool { return len(ffmpegPIDs(t, c.workDir)) == 0 })
}
