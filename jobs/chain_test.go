package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/storage/local"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

// The chain tests run the real thing: SQLite, the local blob store behind
// its HTTP handler, Redis (miniredis unless EDUSTREAM_TEST_REDIS_URL is
// set), asynq workers and ffmpeg.

type chain struct {
	db       *sqldb.DB
	videos   *sqldb.VideoService
	lectures *sqldb.LectureService
	blobs    *local.Store
	blobDir  string
	rdb      *goredis.Client
	events   *redis.Events
	life     *edustream.VideoLifecycle
	uploads  *edustream.Uploads
	queue    *jobs.Queue
	media    edustream.MediaTools
	clock    *clock
	logs     *testenv.LogBuffer
	logger   *slog.Logger

	instructor *edustream.User
	lecture    *edustream.Lecture
	workDir    string
}

// clock is the chain's time, real unless a test moves it on.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time             { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)    { c.offset.Add(int64(d)) }
func (c *clock) clockFunc() edustream.Clock { return c.Now }

func setupChain(t testing.TB) *chain {
	t.Helper()
	bins := testenv.FFmpeg(t)
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "edustream.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &chain{db: db, clock: &clock{}, blobDir: t.TempDir(), workDir: t.TempDir()}
	c.logger, c.logs = testLogger(t)

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c.blobs, err = local.New(local.Config{Dir: c.blobDir, BaseURL: srv.URL, SigningKey: bytes.Repeat([]byte("k"), 32), Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(local.RoutePrefix, c.blobs.Handler())

	c.rdb = testenv.RedisClient(t, testenv.RedisURL(t))
	c.events = redis.NewEvents(c.rdb, c.logger)
	t.Cleanup(func() { c.events.Close() })
	c.queue = jobs.NewQueue(c.rdb)

	c.videos = sqldb.NewVideoService(db, c.clock.clockFunc())
	c.lectures = sqldb.NewLectureService(db, nil)
	c.media = ffmpeg.New(ffmpeg.Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe})
	checked := edustream.CheckedBlobStore(c.blobs)
	c.life = &edustream.VideoLifecycle{Videos: c.videos, Jobs: c.queue, Events: c.events, Blobs: checked, Now: c.clock.Now}
	c.uploads = &edustream.Uploads{Life: c.life, Blobs: checked}

	users := sqldb.NewUserService(db)
	c.instructor, err = users.UpsertUser(ctx, edustream.Claims{Subject: "ada", Role: edustream.RoleInstructor, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	course := &edustream.Course{InstructorID: c.instructor.ID, Title: "Video"}
	if err := sqldb.NewCourseService(db, nil).CreateCourse(ctx, course); err != nil {
		t.Fatal(err)
	}
	c.lecture = &edustream.Lecture{CourseID: course.ID, Title: "One"}
	if err := c.lectures.CreateLecture(ctx, c.lecture); err != nil {
		t.Fatal(err)
	}
	return c
}

func testLogger(t testing.TB) (*slog.Logger, *testenv.LogBuffer) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}

// workerOptions tune one worker of a test.
type workerOptions struct {
	media       edustream.MediaTools
	noMedia     bool
	limits      edustream.VideoLimits
	reconcile   time.Duration
	stuckAfter  time.Duration
	concurrency int
	// longConcurrency is the video-long queue's (0: the default).
	longConcurrency int
	// perUploader is WorkerConfig.VideoConcurrencyPerUploader.
	perUploader int
	// blobs and videos, if set, are the worker's instead of the chain's
	// (wrappers that count or fail).
	blobs  edustream.BlobStore
	videos edustream.VideoService
	// metrics measures the worker.
	metrics *jobs.Metrics
	// speech and captions are the captions step's engine and store (nil:
	// no automatic captions); captionsTimeout bounds the engine.
	speech          edustream.SpeechToText
	captions        jobs.AutomaticCaptions
	captionsTimeout time.Duration
}

// startWorker runs a worker until the returned stop is called or the test
// ends.
func (c *chain) startWorker(t testing.TB, o workerOptions) (stop func()) {
	t.Helper()
	return runUntilStopped(t, c.newWorker(o))
}

// newWorker returns a worker of the chain, not running.
func (c *chain) newWorker(o workerOptions) *jobs.Worker {
	media := c.media
	if o.media != nil {
		media = o.media
	}
	if o.noMedia {
		media = nil
	}
	if o.reconcile == 0 {
		o.reconcile = -1
	}
	// Checked, as production's stores are.
	blobs := edustream.CheckedBlobStore(c.blobs)
	if o.blobs != nil {
		blobs = edustream.CheckedBlobStore(o.blobs)
	}
	life := c.life
	if o.videos != nil {
		life = &edustream.VideoLifecycle{Videos: o.videos, Jobs: c.queue, Events: c.events, Blobs: blobs, Now: c.clock.Now}
	}
	return jobs.NewWorker(c.rdb, jobs.WorkerConfig{
		Concurrency:                 map[string]int{jobs.QueueDefault: 4, jobs.QueueVideo: max(o.concurrency, 1), jobs.QueueVideoLong: o.longConcurrency},
		VideoConcurrencyPerUploader: o.perUploader,
		PollInterval:                20 * time.Millisecond,
		ShutdownTimeout:             5 * time.Second,
		ReconcileInterval:           o.reconcile,
		StuckAfter:                  o.stuckAfter,
	}, jobs.Deps{
		Videos: c.videos, Life: life, Uploads: c.uploads, Courses: nopCourses{}, Blobs: blobs, Events: c.events,
		Media: media, Limits: o.limits, Logger: c.logger, WorkDir: c.workDir, Now: c.clock.Now, Metrics: o.metrics,
		Speech: o.speech, Captions: o.captions, CaptionsTimeout: o.captionsTimeout,
	})
}

// nopCourses has no hidden courses to purge.
type nopCourses struct{ edustream.CourseService }

func (nopCourses) FindHiddenCourseIDs(context.Context) ([]int64, error) { return nil, nil }

// open starts an upload of data and PUTs its parts like a browser would,
// returning the video and the ETags the store answered with.
func (c *chain) open(t testing.TB, data []byte, name string) (*edustream.Video, []edustream.UploadPart) {
	t.Helper()
	return c.openAs(t, c.instructor, c.lecture, data, name)
}

// openAs is open by user on lecture.
func (c *chain) openAs(t testing.TB, user *edustream.User, lecture *edustream.Lecture, data []byte, name string) (*edustream.Video, []edustream.UploadPart) {
	t.Helper()
	up, err := c.uploads.Create(context.Background(), user.ID, lecture.ID, name, "video/mp4", max(int64(len(data)), 1))
	if err != nil {
		t.Fatal(err)
	}
	return up.Video, edustreamtest.PutParts(t, up, data)
}

// upload uploads the file at path and completes it.
func (c *chain) upload(t testing.TB, path string) *edustream.Video {
	t.Helper()
	return c.uploadAs(t, c.instructor, c.lecture, path)
}

// uploadAs is upload by user on lecture.
func (c *chain) uploadAs(t testing.TB, user *edustream.User, lecture *edustream.Lecture, path string) *edustream.Video {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, parts := c.openAs(t, user, lecture, data, filepath.Base(path))
	v, err = c.uploads.Complete(context.Background(), v, parts)
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	return v
}

// waitDone waits until the video is READY or FAILED.
func (c *chain) waitDone(t testing.TB, id int64) *edustream.Video {
	t.Helper()
	var v *edustream.Video
	testenv.Eventually(t, fmt.Sprintf("video %d to be READY or FAILED", id), func() bool {
		var err error
		v, err = c.videos.FindVideoByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return v.Status.Terminal()
	})
	return v
}

// keys returns every blob key under prefix.
func (c *chain) keys(t *testing.T, prefix string) []string {
	t.Helper()
	blobs, err := c.blobs.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, b := range blobs {
		keys = append(keys, b.Key)
	}
	return keys
}

// record subscribes to the lecture's encoding events and returns a
// function that reports those received so far.
func (c *chain) record(t *testing.T) func() []edustream.EncodingEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var mu sync.Mutex
	var got []edustream.EncodingEvent
	err := c.events.SubscribeFunc(ctx, edustream.EncodingTopic(c.lecture.ID), func(e edustream.Event) {
		if e.Encoding != nil {
			mu.Lock()
			got = append(got, *e.Encoding)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() []edustream.EncodingEvent {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func TestChainMakesTheStream(t *testing.T) {
	c := setupChain(t)
	events := c.record(t)
	c.startWorker(t, workerOptions{})
	src := testenv.MakeClip(t, testenv.Clip{Width: 854, Height: 480, Seconds: 4, Audio: true})

	v := c.waitDone(t, c.upload(t, src).ID)
	if v.Status != edustream.VideoReady || v.Progress != 100 || v.ReadyAt == nil {
		t.Fatalf("video = %s at %s (%s), want READY", v.Status, v.Stage, v.Error)
	}
	var names []string
	for _, r := range v.Renditions {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"480p", "360p"}) || v.Media == nil || v.Media.Height != 480 || v.Media.AudioCodec != "aac" {
		t.Errorf("renditions %v, media %+v; want 480p and 360p of a 480p source with audio", names, v.Media)
	}
	l, _ := c.lectures.FindLectureByID(context.Background(), c.lecture.ID)
	if l.VideoID == nil || *l.VideoID != v.ID {
		t.Errorf("lecture's video = %v, want %d", l.VideoID, v.ID)
	}

	keys := c.keys(t, edustream.VideoPrefix(v.ID))
	for _, want := range []string{v.SourceKey(), v.MasterPlaylistKey(), v.HLSPrefix() + "480p/index.m3u8", v.HLSPrefix() + "360p/index.m3u8",
		v.PosterKey(), v.StoryboardSpriteKey(), v.StoryboardVTTKey(), v.MetadataKey()} {
		if !slices.Contains(keys, want) {
			t.Errorf("no %s among %v", want, keys)
		}
	}
	if work := c.keys(t, v.WorkPrefix()); len(work) != 0 {
		t.Errorf("work files left behind: %v", work)
	}
	for key, want := range map[string]string{
		v.MasterPlaylistKey():               "application/vnd.apple.mpegurl",
		v.HLSPrefix() + "480p/seg_00000.ts": "video/mp2t",
		v.PosterKey():                       "image/jpeg",
		v.StoryboardVTTKey():                "text/vtt; charset=utf-8",
	} {
		info, err := c.blobs.Head(context.Background(), key)
		if err != nil {
			t.Errorf("head %s: %v", key, err)
			continue
		}
		if info.ContentType != want || info.CacheControl != edustream.CacheControlPrivate {
			t.Errorf("%s served as %q with %q, want %q and %q", key, info.ContentType, info.CacheControl, want, edustream.CacheControlPrivate)
		}
	}

	// The subscriber saw every stage in order (from the upload's opening),
	// progress never going back, and READY once, last.
	var stages []edustream.VideoStage
	last := -1.0
	for _, e := range events() {
		if e.Progress < last {
			t.Errorf("progress went back from %.1f to %.1f", last, e.Progress)
		}
		last = e.Progress
		if len(stages) == 0 || stages[len(stages)-1] != e.Stage {
			stages = append(stages, e.Stage)
		}
	}
	want := edustream.Stages
	if !slices.Equal(stages, want) {
		t.Errorf("stages seen %v, want %v", stages, want)
	}
	if evs := events(); len(evs) == 0 || evs[len(evs)-1].Status != edustream.VideoReady {
		t.Errorf("last event %+v, want READY", evs)
	}
	// Every task's work dir was removed.
	testenv.Eventually(t, "task directories to be removed", func() bool { return len(taskDirs(t, c.workDir)) == 0 })
}

// taskDirs lists the per-task directories under a worker's work dir.
func taskDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	entries, _ := os.ReadDir(root)
	for _, proc := range entries {
		tasks, _ := os.ReadDir(filepath.Join(root, proc.Name()))
		for _, task := range tasks {
			dirs = append(dirs, filepath.Join(proc.Name(), task.Name()))
		}
	}
	return dirs
}

// Every bad input ends FAILED with a reason a person can act on, and no
// stream is published.
func TestChainRefusesHostileMedia(t *testing.T) {
	c := setupChain(t)
	c.startWorker(t, workerOptions{limits: edustream.VideoLimits{MaxUploadBytes: 1 << 30, MaxDuration: 3 * time.Second, MaxWidth: 4096, MaxHeight: 4096}})
	good, err := os.ReadFile(testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2}))
	if err != nil {
		t.Fatal(err)
	}
	long, err := os.ReadFile(testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 5}))
	if err != nil {
		t.Fatal(err)
	}

	// A playlist disguised as a video, naming a secret on the worker and
	// an outside server: neither may be touched.
	secret := filepath.Join(t.TempDir(), "secret.ts")
	secretBytes := []byte("TOP-SECRET-" + strings.Repeat("x", 2000))
	if err := os.WriteFile(secret, secretBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	var outside atomic.Int64
	outsider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { outside.Add(1) }))
	defer outsider.Close()
	playlist := fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://%s\n#EXTINF:10,\n%s/seg.ts\n#EXT-X-ENDLIST\n", secret, outsider.URL)
	concat := fmt.Sprintf("ffconcat version 1.0\nfile '%s'\n", secret)

	// No empty file: a declared size must be positive and a part URL takes
	// exactly its part's bytes (the root package tests both refusals).
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"text named .mp4", []byte("this is not a video, just some notes\n"), "not a video"},
		{"HLS playlist named .mp4", []byte(playlist), "playlist"},
		{"concat script", []byte(concat), "concat"},
		{"truncated mp4", good[:len(good)/2], "truncated"},
		{"too long", long, "longer than the 3s limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, parts := c.open(t, tt.data, "lecture.mp4")
			done, err := c.uploads.Complete(context.Background(), v, parts)
			if err == nil {
				done = c.waitDone(t, done.ID)
			} else if done, err = c.videos.FindVideoByID(context.Background(), v.ID); err != nil {
				t.Fatal(err)
			}
			if done.Status != edustream.VideoFailed || !strings.Contains(done.Error, tt.want) {
				t.Errorf("video = %s: %q, want FAILED mentioning %q", done.Status, done.Error, tt.want)
			}
			if keys := c.keys(t, done.HLSPrefix()); len(keys) != 0 {
				t.Errorf("a refused video published %v", keys)
			}
		})
	}
	if n := outside.Load(); n != 0 {
		t.Errorf("the outside server got %d requests from a playlist upload", n)
	}
	// No byte of the secret reached storage.
	err = filepath.WalkDir(c.blobDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("TOP-SECRET-")) {
			t.Errorf("the secret's bytes are in %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("part list with a wrong ETag", func(t *testing.T) {
		v, parts := c.open(t, good, "lecture.mp4")
		parts[0].ETag = `"0123456789abcdef0123456789abcdef"`
		_, err := c.uploads.Complete(context.Background(), v, parts)
		if edustream.ErrorCode(err) != edustream.EINVALID {
			t.Fatalf("complete = %v, want EINVALID", err)
		}
		got, _ := c.videos.FindVideoByID(context.Background(), v.ID)
		if got.Status != edustream.VideoFailed || !strings.Contains(got.Error, "ETag") {
			t.Errorf("video = %s: %q, want FAILED naming the ETag", got.Status, got.Error)
		}
	})
}

