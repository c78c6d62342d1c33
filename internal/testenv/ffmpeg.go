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

// HLSStream makes a stream as the chain publishes one, with ffmpeg: a
// 10-second test pattern in 4-second MPEG-TS segments, master.m3u8 naming
// one rendition (360p/index.m3u8). It returns the files by their path
// relative to the stream's directory. It needs ffmpeg (see FFmpeg).
func HLSStream(t testing.TB) map[string][]byte {
	t.Helper()
	bins := FFmpeg(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "360p"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.FFmpeg, "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "10",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-force_key_frames", "expr:gte(t,n_forced*4)",
		"-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_segment_type", "mpegts",
		"-hls_segment_filename", "360p/seg_%05d.ts", "360p/index.m3u8")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make an HLS stream: %v\n%s", err, out)
	}
	files := map[string][]byte{"master.m3u8": []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180,CODECS=\"avc1.64000d\"\n360p/index.m3u8\n")}
	entries, err := os.ReadDir(filepath.Join(dir, "360p"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "360p", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files["360p/"+e.Name()] = b
	}
	return files
}
