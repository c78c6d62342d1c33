package ffmpeg

import (
	"context"
	"errors"
	"math"
	"os"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	tests := []struct {
		name string
		clip clip
		want edustream.MediaInfo
	}{
		{
			name: "720p with sound",
			clip: clip{width: 1280, height: 720, seconds: 3, audio: true},
			want: edustream.MediaInfo{FormatName: "mov,mp4,m4a,3gp,3g2,mj2", DurationSeconds: 3, Width: 1280, Height: 720, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"},
		},
		{
			name: "silent",
			clip: clip{width: 320, height: 240, seconds: 2, fps: 25},
			want: edustream.MediaInfo{FormatName: "mov,mp4,m4a,3gp,3g2,mj2", DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 25, VideoCodec: "h264"},
		},
		{
			// A phone held upright: stored landscape, shown portrait.
			name: "rotated",
			clip: clip{width: 640, height: 360, seconds: 2, audio: true, rotate: 90},
			want: edustream.MediaInfo{FormatName: "mov,mp4,m4a,3gp,3g2,mj2", DurationSeconds: 2, Width: 360, Height: 640, Rotation: 270, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"},
		},
		{
			name: "rotated the other way",
			clip: clip{width: 640, height: 360, seconds: 2, rotate: 270},
			want: edustream.MediaInfo{FormatName: "mov,mp4,m4a,3gp,3g2,mj2", DurationSeconds: 2, Width: 360, Height: 640, Rotation: 90, FrameRate: 30, VideoCodec: "h264"},
		},
		{
			name: "upside down",
			clip: clip{width: 320, height: 240, seconds: 2, rotate: 180},
			want: edustream.MediaInfo{FormatName: "mov,mp4,m4a,3gp,3g2,mj2", DurationSeconds: 2, Width: 320, Height: 240, Rotation: 180, FrameRate: 30, VideoCodec: "h264"},
		},
		{
			// 480 stored pixels shown 4/3 as wide.
			name: "anamorphic",
			clip: clip{width: 480, height: 360, seconds: 2, sar: "4/3"},
			want: edustream.MediaInfo{FormatName: "mov,mp4,m4a,3gp,3g2,mj2", DurationSeconds: 2, Width: 640, Height: 360, FrameRate: 30, VideoCodec: "h264"},
		},
		{
			name: "matroska",
			clip: clip{width: 320, height: 240, seconds: 2, audio: true, ext: "mkv"},
			want: edustream.MediaInfo{FormatName: "matroska,webm", DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"},
		},
		{
			name: "webm",
			clip: clip{width: 320, height: 240, seconds: 2, audio: true, ext: "webm"},
			want: edustream.MediaInfo{FormatName: "matroska,webm", DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 30, VideoCodec: "vp8", AudioCodec: "opus"},
		},
		{
			name: "avi",
			clip: clip{width: 320, height: 240, seconds: 2, audio: true, ext: "avi"},
			want: edustream.MediaInfo{FormatName: "avi", DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 30, VideoCodec: "mpeg4", AudioCodec: "mp3"},
		},
		{
			name: "mpeg transport stream",
			clip: clip{width: 320, height: 240, seconds: 2, audio: true, ext: "ts"},
			want: edustream.MediaInfo{FormatName: "mpegts", DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"},
		},
		{
			name: "mpeg program stream",
			clip: clip{width: 320, height: 240, seconds: 2, audio: true, ext: "mpg"},
			want: edustream.MediaInfo{FormatName: "mpeg", DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 30, VideoCodec: "mpeg2video", AudioCodec: "mp2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := makeClip(t, bins, tt.clip)
			got, err := tools.Probe(context.Background(), path)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.SizeBytes = fi.Size()
			if got.BitRate <= 0 {
				t.Errorf("BitRate = %d, want > 0", got.BitRate)
			}
			// Containers round durations and interleave audio
			// differently; a tenth of a second is not a difference.
			opts := cmp.Options{
				cmpopts.IgnoreFields(edustream.MediaInfo{}, "BitRate"),
				cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".DurationSeconds" },
					cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 0.1 })),
				cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".FrameRate" },
					cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 0.01 })),
			}
			if diff := cmp.Diff(&want, got, opts); diff != "" {
				t.Errorf("Probe (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProbeRefuses feeds Probe what people upload by mistake and what
// attackers upload on purpose; each must be refused with a reason a person
// can act on.
func TestProbeRefuses(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	dir := t.TempDir()
	mp4 := makeClip(t, bins, clip{width: 320, height: 240, seconds: 4, audio: true})
	faststart := makeClip(t, bins, clip{width: 320, height: 240, seconds: 4, audio: true, faststart: true})
	mkv := makeClip(t, bins, clip{width: 320, height: 240, seconds: 4, audio: true, ext: "mkv"})
	generate := func(name string, args ...string) string {
		t.Helper()
		p := dir + "/" + name
		args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, append(args, p)...)
		if out, err := testCommand(t, bins.FFmpeg, args...).CombinedOutput(); err != nil {
			t.Fatalf("generate %s: %v\n%s", name, err, out)
		}
		return p
	}
	frame := []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:duration=0.1", "-frames:v", "1"}
	sine := []string{"-f", "lavfi", "-i", "sine=duration=2"}

	tests := []struct {
		name string
		path string
		want string
	}{
		{"empty", writeFile(t, dir, "empty.mp4", nil), "the file is empty"},
		{"text named .mp4", writeFile(t, dir, "notes.mp4", []byte("Lecture 3: notes\nBring the slides.\n")), "not a video file"},
		{"random bytes", writeFile(t, dir, "noise.mp4", []byte("\x13\x37\x00\xfe\x99garbage\x00\x01\x02 not any format at all, just bytes")), "not a video file"},
		{"HLS playlist", writeFile(t, dir, "playlist.mp4", []byte("#EXTM3U\n#EXTINF:10,\nhttp://example.com/a.ts\n#EXT-X-ENDLIST\n")), "an HLS playlist, not a video file"},
		{"HLS playlist after a BOM and blank lines", writeFile(t, dir, "bom.mp4", []byte("\xef\xbb\xbf\n\n#EXTM3U\n")), "an HLS playlist, not a video file"},
		{"concat script", writeFile(t, dir, "concat.mp4", []byte("ffconcat version 1.0\nfile a.mp4\n")), "a concat script, not a video file"},
		{"subtitles named .mp4", writeFile(t, dir, "subs.mp4", []byte("1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:03,000 --> 00:00:04,000\nWorld\n")), "not a video file in a format we accept"},
		{"PDF", writeFile(t, dir, "slides.mp4", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")), "a PDF document, not a video file"},
		{"slides (zip)", writeFile(t, dir, "slides.pptx.mp4", []byte("PK\x03\x04\x14\x00\x06\x00")), "an archive or office document"},
		{"moov-at-end mp4 cut in half", truncated(t, mp4, 0.5, dir, "cut.mp4"), "the file is damaged or truncated"},
		{"mp4 header only", truncated(t, mp4, 0.01, dir, "head.mp4"), "the file is damaged or truncated"},
		{"faststart mp4 cut in half", truncated(t, faststart, 0.5, dir, "cut-faststart.mp4"), "the file is damaged or truncated: only"},
		{"matroska cut in half", truncated(t, mkv, 0.5, dir, "cut.mkv"), "the file is damaged or truncated: only"},
		{"png", generate("frame.png", frame...), "an image, not a video file"},
		{"jpeg named .mp4", generate("frame.mp4", append(frame, "-f", "mjpeg")...), "an image, not a video file"},
		{"single frame in mp4", generate("still.mp4", append(frame, "-c:v", "libx264")...), "a still image, not a video"},
		{"sound only in mp4", generate("sound.mp4", append(sine, "-c:a", "aac")...), "the file has only sound, no video stream"},
		{"sound with cover art", generate("cover.mp4", append(append(sine, "-f", "lavfi", "-i", "testsrc2=size=64x64:duration=0.1", "-frames:v", "1", "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png"), "-disposition:v", "attached_pic")...), "the file has only sound, no video stream"},
		{"wav", generate("sound.wav", sine...), "an audio file, not a video file"},
		{"mp3 named .mp4", generate("sound3.mp4", append(sine, "-c:a", "libmp3lame", "-f", "mp3")...), "an audio file, not a video file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, err := tools.Probe(context.Background(), tt.path)
			if err == nil {
				t.Fatalf("Probe accepted it: %+v", info)
			}
			wantCode(t, err, edustream.EINVALID, tt.want)
		})
	}
}

func TestProbeTimeout(t *testing.T) {
	t.Parallel()
	_, bins := newTools(t)
	tools := New(Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe, ProbeTimeout: time.Millisecond})
	path := makeClip(t, bins, clip{width: 320, height: 240, seconds: 2})
	_, err := tools.Probe(context.Background(), path)
	wantCode(t, err, edustream.EINVALID, "took longer than")
}

func TestProbeCanceled(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	path := makeClip(t, bins, clip{width: 320, height: 240, seconds: 2})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tools.Probe(ctx, path)
	if !errors.Is(err, context.Canceled) || edustream.ErrorCode(err) == edustream.EINVALID {
		t.Fatalf("Probe on a canceled context = %v, want context.Canceled and not EINVALID", err)
	}
}
