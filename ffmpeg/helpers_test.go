package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// TestMain runs the tests, or stands in for a worker when the test that
// kills a worker starts this binary as one (see runWorker).
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(runWorker())
	}
	code := m.Run()
	clips.cleanup()
	os.Exit(code)
}

// newTools returns Tools on the installed ffmpeg, and the paths of the
// binaries for the test's own (unconfined) runs. It skips without ffmpeg
// unless ffmpeg is required.
func newTools(t testing.TB) (*Tools, testenv.FFmpegPaths) {
	t.Helper()
	bins := testenv.FFmpeg(t)
	tools := New(Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe})
	if err := tools.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	return tools, bins
}

// clip describes a test video generated with lavfi.
type clip struct {
	width, height int
	seconds       float64
	fps           int
	audio         bool
	// rotate is the legacy rotate tag, which the mov muxer turns into a
	// display matrix.
	rotate int
	// sar is the sample aspect ratio ("4/3"), for anamorphic video.
	sar string
	// ext picks the container and codecs: mp4 (default), mkv, webm, avi,
	// ts, mpg.
	ext       string
	faststart bool
	frames    int // when set, stop after this many frames
	// bitrate, when set, encodes video at this rate with the High
	// profile, as a phone would; otherwise ultrafast, for speed.
	bitrate string
}

func (c clip) name() string {
	ext := c.ext
	if ext == "" {
		ext = "mp4"
	}
	return fmt.Sprintf("%dx%d_%gs_%dfps_a%t_r%d_sar%s_fs%t_f%d_b%s.%s", c.width, c.height, c.seconds, c.fps, c.audio, c.rotate,
		strings.ReplaceAll(c.sar, "/", ":"), c.faststart, c.frames, c.bitrate, ext)
}

// clipCache keeps generated clips for the whole test binary: several tests
// share a source, and encoding is the slow part. Each clip is made once,
// by the first test that asks; tests asking for other clips meanwhile make
// theirs at the same time. Tests only read the files.
type clipCache struct {
	mu      sync.Mutex
	dir     string
	dirErr  error
	entries map[string]*clipEntry
}

// clipEntry is one clip, made once.
type clipEntry struct {
	once sync.Once
	path string
	err  error
}

var clips clipCache

func (cc *clipCache) cleanup() {
	if cc.dir != "" {
		os.RemoveAll(cc.dir)
	}
}

// entry returns the directory of the clips and the entry of the named one.
func (cc *clipCache) entry(name string) (string, *clipEntry, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.dir == "" && cc.dirErr == nil {
		cc.dir, cc.dirErr = os.MkdirTemp("", "edustream-ffmpeg-clips-")
		cc.entries = map[string]*clipEntry{}
	}
	if cc.dirErr != nil {
		return "", nil, cc.dirErr
	}
	e := cc.entries[name]
	if e == nil {
		e = &clipEntry{}
		cc.entries[name] = e
	}
	return cc.dir, e, nil
}

// makeClip returns the path of the clip c, generating it on first use.
func makeClip(t testing.TB, bins testenv.FFmpegPaths, c clip) string {
	t.Helper()
	dir, e, err := clips.entry(c.name())
	if err != nil {
		t.Fatal(err)
	}
	e.once.Do(func() { e.path, e.err = generateClip(bins, dir, c) })
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.path
}