func TestChainWithoutFFmpeg(t *testing.T) {
	c := setupChain(t)
	c.startWorker(t, workerOptions{noMedia: true})
	v := c.waitDone(t, c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 1})).ID)
	if v.Status != edustream.VideoFailed || v.Stage != edustream.StageProbe || v.Error != "ffmpeg is not installed on the worker" {
		t.Errorf("video = %s at %s: %q, want FAILED at PROBE saying ffmpeg is not installed", v.Status, v.Stage, v.Error)
	}
}

// flakyMedia is the real ffmpeg with faults injected: the first transcodes
// fail as a broken input would.
type flakyMedia struct {
	edustream.MediaTools
	failTranscodes atomic.Int32
	probes         atomic.Int32
	transcodes     atomic.Int32
}

func (f *flakyMedia) Probe(ctx context.Context, path string) (*edustream.MediaInfo, error) {
	f.probes.Add(1)
	return f.MediaTools.Probe(ctx, path)
}

func (f *flakyMedia) Transcode(ctx context.Context, src string, info *edustream.MediaInfo, ladder []edustream.Rendition, dir string, progress func(edustream.TranscodeProgress)) error {
	f.transcodes.Add(1)
	if f.failTranscodes.Add(-1) >= 0 {
		return edustream.Errorf(edustream.EINVALID, "ffmpeg failed at 37 %%: injected")
	}
	return f.MediaTools.Transcode(ctx, src, info, ladder, dir, progress)
}

