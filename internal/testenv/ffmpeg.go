package testenv

import (
	"os"
	"os/exec"
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
