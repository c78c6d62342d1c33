package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// FFmpegPaths are the binaries of an ffmpeg installation.
type FFmpegPaths struct {
	FFmpeg  string
	FFprobe string
}

// FFmpeg returns the paths of ffmpeg and ffprobe found on PATH. Without them
// it skips the test, or fails it when EDUSTREAM_TEST_REQUIRE names ffmpeg.
func FFmpeg(t testing.TB) FFmpegPaths {
	t.Helper()
	var p FFmpegPaths
	var err error
	if p.FFmpeg, err = exec.LookPath("ffmpeg"); err == nil {
		p.FFprobe, err = exec.LookPath("ffprobe")
	}
	if err != nil {
		if Required("ffmpeg") {
			t.Fatalf("ffmpeg is required (%s=%q) but not installed: %v", EnvRequire, os.Getenv(EnvRequire), err)
		}
		t.Skipf("ffmpeg not installed: skipping (%v)", err)
	}
	return p
}

// Clip describes a test video that MakeClip generates with ffmpeg's lavfi
// sources: a moving test pattern, and a tone when Audio is set.
type Clip struct {
	Width, Height int
	Seconds       float64
	Audio         bool
}

// MakeClip writes the clip as an H.264/AAC MP4 into the test's temp dir and
// returns its path. It needs ffmpeg (see FFmpeg).
func MakeClip(t testing.TB, c Clip) string {
	t.Helper()
	path, err := WriteClip(FFmpeg(t), t.TempDir(), c)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteClip writes the clip as an H.264/AAC MP4 into dir with ffmpeg and
// returns its path. It returns its failure instead of failing a test, for
// clips made once and shared by several tests.
func WriteClip(bins FFmpegPaths, dir string, c Clip) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("clip-%dx%d-%gs-audio%t.mp4", c.Width, c.Height, c.Seconds, c.Audio))
	args := []string{"-v", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=25", c.Width, c.Height)}
	if c.Audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-c:a", "aac", "-b:a", "96k")
	}
	args = append(args, "-t", strconv.FormatFloat(c.Seconds, 'f', -1, 64),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", path)
	if out, err := exec.Command(bins.FFmpeg, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("make clip %+v: %v\n%s", c, err, out)
	}
	return path, nil
}