// retryVideo runs a FAILED video again from the step that failed, not from
// the start.
func TestChainRetryFromTheFailedStep(t *testing.T) {
	c := setupChain(t)
	media := &flakyMedia{MediaTools: c.media}
	media.failTranscodes.Store(1)
	c.startWorker(t, workerOptions{media: media})
	v := c.waitDone(t, c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2})).ID)
	if v.Status != edustream.VideoFailed || v.Stage != edustream.StageTranscode || !strings.Contains(v.Error, "ffmpeg failed at 37 %") {
		t.Fatalf("video = %s at %s: %q, want FAILED at TRANSCODE", v.Status, v.Stage, v.Error)
	}
	if _, err := c.uploads.Retry(context.Background(), c.lecture.ID); err != nil {
		t.Fatal(err)
	}
	v = c.waitDone(t, v.ID)
	if v.Status != edustream.VideoReady || v.Error != "" {
		t.Errorf("after retry: %s %q, want READY", v.Status, v.Error)
	}
	if n := media.probes.Load(); n != 1 {
		t.Errorf("probed %d times, want once: the retry starts at the failed step", n)
	}
	if _, err := c.uploads.Retry(context.Background(), c.lecture.ID); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Errorf("retrying a READY video = %v, want ECONFLICT", err)
	}
}

