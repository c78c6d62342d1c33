package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/mediaconvert"
	"github.com/edustream/edustream/mediaconvert/mediaconverttest"
	"github.com/edustream/edustream/storage/local"
	"github.com/edustream/edustream/storage/sqldb"
)

// These tests run the chain with MediaConvert (against the fake) on real
// storage: SQLite, the local blob store, and Redis for the queue.

const mcBucket = "edustream-videos"

type mcBundle struct {
	chain      *chain
	lectures   *sqldb.LectureService
	worker     *Worker
	videos     *sqldb.VideoService
	blobs      *local.Store
	fake       *mediaconverttest.Server
	transcodes *edustream.TranscodeJobs
	uploads    *edustream.Uploads
	logs       *testenv.LogBuffer
	lectureID  int64
	// events are the fake's job state events not delivered yet.
	mu     sync.Mutex
	events [][]byte
	// now is the workers' clock.
	now time.Time
	opt asynq.RedisConnOpt
	// ctx carries the test's logger, as a task's context does.
	ctx context.Context
	// published are the events the chain and the reports published.
	published *edustreamtest.Events
}

// encodingEvents returns the encoding events published so far.
func encodingEvents(events *edustreamtest.Events) []edustream.EncodingEvent {
	var out []edustream.EncodingEvent
	for _, e := range events.Published() {
		if e.Encoding != nil {
			out = append(out, *e.Encoding)
		}
	}
	return out
}

