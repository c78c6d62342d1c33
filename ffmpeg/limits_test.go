package ffmpeg

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// hostileSide is the picture size of the hostile frame: 16,000×16,000,
// 768 MB as RGB.
const hostileSide = 16000

// hostileFrame returns a 1 KB MOV of two PNG frames whose headers say
// 16,000×16,000. Encoding such a frame would itself take gigabytes, so a
// 16×16 one is made and its sizes (the PNG's IHDR, the track header and
// the sample description) are rewritten: a decoder allocates the frame
// from the IHDR before it finds the data short.
func hostileFrame(t *testing.T, bins testenv.FFmpegPaths) string {
	t.Helper()
	dir := t.TempDir()
	small := filepath.Join(dir, "small.mov")
	if out, err := testCommand(t, bins.FFmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=s=16x16:r=1",
		"-frames:v", "2", "-c:v", "png", "-pix_fmt", "rgb24", small).CombinedOutput(); err != nil {
		t.Fatalf("make the small frame: %v\n%s", err, out)
	}
	data, err := os.ReadFile(small)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	patched := 0
	for i := 0; ; i += 4 {
		j := bytes.Index(data[i:], []byte("IHDR"))
		if j < 0 {
			break
		}
		i += j
		be.PutUint32(data[i+4:], hostileSide)
		be.PutUint32(data[i+8:], hostileSide)
		be.PutUint32(data[i+17:], crc32.ChecksumIEEE(data[i:i+17]))
		patched++
	}
	// tkhd (version 0): the width and height, 16.16 fixed point, end it.
	tkhd := bytes.Index(data, []byte("tkhd"))
	// stsd: the first sample entry's width and height.
	stsd := bytes.Index(data, []byte("stsd"))
	if patched != 2 || tkhd < 0 || stsd < 0 || data[tkhd+4] != 0 {
		t.Fatalf("unexpected layout of %s: %d IHDR, tkhd at %d, stsd at %d", small, patched, tkhd, stsd)
	}
	wh := tkhd + 4 + 4 + 20 + 8 + 4 + 4 + 36
	be.PutUint32(data[wh:], hostileSide<<16)
	be.PutUint32(data[wh+4:], hostileSide<<16)
	entry := stsd + 4 + 8 + 8 + 8 + 2 + 2 + 4 + 4 + 4
	be.PutUint16(data[entry:], hostileSide)
	be.PutUint16(data[entry+2:], hostileSide)
	return writeFile(t, dir, "hostile.mov", data)
}

// usage records the peak memory and CPU time of every child of tools.
type usage struct {
	mu     sync.Mutex
	maxRSS int64
	cpu    time.Duration
	runs   int
}

func recordUsage(tools *Tools) *usage {
	u := &usage{}
	tools.onEnd = func(res result) {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.maxRSS = max(u.maxRSS, res.maxRSS)
		u.cpu = max(u.cpu, res.cpu)
		u.runs++
	}
	return u
}

// lowMemory is more than ffprobe or a small ffmpeg needs, and far less
// than the hostile frame.
const lowMemory = 150 << 20

// TestHugeFrameControl shows the hostile frame is a real threat: the
// test's own ffprobe, without -max_pixels, decodes it into hundreds of
// megabytes.
func TestHugeFrameControl(t *testing.T) {
	_, bins := newTools(t)
	src := hostileFrame(t, bins)
	cmd := testCommand(t, bins.FFprobe, "-hide_banner", "-loglevel", "error", "-show_streams", src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	t.Logf("unconfined ffprobe peaked at %d MB", rss>>20)
	if rss < 500<<20 {
		t.Fatalf("unconfined ffprobe peaked at only %d MB; the frame proves nothing", rss>>20)
	}
}

// TestHugeFrameRefusedBeforeDecoding: the probe, and a transcode or
// thumbnails run that trusted a stale probe, refuse the frame by its size,
// and no child gets anywhere near its memory.
func TestHugeFrameRefusedBeforeDecoding(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	used := recordUsage(tools)
	src := hostileFrame(t, bins)
	const want = "the picture is 16000×16000, larger than the 4096×4096 limit"

	_, err := tools.Probe(context.Background(), src)
	wantCode(t, err, edustream.EINVALID, want)

	info := &edustream.MediaInfo{DurationSeconds: 2, Width: 1280, Height: 720, FrameRate: 1, VideoCodec: "png"}
	err = tools.Transcode(context.Background(), src, info, edustream.Ladder(info), t.TempDir(), nil)
	wantCode(t, err, edustream.EINVALID, want)
	err = tools.Thumbnails(context.Background(), src, info, t.TempDir())
	wantCode(t, err, edustream.EINVALID, want)

	t.Logf("%d runs, peak %d MB", used.runs, used.maxRSS>>20)
	if used.runs < 3 || used.maxRSS == 0 || used.maxRSS > lowMemory {
		t.Errorf("%d runs peaked at %d MB, want 3 or more below %d MB", used.runs, used.maxRSS>>20, lowMemory>>20)
	}
}

// TestMemoryLimit: with the picture limit raised out of the way, the
// address-space limit alone stops ffmpeg from allocating the frame, and
// says which limit it was. (ffmpeg maps some 300 MB of libraries before it
// reads anything, so the limit cannot be much lower.)
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	bins := testenv.FFmpeg(t)
	tools := New(Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe,
		MaxWidth: hostileSide, MaxHeight: hostileSide, MemoryLimit: 600 << 20})
	used := recordUsage(tools)
	src := hostileFrame(t, bins)
	info := &edustream.MediaInfo{DurationSeconds: 2, Width: hostileSide, Height: hostileSide, FrameRate: 1, VideoCodec: "png"}
	err := tools.Transcode(context.Background(), src, info, edustream.Ladder(info), t.TempDir(), nil)
	wantCode(t, err, edustream.EINVALID, "needs more than the 600.0 MiB of memory ffmpeg may use")
	if used.maxRSS == 0 || used.maxRSS > 600<<20 {
		t.Errorf("ffmpeg peaked at %d MB, above its 600 MiB limit", used.maxRSS>>20)
	}
}

// TestCPULimit: a transcode that needs more CPU time than its source's
// length allows is killed at the limit and refused as such.
func TestCPULimit(t *testing.T) {
	t.Parallel()
	bins := testenv.FFmpeg(t)
	// 1 ms per second of a 10 s source rounds up to RLIMIT_CPU's least,
	// one second; the 720p ladder needs several.
	tools := New(Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe, CPUPerSecond: time.Millisecond})
	tools.cpuFloor = 0
	used := recordUsage(tools)
	src := makeClip(t, bins, clip{width: 1280, height: 720, seconds: 10, audio: true})
	info, err := tools.Probe(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	err = tools.Transcode(context.Background(), src, info, edustream.Ladder(info), t.TempDir(), nil)
	t.Logf("ffmpeg used %v of CPU time", used.cpu)
	wantCode(t, err, edustream.EINVALID, "took more than 1s of CPU time")
	// rusage lags the count the kernel checks the limit against.
	if used.cpu < 900*time.Millisecond || used.cpu > 3*time.Second {
		t.Errorf("ffmpeg used %v of CPU time, want it stopped at about 1s", used.cpu)
	}
}

func TestLimitsConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{MemoryLimit: 1 << 20}, {CPUPerSecond: -time.Second}, {MaxWidth: -1}} {
		if err := New(cfg).Check(context.Background()); err == nil {
			t.Errorf("New(%+v).Check() = nil, want an error", cfg)
		}
	}
}