// Redis is transport: tasks lost with it (a restart, a flush) are enqueued
// again from the database.
func TestChainSurvivesLosingRedis(t *testing.T) {
	c := setupChain(t)
	src := testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 3})

	t.Run("before a worker took the task", func(t *testing.T) {
		v := c.upload(t, src)
		if err := c.rdb.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		w := c.newWorker(workerOptions{reconcile: 100 * time.Millisecond, stuckAfter: time.Millisecond})
		w.TestSignals.Init()
		stop := runUntilStopped(t, w)
		defer stop()
		if round := w.TestSignals.ReconcileRound.WaitOrTimeout(t); round.Queued == 0 {
			t.Errorf("the first reconciler round queued nothing: %+v", round)
		}
		if v = c.waitDone(t, v.ID); v.Status != edustream.VideoReady {
			t.Errorf("video = %s (%s), want READY", v.Status, v.Error)
		}
		if lines := c.logs.Records(t, "reconciler queued missing tasks"); len(lines) == 0 {
			t.Error("the reconciler did not say it queued the lost task")
		}
	})
	t.Run("in the middle of the chain", func(t *testing.T) {
		events := c.record(t)
		stop := c.startWorker(t, workerOptions{reconcile: 100 * time.Millisecond, stuckAfter: 500 * time.Millisecond})
		defer stop()
		v := c.upload(t, src)
		testenv.Eventually(t, "the transcode to start", func() bool {
			return slices.ContainsFunc(events(), func(e edustream.EncodingEvent) bool { return e.VideoID == v.ID && e.Stage == edustream.StageTranscode })
		})
		if err := c.rdb.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		if v = c.waitDone(t, v.ID); v.Status != edustream.VideoReady {
			t.Errorf("video = %s (%s), want READY", v.Status, v.Error)
		}
	})
}