// generateClip writes the clip c into dir and returns its path. It
// returns its failure rather than failing a test: every test that wants
// the clip fails with it.
func generateClip(bins testenv.FFmpegPaths, dir string, c clip) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*testenv.WaitLimit)
	defer cancel()
	if c.fps == 0 {
		c.fps = 30
	}
	path := filepath.Join(dir, c.name())
	dur := strconv.FormatFloat(c.seconds, 'f', -1, 64)
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d:duration=%s", c.width, c.height, c.fps, dur)}
	if c.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration="+dur)
	}
	if c.sar != "" {
		args = append(args, "-vf", "setsar="+c.sar)
	}
	if c.frames > 0 {
		args = append(args, "-frames:v", strconv.Itoa(c.frames))
	}
	switch c.ext {
	case "", "mp4", "mkv", "ts":
		if c.bitrate != "" {
			args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-b:v", c.bitrate, "-maxrate", c.bitrate, "-bufsize", c.bitrate)
		} else {
			args = append(args, "-c:v", "libx264", "-preset", "ultrafast")
		}
		args = append(args, "-pix_fmt", "yuv420p", "-c:a", "aac")
	case "webm":
		args = append(args, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k", "-c:a", "libopus")
	case "avi":
		args = append(args, "-c:v", "mpeg4", "-c:a", "libmp3lame")
	case "mpg":
		args = append(args, "-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob")
	default:
		return "", fmt.Errorf("unknown clip container %q", c.ext)
	}
	if c.faststart {
		args = append(args, "-movflags", "+faststart")
	}
	encoded := path
	if c.rotate != 0 {
		// ffmpeg 5.1 turns the rotate tag into a display matrix only
		// when copying streams, so rotation is a second step.
		encoded = path + ".unrotated." + filepath.Ext(path)[1:]
	}
	args = append(args, encoded)
	if out, err := exec.CommandContext(ctx, bins.FFmpeg, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("generate %s: %v\n%s", c.name(), err, out)
	}
	if c.rotate != 0 {
		out, err := exec.CommandContext(ctx, bins.FFmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", encoded,
			"-map", "0", "-c", "copy", "-metadata:s:v:0", "rotate="+strconv.Itoa(c.rotate), path).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("rotate %s: %v\n%s", c.name(), err, out)
		}
	}
	return path, nil
}

// testCommand is a command the test runs itself (to make sources or
// check outputs), bounded so a mistake fails instead of hanging.
func testCommand(t testing.TB, bin string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*testenv.WaitLimit)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, bin, args...)
}

// probeJSON runs the test's own ffprobe (not the one under test) on path
// and returns its JSON, for checking outputs.
func probeJSON(t testing.TB, bins testenv.FFmpegPaths, path string, extra ...string) map[string]any {
	t.Helper()
	args := append([]string{"-hide_banner", "-loglevel", "error", "-of", "json"}, extra...)
	args = append(args, path)
	out, err := testCommand(t, bins.FFprobe, args...).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return v
}

// outputStreams is what the test's ffprobe says about the streams of an
// output file or playlist.
type outputStreams struct {
	Streams []struct {
		CodecType  string `json:"codec_type"`
		CodecName  string `json:"codec_name"`
		Profile    string `json:"profile"`
		Level      int    `json:"level"`
		Width      int    `json:"width"`
		Height     int    `json:"height"`
		PixFmt     string `json:"pix_fmt"`
		Channels   int    `json:"channels"`
		SampleRate string `json:"sample_rate"`
		SideData   []struct {
			Type string `json:"side_data_type"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func probeOutputs(t testing.TB, bins testenv.FFmpegPaths, path string) outputStreams {
	t.Helper()
	out, err := testCommand(t, bins.FFprobe, "-hide_banner", "-loglevel", "error", "-of", "json", "-show_streams", "-show_format", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var s outputStreams
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return s
}

// wantCode fails the test unless err carries code and its safe message
// contains msg.
func wantCode(t testing.TB, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s %q", code, msg)
	}
	if got := edustream.ErrorCode(err); got != code {
		t.Fatalf("code = %s, want %s (err: %v)", got, code, err)
	}
	if got := edustream.ErrorMessage(err); !strings.Contains(got, msg) {
		t.Fatalf("message = %q, want it to contain %q", got, msg)
	}
}

// writeFile writes data to a new file in dir and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// truncated writes the first fraction of the file at src to a new file.
func truncated(t testing.TB, src string, fraction float64, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, data[:int(float64(len(data))*fraction)])
}

// treeContains reports which files under dir contain needle.
func treeContains(t testing.TB, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(data, needle) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}
