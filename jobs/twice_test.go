package jobs_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// Nothing done is done twice: a step whose outputs are complete keeps
// them when it runs again, and a move retries in-process across a short
// database outage instead of running its step again.

// writingBlobs counts the writes (puts and copies) of each key.
type writingBlobs struct {
	edustream.BlobStore
	mu     sync.Mutex
	writes map[string]int
}

func (w *writingBlobs) count(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writes == nil {
		w.writes = map[string]int{}
	}
	w.writes[key]++
}

func (w *writingBlobs) Put(ctx context.Context, key string, r io.Reader, size int64, meta edustream.BlobMeta) error {
	w.count(key)
	return w.BlobStore.Put(ctx, key, r, size, meta)
}

func (w *writingBlobs) Copy(ctx context.Context, src, dst string, meta edustream.BlobMeta) error {
	w.count(dst)
	return w.BlobStore.Copy(ctx, src, dst, meta)
}

// rewritten returns the keys written more than once.
func (w *writingBlobs) rewritten() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []string
	for k, n := range w.writes {
		if n > 1 {
			keys = append(keys, k)
		}
	}
	return keys
}

// failingEveryAdvance is the database failing once as each step moves its
// video on, after the step's outputs were stored: every step runs twice.
type failingEveryAdvance struct {
	edustream.VideoService
	mu     sync.Mutex
	failed map[edustream.VideoStage]bool
}

func (f *failingEveryAdvance) TransitionVideo(ctx context.Context, id int64, status edustream.VideoStatus, stage edustream.VideoStage, upd edustream.VideoUpdate) (*edustream.Video, error) {
	f.mu.Lock()
	fail := status == edustream.VideoProcessing && upd.Stage != nil && !f.failed[stage]
	if fail {
		f.failed[stage] = true
	}
	f.mu.Unlock()
	if fail {
		return nil, edustream.Errorf(edustream.EINTERNAL, "the database went away")
	}
	return f.VideoService.TransitionVideo(ctx, id, status, stage, upd)
}

// countingMedia counts the ffmpeg runs of each kind.
type countingMedia struct {
	edustream.MediaTools
	probes, transcodes, thumbnails atomic.Int32
}

func (m *countingMedia) Probe(ctx context.Context, path string) (*edustream.MediaInfo, error) {
	m.probes.Add(1)
	return m.MediaTools.Probe(ctx, path)
}

func (m *countingMedia) Transcode(ctx context.Context, src string, info *edustream.MediaInfo, ladder []edustream.Rendition, dir string, progress func(edustream.TranscodeProgress)) error {
	m.transcodes.Add(1)
	return m.MediaTools.Transcode(ctx, src, info, ladder, dir, progress)
}

func (m *countingMedia) Thumbnails(ctx context.Context, src string, info *edustream.MediaInfo, dir string) error {
	m.thumbnails.Add(1)
	return m.MediaTools.Thumbnails(ctx, src, info, dir)
}

// Every step, run again after the database failed as it moved the video
// on, keeps what its first run made: ffmpeg runs once per step, and no
// object is written twice (playlists aside, which publish copies again).
func TestChainDoesNothingTwice(t *testing.T) {
	c := setupChain(t)
	media := &countingMedia{MediaTools: c.media}
	blobs := &writingBlobs{BlobStore: c.blobs}
	v := c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2, Audio: true}))
	w := c.newWorker(workerOptions{media: media, blobs: blobs, videos: &failingEveryAdvance{VideoService: c.videos, failed: map[edustream.VideoStage]bool{}}})
	ctx := context.Background()
	for _, stage := range edustream.Stages[1 : len(edustream.Stages)-1] {
		if err := w.RunStage(ctx, stage, v.ID); edustream.ErrorCode(err) != edustream.EINTERNAL {
			t.Fatalf("%s's first run = %v, want the database's failure", stage, err)
		}
		if err := w.RunStage(ctx, stage, v.ID); err != nil {
			t.Fatalf("%s's second run: %v", stage, err)
		}
	}
	if err := w.RunStage(ctx, edustream.StageComplete, v.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.videos.FindVideoByID(ctx, v.ID); got.Status != edustream.VideoReady {
		t.Fatalf("video = %s at %s (%s), want READY", got.Status, got.Stage, got.Error)
	}
	for what, n := range map[string]int32{"probe": media.probes.Load(), "transcode": media.transcodes.Load(), "thumbnails": media.thumbnails.Load()} {
		if n != 1 {
			t.Errorf("ffmpeg ran the %s %d times, want once", what, n)
		}
	}
	for _, key := range blobs.rewritten() {
		if !strings.HasSuffix(key, ".m3u8") {
			t.Errorf("%s was written twice", key)
		}
	}
}

// unavailableAtEnd is the database unavailable a few times, as a failover
// is, just as the transcode moves its video on.
type unavailableAtEnd struct {
	edustream.VideoService
	left atomic.Int32
}

func (u *unavailableAtEnd) TransitionVideo(ctx context.Context, id int64, status edustream.VideoStatus, stage edustream.VideoStage, upd edustream.VideoUpdate) (*edustream.Video, error) {
	if stage == edustream.StageTranscode && upd.Stage != nil && u.left.Add(-1) >= 0 {
		return nil, edustream.Errorf(edustream.EUNAVAILABLE, "the database is unavailable")
	}
	return u.VideoService.TransitionVideo(ctx, id, status, stage, upd)
}

// A database unavailable for a moment at the end of a transcode costs a
// few retries of the move, not the transcode: ffmpeg runs once, the step's
// task is not retried, and the video goes READY.
func TestChainRidesOutADatabaseBlip(t *testing.T) {
	c := setupChain(t)
	media := &countingMedia{MediaTools: c.media}
	db := &unavailableAtEnd{VideoService: c.videos}
	db.left.Store(3)
	c.startWorker(t, workerOptions{media: media, videos: db})
	v := c.waitDone(t, c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2})).ID)
	if v.Status != edustream.VideoReady {
		t.Fatalf("video = %s at %s (%s), want READY", v.Status, v.Stage, v.Error)
	}
	if n := media.transcodes.Load(); n != 1 {
		t.Errorf("ffmpeg transcoded %d times, want once", n)
	}
	if n := len(c.logs.Records(t, "the database is unavailable; the move is tried again")); n != 3 {
		t.Errorf("%d retries of the move logged, want 3", n)
	}
	for _, r := range c.logs.Records(t, "task failed") {
		if r["task_type"] == "video:transcode:v1" {
			t.Errorf("the transcode task failed: %v", r)
		}
	}
}