// setupMediaConvert returns a chain whose transcoder is MediaConvert on a
// fake whose jobs wait for Run and whose events wait for deliver. Media is
// nil: nothing in the chain may need ffmpeg but probe.
func setupMediaConvert(t *testing.T) *mcBundle {
	t.Helper()
	ctx := context.Background()
	b := &mcBundle{now: time.Now(), published: &edustreamtest.Events{}}
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "edustream.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	users, courses, lectures := sqldb.NewUserService(db), sqldb.NewCourseService(db, nil), sqldb.NewLectureService(db, nil)
	b.videos = sqldb.NewVideoService(db, nil)
	teacher, err := users.UpsertUser(ctx, edustream.Claims{Subject: "teacher", Role: edustream.RoleInstructor, Name: "T"})
	if err != nil {
		t.Fatal(err)
	}
	course := &edustream.Course{InstructorID: teacher.ID, Title: "Video"}
	if err := courses.CreateCourse(ctx, course); err != nil {
		t.Fatal(err)
	}
	lecture := &edustream.Lecture{CourseID: course.ID, Title: "One"}
	if err := lectures.CreateLecture(ctx, lecture); err != nil {
		t.Fatal(err)
	}
	b.lectureID = lecture.ID
	b.blobs, err = local.New(local.Config{Dir: t.TempDir(), BaseURL: "http://127.0.0.1:1", SigningKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	b.fake = mediaconverttest.New(t, mediaconverttest.Config{
		Bucket: mcBucket, Storage: b.blobs, Manual: true,
		Events: func(_ context.Context, ev []byte) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.events = append(b.events, ev)
			return nil
		},
	})
	client, err := mediaconvert.New(ctx, mediaconvert.Config{
		Region: "us-east-1", Endpoint: b.fake.URL(), RoleARN: "arn:aws:iam::111122223333:role/MC", Bucket: mcBucket,
		AccessKeyID: "AKIAFAKE", SecretAccessKey: "fake",
	})
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := newTestLogger()
	b.logs, b.ctx = logs, edustream.NewContextWithLogger(ctx, logger)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	b.opt = redisOpt(t)
	rdb := clientOf(t, b.opt)
	b.lectures = lectures
	clock := func() time.Time { return b.now }
	life := &edustream.VideoLifecycle{Videos: b.videos, Jobs: NewQueue(rdb), Events: b.published, Blobs: b.blobs, Now: clock}
	b.uploads = &edustream.Uploads{Life: life, Blobs: b.blobs}
	b.worker = NewWorker(rdb, WorkerConfig{ReconcileInterval: -1}, Deps{
		Courses: courses, Videos: b.videos, Life: life, Uploads: b.uploads, Blobs: b.blobs,
		Transcoder: client, Events: b.published, Logger: logger, WorkDir: t.TempDir(),
		Now: clock,
	})
	b.chain = &chain{d: b.worker.deps}
	b.transcodes = b.worker.transcodes
	return b
}

// video creates a video of the lecture, probed, at the transcode step:
// 60 s of 1280×720 with audio.
func (b *mcBundle) video(t *testing.T) *edustream.Video {
	t.Helper()
	ctx := context.Background()
	v := &edustream.Video{LectureID: b.lectureID, UploaderID: 1, FileName: "a.mp4", ContentType: "video/mp4", SizeBytes: 1000,
		UploadExpiresAt: time.Now().Add(time.Hour)}
	if err := b.videos.CreateVideo(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := b.blobs.Put(ctx, v.SourceKey(), strings.NewReader("source"), 6, edustream.BlobMeta{ContentType: "video/mp4"}); err != nil {
		t.Fatal(err)
	}
	uploaded, stage := edustream.VideoUploaded, edustream.StageTranscode
	media := &edustream.MediaInfo{DurationSeconds: 60, Width: 1280, Height: 720, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"}
	v, err := b.videos.TransitionVideo(ctx, v.ID, edustream.VideoAwaitingUpload, edustream.StageUpload,
		edustream.VideoUpdate{Status: &uploaded, Stage: &stage, Media: media})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (b *mcBundle) find(t *testing.T, id int64) *edustream.Video {
	t.Helper()
	v, err := b.videos.FindVideoByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// deliver hands the fake's pending events to MediaConvert's event handler,
// as SNS would, and returns how many it delivered.
func (b *mcBundle) deliver(t *testing.T) int {
	t.Helper()
	return b.deliverFirst(t, -1)
}

// deliverFirst delivers the first n pending events (n < 0: all of them)
// and keeps the rest pending.
func (b *mcBundle) deliverFirst(t *testing.T, n int) int {
	t.Helper()
	b.mu.Lock()
	if n < 0 || n > len(b.events) {
		n = len(b.events)
	}
	events := b.events[:n]
	b.events = b.events[n:]
	b.mu.Unlock()
	h := &mediaconvert.Events{Jobs: b.transcodes}
	for _, ev := range events {
		var env struct {
			DetailType string          `json:"detail-type"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(ev, &env); err != nil {
			t.Fatal(err)
		}
		if err := h.HandleEvent(context.Background(), env.DetailType, env.Detail); err != nil {
			t.Fatalf("event %s: %v", ev, err)
		}
	}
	return len(events)
}

// A transcode step that is retried, whether its first attempt lost the
// answer to CreateJob or died after storing the job id, makes one job.
func TestTranscodeSubmitsOneJob(t *testing.T) {
	b := setupMediaConvert(t)
	ctx := b.ctx
	v := b.video(t)

	// Every answer to the first attempt is lost (the SDK's retries too):
	// the job exists, the step does not know it, and fails to be retried.
	b.fake.LoseAnswers(3)
	if err := b.chain.runStage(ctx, edustream.StageTranscode, v.ID); err == nil {
		t.Fatal("the first attempt succeeded without an answer")
	}
	if got := b.find(t, v.ID); got.TranscoderJobID != "" || got.Status != edustream.VideoProcessing {
		t.Fatalf("after a lost answer the video is %s with job %q", got.Status, got.TranscoderJobID)
	}
	// The retry asks again with the same token and gets the same job.
	if err := b.chain.runStage(ctx, edustream.StageTranscode, v.ID); err != nil {
		t.Fatal(err)
	}
	jobs := b.fake.Jobs()
	got := b.find(t, v.ID)
	if len(jobs) != 1 || got.TranscoderJobID != jobs[0].ID {
		t.Fatalf("jobs %v, video's job %q; want one job, stored", jobs, got.TranscoderJobID)
	}
	if got.Stage != edustream.StageTranscode || got.Status != edustream.VideoProcessing {
		t.Errorf("the step moved the video to %s %s; it waits for the job", got.Status, got.Stage)
	}
	// A crash after the store: the step runs again, later than the token
	// remembers its job, and submits nothing.
	b.fake.ForgetTokens()
	for range 2 {
		if err := b.chain.runStage(ctx, edustream.StageTranscode, v.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.fake.Creates(); n != 1 {
		t.Errorf("%d jobs created, want 1", n)
	}
	if again := b.find(t, v.ID); again.TranscoderJobID != got.TranscoderJobID {
		t.Errorf("the job id changed from %s to %s", got.TranscoderJobID, again.TranscoderJobID)
	}
	if ids := queuedTaskIDs(t, b.opt); len(ids) != 0 {
		t.Errorf("tasks queued while the job runs: %v", ids)
	}
	// Nor does the reconciler run the step again while the job runs.
	b.now = b.now.Add(time.Hour)
	if n, err := b.worker.reconcileVideoChains(ctx); err != nil || n != 0 {
		t.Errorf("reconcileVideoChains = %d, %v; want nothing queued for a video the job owns", n, err)
	}
	if ids := queuedTaskIDs(t, b.opt); len(ids) != 0 {
		t.Errorf("tasks queued by the reconciler while the job runs: %v", ids)
	}
}

// The job's events move the video through the rest of the chain, which
// runs without ffmpeg: thumbnails come from the job's frame captures.
func TestMediaConvertChainToReady(t *testing.T) {
	b := setupMediaConvert(t)
	ctx := b.ctx
	v := b.video(t)
	if err := b.chain.runStage(ctx, edustream.StageTranscode, v.ID); err != nil {
		t.Fatal(err)
	}
	jobID := b.find(t, v.ID).TranscoderJobID
	if err := b.fake.Run(jobID); err != nil {
		t.Fatal(err)
	}
	// Events out of order and twice: the result is the same.
	b.mu.Lock()
	b.events = append(b.events, b.events...)
	slices.Reverse(b.events)
	b.mu.Unlock()
	if n := b.deliver(t); n != 6 {
		t.Fatalf("delivered %d events, want 6", n)
	}
	got := b.find(t, v.ID)
	if got.Stage != edustream.StagePublish || got.Status != edustream.VideoProcessing {
		t.Fatalf("after COMPLETE the video is %s at %s, want PROCESSING at PUBLISH", got.Status, got.Stage)
	}
	if want := edustream.Ladder(got.Media); !slices.Equal(got.Renditions, want) {
		t.Errorf("renditions %+v, want the ladder %+v", got.Renditions, want)
	}
	if ids := queuedTaskIDs(t, b.opt); !slices.Equal(ids, []string{VideoTaskID("publish", v.ID)}) {
		t.Errorf("queued %v, want the publish task", ids)
	}

	for _, stage := range []edustream.VideoStage{edustream.StagePublish, edustream.StageThumbnails, edustream.StageCaptions, edustream.StageMetadata, edustream.StageComplete} {
		if err := b.chain.runStage(ctx, stage, v.ID); err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
	}
	done := b.find(t, v.ID)
	if done.Status != edustream.VideoReady {
		t.Fatalf("the video is %s at %s: %s", done.Status, done.Stage, done.Error)
	}
	if _, err := b.blobs.Head(ctx, done.MasterPlaylistKey()); err != nil {
		t.Errorf("master playlist: %v", err)
	}
	pw, ph := jpegSize(t, b, done.PosterKey())
	if pw != 1280 || ph != 720 {
		t.Errorf("poster is %dx%d, want 1280x720", pw, ph)
	}
	// 60 s: a tile a second would be 60; the fake made the 60 it was asked.
	sb := edustream.StoryboardFor(60, 1280, 720)
	sw, sh := jpegSize(t, b, done.StoryboardSpriteKey())
	if sw != sb.Cols*sb.TileWidth || sh != sb.Rows*sb.TileHeight {
		t.Errorf("sprite is %dx%d, want %dx%d", sw, sh, sb.Cols*sb.TileWidth, sb.Rows*sb.TileHeight)
	}
	vtt := read(t, b, done.StoryboardVTTKey())
	if n := strings.Count(vtt, "-->"); n != sb.Count {
		t.Errorf("the track has %d cues, want %d", n, sb.Count)
	}
}

// STATUS_UPDATE moves the video's progress, and subscribers hear it.
func TestStatusUpdateMovesProgress(t *testing.T) {
	b := setupMediaConvert(t)
	v := b.video(t)
	if err := b.chain.runStage(b.ctx, edustream.StageTranscode, v.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.fake.Run(b.find(t, v.ID).TranscoderJobID); err != nil {
		t.Fatal(err)
	}
	// PROGRESSING and the STATUS_UPDATE at 50 %; COMPLETE stays pending.
	if n := b.deliverFirst(t, 2); n != 2 {
		t.Fatalf("delivered %d events", n)
	}
	want := edustream.StageTranscode.OverallProgress(0.5)
	if got := b.find(t, v.ID); got.Progress != want || got.Stage != edustream.StageTranscode {
		t.Errorf("the video is at %s with %.1f %%, want TRANSCODE with %.1f %%", got.Stage, got.Progress, want)
	}
	var heard bool
	for _, e := range encodingEvents(b.published) {
		if e.VideoID == v.ID && e.Progress == want && e.Message == "transcoding on MediaConvert: 50 %" {
			heard = true
		}
	}
	if !heard {
		t.Errorf("no encoding event at %.1f %%: %+v", want, encodingEvents(b.published))
	}
}

// An ERROR event ends the video FAILED with MediaConvert's code and
// message; retrying the video submits a new job.
func TestMediaConvertErrorFailsTheVideo(t *testing.T) {
	b := setupMediaConvert(t)
	ctx := b.ctx
	v := b.video(t)
	if err := b.chain.runStage(ctx, edustream.StageTranscode, v.ID); err != nil {
		t.Fatal(err)
	}
	first := b.find(t, v.ID).TranscoderJobID
	b.fake.FailNext(1040, "Demuxer: [ReadPacketData File read failed - end of file hit. Is file truncated?]")
	if err := b.fake.Run(first); err != nil {
		t.Fatal(err)
	}
	b.deliver(t)
	failed := b.find(t, v.ID)
	want := "MediaConvert could not transcode the video: Demuxer: [ReadPacketData File read failed - end of file hit. Is file truncated?] (error 1040)"
	if failed.Status != edustream.VideoFailed || failed.Stage != edustream.StageTranscode || failed.Error != want {
		t.Fatalf("the video is %s at %s with %q, want FAILED at TRANSCODE with %q", failed.Status, failed.Stage, failed.Error, want)
	}
	if _, err := b.uploads.Retry(ctx, b.lectureID); err != nil {
		t.Fatal(err)
	}
	if err := b.chain.runStage(ctx, edustream.StageTranscode, v.ID); err != nil {
		t.Fatal(err)
	}
	jobs := b.fake.Jobs()
	if len(jobs) != 2 || jobs[1].Token == jobs[0].Token || b.find(t, v.ID).TranscoderJobID != jobs[1].ID {
		t.Fatalf("after the retry the jobs are %+v; want a second job with its own token, stored", jobs)
	}
	// Late reports of the first job change nothing for the second.
	for _, status := range []edustream.TranscodeJobStatus{edustream.TranscodeJobError, edustream.TranscodeJobComplete} {
		if err := b.transcodes.Apply(ctx, &edustream.TranscodeJob{ID: first, VideoID: v.ID, Status: status, ErrorCode: "1040"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.find(t, v.ID); got.Status != edustream.VideoProcessing || got.Stage != edustream.StageTranscode {
		t.Errorf("a stale report of the first job moved the retried video to %s at %s", got.Status, got.Stage)
	}
}

// An event that comes before the step stored its job's id is refused for
// now, so SNS delivers it again.
func TestEarlyReportIsRetried(t *testing.T) {
	b := setupMediaConvert(t)
	ctx := b.ctx
	v := b.video(t)
	processing := edustream.VideoProcessing
	if _, err := b.videos.TransitionVideo(ctx, v.ID, edustream.VideoUploaded, edustream.StageTranscode, edustream.VideoUpdate{Status: &processing}); err != nil {
		t.Fatal(err)
	}
	err := b.transcodes.Apply(ctx, &edustream.TranscodeJob{ID: "1-abc", VideoID: v.ID, Status: edustream.TranscodeJobComplete})
	if err == nil || edustream.ErrorCode(err) != edustream.EINTERNAL {
		t.Errorf("Apply = %v, want an error to retry", err)
	}
	if got := b.find(t, v.ID); got.Stage != edustream.StageTranscode {
		t.Errorf("the early report moved the video to %s", got.Stage)
	}
}

// The reconciler asks about jobs nobody heard from: a finished one moves
// the video on, a missing one fails it, a running one is left running.
func TestReconcilerAsksAboutSilentJobs(t *testing.T) {
	b := setupMediaConvert(t)
	ctx := b.ctx
	finished, running, gone := b.video(t), b.video2(t), b.video2(t)
	for _, v := range []*edustream.Video{finished, running} {
		if err := b.chain.runStage(ctx, edustream.StageTranscode, v.ID); err != nil {
			t.Fatal(err)
		}
	}
	processing, bogus := edustream.VideoProcessing, "1671477617078-gone00"
	if _, err := b.videos.TransitionVideo(ctx, gone.ID, edustream.VideoUploaded, edustream.StageTranscode,
		edustream.VideoUpdate{Status: &processing, TranscoderJobID: &bogus}); err != nil {
		t.Fatal(err)
	}
	if err := b.fake.Run(b.find(t, finished.ID).TranscoderJobID); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.events = nil // EventBridge or SNS lost them all
	b.mu.Unlock()

	// Not silent long enough yet: nobody is asked.
	if n, err := b.worker.reconcileTranscoderJobs(ctx); err != nil || n != 0 {
		t.Fatalf("reconcile = %d, %v; want nothing yet", n, err)
	}
	if got := b.find(t, finished.ID); got.Stage != edustream.StageTranscode {
		t.Fatalf("a job was asked about before it was silent")
	}
	b.now = b.now.Add(DefaultTranscoderSilentAfter + time.Minute)
	n, err := b.worker.reconcileTranscoderJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("reconcile found %d ended jobs, want 2", n)
	}
	if got := b.find(t, finished.ID); got.Stage != edustream.StagePublish {
		t.Errorf("the finished job's video is at %s, want PUBLISH", got.Stage)
	}
	if got := b.find(t, gone.ID); got.Status != edustream.VideoFailed || !strings.Contains(got.Error, "no longer exists") {
		t.Errorf("the missing job's video is %s: %q", got.Status, got.Error)
	}
	if got := b.find(t, running.ID); got.Status != edustream.VideoProcessing || got.Stage != edustream.StageTranscode {
		t.Errorf("the running job's video is %s at %s", got.Status, got.Stage)
	}
}

// Without usable storyboard frames the poster is still made and the
// storyboard skipped with a warning; without a poster frame the video
// fails with a reason.
func TestThumbnailsFromBadCaptures(t *testing.T) {
	tests := []struct {
		name   string
		tiles  map[string]string
		poster bool
		// wantErr: the step fails the video; else the storyboard is skipped.
		wantErr string
		warning string
	}{
		{"no tiles", nil, true, "", "no storyboard: the transcoder made no storyboard frames"},
		{"a tile that is not a JPEG", map[string]string{"storyboard.0000000.jpg": "not a jpeg"}, true, "", "no storyboard: a frame capture does not decode"},
		{"no poster", nil, false, "made no poster frame", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupMediaConvert(t)
			ctx := b.ctx
			v := b.video(t)
			jobID, thumbs, processing := "1-job", edustream.StageThumbnails, edustream.VideoProcessing
			v, err := b.videos.TransitionVideo(ctx, v.ID, edustream.VideoUploaded, edustream.StageTranscode,
				edustream.VideoUpdate{Status: &processing, Stage: &thumbs, TranscoderJobID: &jobID})
			if err != nil {
				t.Fatal(err)
			}
			if tt.poster {
				putJPEG(t, b, v.CapturePrefix()+"poster.0000000.jpg", 64, 36)
				putJPEG(t, b, v.CapturePrefix()+"poster.0000001.jpg", 1280, 720)
			}
			for name, body := range tt.tiles {
				if err := b.blobs.Put(ctx, v.CapturePrefix()+name, strings.NewReader(body), int64(len(body)), edustream.BlobMeta{}); err != nil {
					t.Fatal(err)
				}
			}
			err = b.chain.runStage(ctx, edustream.StageThumbnails, v.ID)
			got := b.find(t, v.ID)
			if tt.wantErr != "" {
				if got.Status != edustream.VideoFailed || !strings.Contains(got.Error, tt.wantErr) {
					t.Errorf("the video is %s with %q, want FAILED saying %q (step: %v)", got.Status, got.Error, tt.wantErr, err)
				}
				return
			}
			if err != nil || got.Stage != edustream.StageCaptions {
				t.Fatalf("step = %v, video at %s", err, got.Stage)
			}
			// The poster is the last poster capture.
			if w, h := jpegSize(t, b, v.PosterKey()); w != 1280 || h != 720 {
				t.Errorf("poster %dx%d, want the last capture's 1280x720", w, h)
			}
			if _, err := b.blobs.Head(ctx, v.StoryboardVTTKey()); edustream.ErrorCode(err) != edustream.ENOTFOUND {
				t.Errorf("a storyboard track exists: %v", err)
			}
			if lines := b.logs.Records(t, tt.warning); len(lines) != 1 {
				t.Errorf("want one warning %q", tt.warning)
			}
		})
	}
}

// video2 is another video of another lecture (one lecture processes one
// video at a time).
func (b *mcBundle) video2(t *testing.T) *edustream.Video {
	t.Helper()
	ctx := context.Background()
	l := &edustream.Lecture{CourseID: b.courseOf(t), Title: "More"}
	if err := b.lectures.CreateLecture(ctx, l); err != nil {
		t.Fatal(err)
	}
	saved := b.lectureID
	b.lectureID = l.ID
	defer func() { b.lectureID = saved }()
	return b.video(t)
}

func (b *mcBundle) courseOf(t *testing.T) int64 {
	t.Helper()
	l, err := b.lectures.FindLectureByID(context.Background(), b.lectureID)
	if err != nil {
		t.Fatal(err)
	}
	return l.CourseID
}

func putJPEG(t *testing.T, b *mcBundle, key string, w, h int) {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.blobs.Put(context.Background(), key, &buf, int64(buf.Len()), edustream.BlobMeta{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, b *mcBundle, key string) string {
	t.Helper()
	r, err := b.blobs.Get(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func jpegSize(t *testing.T, b *mcBundle, key string) (int, int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(strings.NewReader(read(t, b, key)))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return cfg.Width, cfg.Height
}

// queuedTaskIDs returns the ids of the tasks waiting in the default queue,
// none if the queue was never used.
func queuedTaskIDs(t *testing.T, opt asynq.RedisConnOpt) []string {
	t.Helper()
	pending, err := newInspector(t, opt).ListPendingTasks(QueueDefault)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pending {
		ids = append(ids, p.ID)
	}
	return ids
}

// runCancelWorker runs a worker on b's dependencies that takes only the
// default queue's tasks (the cancels, the removals) and retries within
// about a second.
func (b *mcBundle) runCancelWorker(t *testing.T) {
	t.Helper()
	w := NewWorker(clientOf(t, b.opt), WorkerConfig{
		ReconcileInterval: -1, PollInterval: 50 * time.Millisecond, RetryCheckInterval: 100 * time.Millisecond,
		Concurrency: map[string]int{QueueVideo: -1, QueueVideoLong: -1},
	}, *b.worker.deps)
	runWorker(t, w)
}

// handedOff returns a video whose transcode was handed to a job that is
// half way, with its outputs so far in the store, and the job's id.
func (b *mcBundle) handedOff(t *testing.T) (*edustream.Video, string) {
	t.Helper()
	v := b.video(t)
	if err := b.chain.runStage(b.ctx, edustream.StageTranscode, v.ID); err != nil {
		t.Fatal(err)
	}
	jobID := b.find(t, v.ID).TranscoderJobID
	if err := b.fake.Start(jobID); err != nil {
		t.Fatal(err)
	}
	b.deliver(t)
	if outputs := b.outputs(t, v); len(outputs) == 0 {
		t.Fatal("the running job wrote nothing")
	}
	return b.find(t, v.ID), jobID
}

// outputs returns the keys a transcode job wrote for v.
func (b *mcBundle) outputs(t *testing.T, v *edustream.Video) []string {
	t.Helper()
	var keys []string
	for _, prefix := range []string{v.WorkPrefix(), v.CapturePrefix()} {
		list, err := b.blobs.List(context.Background(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

// jobStatus returns the fake's status of a job.
func (b *mcBundle) jobStatus(id string) string {
	for _, j := range b.fake.Jobs() {
		if j.ID == id {
			return j.Status
		}
	}
	return ""
}

// Stopping a video handed to MediaConvert cancels its job, however it is
// stopped: the job ends CANCELED, its outputs are deleted, and its
// CANCELED report changes nothing.
func TestStoppingAHandedOffVideoCancelsItsJob(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, b *mcBundle, v *edustream.Video)
		// reason is what the stopped video says; "" for a video the stop
		// removes.
		reason string
	}{
		{"cancelled", func(t *testing.T, b *mcBundle, v *edustream.Video) {
			if _, err := b.worker.deps.Life.StopProcessing(b.ctx, v, "T cancelled the processing"); err != nil {
				t.Fatal(err)
			}
		}, "T cancelled the processing"},
		{"replaced by a new upload", func(t *testing.T, b *mcBundle, v *edustream.Video) {
			next := &edustream.Video{LectureID: v.LectureID, UploaderID: 1, FileName: "b.mp4", ContentType: "video/mp4", SizeBytes: 1000,
				UploadExpiresAt: time.Now().Add(time.Hour)}
			if err := b.worker.deps.Life.Create(b.ctx, next); err != nil {
				t.Fatal(err)
			}
		}, "a new upload replaced this video"},
		{"lecture deleted", func(t *testing.T, b *mcBundle, v *edustream.Video) {
			if err := b.lectures.DeleteLecture(b.ctx, v.LectureID); err != nil {
				t.Fatal(err)
			}
			if err := b.worker.deps.Life.StopLectures(b.ctx, []int64{v.LectureID}, "the lecture was deleted"); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupMediaConvert(t)
			v, jobID := b.handedOff(t)
			tt.stop(t, b, v)
			b.runCancelWorker(t)
			testenv.Eventually(t, "the job cancelled and its outputs deleted", func() bool {
				return b.jobStatus(jobID) == "CANCELED" && len(b.outputs(t, v)) == 0
			})
			if n := b.fake.Cancels(); n != 1 {
				t.Errorf("%d CancelJob calls, want 1", n)
			}
			// The job's CANCELED report is stale: the video is stopped.
			before, err := b.videos.FindVideoByID(b.ctx, v.ID)
			if tt.reason == "" {
				testenv.Eventually(t, "the deleted lecture's video removed", func() bool {
					_, err := b.videos.FindVideoByID(b.ctx, v.ID)
					return edustream.ErrorCode(err) == edustream.ENOTFOUND
				})
				b.deliver(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := b.deliver(t); n != 1 {
				t.Errorf("delivered %d events after the stop, want the CANCELED one", n)
			}
			got := b.find(t, v.ID)
			if got.Status != edustream.VideoFailed || got.Stage != edustream.StageTranscode || got.Error != tt.reason || got.Version != before.Version {
				t.Errorf("the stopped video is %s at %s with %q (version %d, was %d), want FAILED at TRANSCODE with %q, unchanged",
					got.Status, got.Stage, got.Error, got.Version, before.Version, tt.reason)
			}
			if _, err := b.blobs.Head(b.ctx, v.SourceKey()); err != nil {
				t.Errorf("the source went with the job's outputs: %v", err)
			}
		})
	}
}

// A cancel MediaConvert fails (500, and the SDK's own retries too) is
// retried by the task until it is done.
func TestTranscodeCancelIsRetried(t *testing.T) {
	b := setupMediaConvert(t)
	v, jobID := b.handedOff(t)
	b.fake.FailCancels(3) // every try of the first attempt
	if _, err := b.worker.deps.Life.StopProcessing(b.ctx, v, "T cancelled the processing"); err != nil {
		t.Fatal(err)
	}
	if got := b.find(t, v.ID); got.Status != edustream.VideoFailed {
		t.Fatalf("the stop waited for MediaConvert: the video is %s", got.Status)
	}
	b.runCancelWorker(t)
	testenv.Eventually(t, "the job cancelled and its outputs deleted", func() bool {
		return b.jobStatus(jobID) == "CANCELED" && len(b.outputs(t, v)) == 0
	})
	if n := b.fake.Cancels(); n != 4 {
		t.Errorf("%d CancelJob calls, want 3 refused and 1 done", n)
	}
	if lines := b.logs.Records(t, "task failed"); len(lines) == 0 {
		t.Errorf("no failed attempt logged")
	}
}

// The cancel of a job that had ended (COMPLETE before the stop reached
// it) or that MediaConvert does not know ends at once: one call, the
// outputs deleted, no retry.
func TestTranscodeCancelOfAnEndedJob(t *testing.T) {
	b := setupMediaConvert(t)
	v, jobID := b.handedOff(t)
	if err := b.fake.Finish(jobID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.worker.deps.Life.StopProcessing(b.ctx, v, "T cancelled the processing"); err != nil {
		t.Fatal(err)
	}
	if err := b.chain.cancelTranscode(b.ctx, TranscodeCancelPayload{VideoID: v.ID, JobID: jobID}); err != nil {
		t.Fatalf("cancel of a complete job: %v, want done", err)
	}
	if n, status := b.fake.Cancels(), b.jobStatus(jobID); n != 1 || status != "COMPLETE" {
		t.Errorf("%d CancelJob calls, the job is %s; want 1 refused call, COMPLETE", n, status)
	}
	if keys := b.outputs(t, v); len(keys) != 0 {
		t.Errorf("the complete job's outputs are left: %v", keys)
	}
	if err := b.chain.cancelTranscode(b.ctx, TranscodeCancelPayload{VideoID: v.ID, JobID: "1671477617078-nosuch"}); err != nil {
		t.Errorf("cancel of an unknown job: %v, want done", err)
	}
	// The COMPLETE report that comes after the stop is ignored.
	b.deliver(t)
	if got := b.find(t, v.ID); got.Status != edustream.VideoFailed || got.Error != "T cancelled the processing" {
		t.Errorf("the stopped video is %s with %q", got.Status, got.Error)
	}
}

// A video retried since its stop has a new job writing where the old one
// did: the old job's cancel leaves the outputs alone.
func TestTranscodeCancelSparesARetriedVideo(t *testing.T) {
	b := setupMediaConvert(t)
	v, jobID := b.handedOff(t)
	if _, err := b.worker.deps.Life.StopProcessing(b.ctx, v, "T cancelled the processing"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.uploads.Retry(b.ctx, b.lectureID); err != nil {
		t.Fatal(err)
	}
	if err := b.chain.cancelTranscode(b.ctx, TranscodeCancelPayload{VideoID: v.ID, JobID: jobID}); err != nil {
		t.Fatal(err)
	}
	if b.jobStatus(jobID) != "CANCELED" {
		t.Errorf("the old job is %s, want CANCELED", b.jobStatus(jobID))
	}
	if keys := b.outputs(t, v); len(keys) == 0 {
		t.Error("the retried video's outputs were deleted")
	}
}
