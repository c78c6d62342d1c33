package jobs_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// countingBlobs counts what is read of one key: the bytes, and the reads
// that took the whole blob from its first byte to its last.
type countingBlobs struct {
	edustream.BlobStore
	key string

	mu         sync.Mutex
	bytes      int64
	downloads  int
	otherReads map[string]int
}

func (c *countingBlobs) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	r, err := c.BlobStore.Get(ctx, key, offset, length)
	if err != nil {
		return r, err
	}
	if key != c.key {
		c.mu.Lock()
		if c.otherReads == nil {
			c.otherReads = map[string]int{}
		}
		c.otherReads[key]++
		c.mu.Unlock()
		return r, nil
	}
	info, err := c.BlobStore.Head(ctx, key)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &countingReader{ReadCloser: r, c: c, whole: offset == 0, size: info.Size}, nil
}

type countingReader struct {
	io.ReadCloser
	c     *countingBlobs
	whole bool
	size  int64
	n     int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	r.c.mu.Lock()
	r.c.bytes += int64(n)
	if r.whole && r.n == r.size && n > 0 {
		r.c.downloads++
	}
	r.c.mu.Unlock()
	return n, err
}

func (c *countingBlobs) counts() (bytes int64, downloads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, c.downloads
}

// The source, which may be 10 GiB, is downloaded once per video: the
// probe reads the bytes it needs through ranges, the transcode downloads
// it, and the thumbnails come from a rendition.
func TestChainReadsTheSourceOnce(t *testing.T) {
	c := setupChain(t)
	// Forty seconds of noise at 2 Mb/s: 10 MB, of which the probe needs
	// about 10 seconds' worth (ffprobe's first seconds and last seconds),
	// plus what the loopback's buffers take ahead of it.
	src := filepath.Join(t.TempDir(), "noise.mp4")
	out, err := exec.Command(testenv.FFmpeg(t).FFmpeg, "-v", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "nullsrc=s=160x90:r=25,geq=lum='random(1)*255':cb=128:cr=128", "-t", "40",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M",
		"-pix_fmt", "yuv420p", "-g", "25", "-movflags", "+faststart", src).CombinedOutput()
	if err != nil {
		t.Fatalf("make the clip: %v\n%s", err, out)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	v := c.upload(t, src)
	counter := &countingBlobs{BlobStore: c.blobs, key: v.SourceKey()}
	w := c.newWorker(workerOptions{blobs: counter})
	ctx := context.Background()

	if err := w.RunStage(ctx, edustream.StageProbe, v.ID); err != nil {
		t.Fatal(err)
	}
	probed, downloads := counter.counts()
	t.Logf("the probe read %d of the source's %d bytes", probed, fi.Size())
	if downloads != 0 || probed >= fi.Size()/2 {
		t.Errorf("the probe read %d bytes of %d, downloading the source %d times; want less than half", probed, fi.Size(), downloads)
	}
	for _, stage := range edustream.Stages[2:] {
		if err := w.RunStage(ctx, stage, v.ID); err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
	}
	done, err := c.videos.FindVideoByID(ctx, v.ID)
	if err != nil || done.Status != edustream.VideoReady {
		t.Fatalf("video = %+v, %v; want READY", done, err)
	}
	read, downloads := counter.counts()
	if downloads != 1 || read-probed != fi.Size() {
		t.Errorf("after the probe the chain read %d bytes of the source in %d downloads; want one download of %d", read-probed, downloads, fi.Size())
	}
	// The thumbnails read a rendition's segments.
	fromHLS := 0
	for key, n := range counter.otherReads {
		if strings.HasPrefix(key, v.HLSPrefix()) && strings.HasSuffix(key, ".ts") {
			fromHLS += n
		}
	}
	if fromHLS == 0 {
		t.Errorf("the thumbnails read no rendition segment; reads besides the source: %v", counter.otherReads)
	}
}

// failingAdvance is the database failing once as the transcode step moves
// the video on, after its outputs were stored.
type failingAdvance struct {
	edustream.VideoService
	failed atomic.Bool
}

func (f *failingAdvance) TransitionVideo(ctx context.Context, id int64, status edustream.VideoStatus, stage edustream.VideoStage, upd edustream.VideoUpdate) (*edustream.Video, error) {
	if stage == edustream.StageTranscode && upd.Stage != nil && f.failed.CompareAndSwap(false, true) {
		return nil, edustream.Errorf(edustream.EINTERNAL, "the database went away")
	}
	return f.VideoService.TransitionVideo(ctx, id, status, stage, upd)
}

// A database blip after a finished transcode does not throw the transcode
// away: the retried step finds its outputs complete in the work prefix.
func TestChainKeepsAFinishedTranscode(t *testing.T) {
	c := setupChain(t)
	media := &flakyMedia{MediaTools: c.media}
	v := c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2}))
	w := c.newWorker(workerOptions{media: media, videos: &failingAdvance{VideoService: c.videos}})
	ctx := context.Background()
	if err := w.RunStage(ctx, edustream.StageProbe, v.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.RunStage(ctx, edustream.StageTranscode, v.ID); edustream.ErrorCode(err) != edustream.EINTERNAL {
		t.Fatalf("the first transcode = %v, want the database's failure", err)
	}
	if err := w.RunStage(ctx, edustream.StageTranscode, v.ID); err != nil {
		t.Fatalf("the retried transcode: %v", err)
	}
	if n := media.transcodes.Load(); n != 1 {
		t.Errorf("ffmpeg transcoded %d times, want once", n)
	}
	got, err := c.videos.FindVideoByID(ctx, v.ID)
	if err != nil || got.Stage != edustream.StagePublish || len(got.Renditions) == 0 {
		t.Fatalf("video = %+v, %v; want at PUBLISH with its renditions", got, err)
	}
	for _, stage := range edustream.Stages[3:] {
		if err := w.RunStage(ctx, stage, v.ID); err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
	}
	if got, _ = c.videos.FindVideoByID(ctx, v.ID); got.Status != edustream.VideoReady {
		t.Errorf("video = %s at %s (%s), want READY", got.Status, got.Stage, got.Error)
	}
}