// A new upload on a READY lecture: the old stream plays until the new one
// is READY, then the old outputs are deleted.
func TestChainReuploadSwaps(t *testing.T) {
	c := setupChain(t)
	c.startWorker(t, workerOptions{})
	first := c.waitDone(t, c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2})).ID)
	if first.Status != edustream.VideoReady {
		t.Fatalf("first video %s: %s", first.Status, first.Error)
	}
	events := c.record(t)
	second := c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 854, Height: 480, Seconds: 2}))
	testenv.Eventually(t, "the second video to be transcoding", func() bool {
		return slices.ContainsFunc(events(), func(e edustream.EncodingEvent) bool {
			return e.VideoID == second.ID && e.Stage == edustream.StagePublish
		})
	})
	l, _ := c.lectures.FindLectureByID(context.Background(), c.lecture.ID)
	if *l.VideoID != first.ID || len(c.keys(t, first.HLSPrefix())) == 0 {
		t.Errorf("while the second is processed the lecture plays %d, want %d with its outputs", *l.VideoID, first.ID)
	}
	if second = c.waitDone(t, second.ID); second.Status != edustream.VideoReady {
		t.Fatalf("second video %s: %s", second.Status, second.Error)
	}
	l, _ = c.lectures.FindLectureByID(context.Background(), c.lecture.ID)
	if *l.VideoID != second.ID {
		t.Errorf("lecture plays %d after the swap, want %d", *l.VideoID, second.ID)
	}
	testenv.Eventually(t, "the first video's outputs to be deleted", func() bool {
		_, err := c.videos.FindVideoByID(context.Background(), first.ID)
		return len(c.keys(t, edustream.VideoPrefix(first.ID))) == 0 && edustream.ErrorCode(err) == edustream.ENOTFOUND
	})
}

// An upload nobody completes is aborted after its expiry, so its parts do
// not stay in storage.
func TestChainAbortsExpiredUploads(t *testing.T) {
	c := setupChain(t)
	v, _ := c.open(t, bytes.Repeat([]byte("x"), 1000), "lecture.mp4")
	c.clock.advance(edustream.DefaultUploadTTL + time.Minute)
	c.startWorker(t, workerOptions{reconcile: 100 * time.Millisecond})
	v = c.waitDone(t, v.ID)
	if v.Status != edustream.VideoFailed || !strings.Contains(v.Error, "expired") {
		t.Errorf("video = %s %q, want FAILED because the upload expired", v.Status, v.Error)
	}
	err := c.blobs.CompleteMultipartUpload(context.Background(), v.SourceKey(), v.UploadID, []edustream.UploadPart{{PartNumber: 1, ETag: "x"}})
	if edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("the expired upload can still be completed: %v", err)
	}
	uploads, _ := os.ReadDir(filepath.Join(c.blobDir, "uploads"))
	if len(uploads) != 0 {
		t.Errorf("upload parts left in storage: %v", uploads)
	}
}
