package ffmpeg

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edustream/edustream"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// shellLine renders a command line a person can paste into a shell, an
// option and its value to a line.
func shellLine(bin string, args []string) string {
	safe := regexp.MustCompile(`^[A-Za-z0-9_./:=,+-]+$`)
	option := regexp.MustCompile(`^-[a-z]`)
	var b strings.Builder
	b.WriteString(bin)
	for _, a := range args {
		if option.MatchString(a) || strings.HasPrefix(a, "file:") {
			b.WriteString(" \\\n ")
		}
		b.WriteString(" ")
		if safe.MatchString(a) {
			b.WriteString(a)
		} else {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		}
	}
	return b.String() + "\n"
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; run go test -run %s -update and review the diff\ngot:\n%s", path, t.Name(), got)
	}
}

// The command lines are golden files: they are what the benchmark
// documentation tells people to run, and every change to them should be
// seen in review.

func TestTranscodeArgs(t *testing.T) {
	t.Parallel()
	tools := New(Config{FFmpegPath: "/bin/true", FFprobePath: "/bin/true"})
	info := &edustream.MediaInfo{DurationSeconds: 10, Width: 1920, Height: 1080, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"}
	args := tools.transcodeArgs("/work/job/source", info, edustream.Ladder(info), "/work/job/hls")
	// Segment names are relative to ffmpeg's working directory.
	const cd = "cd /work/job/hls\n"
	golden(t, "transcode_1080p.sh", cd+shellLine("ffmpeg", args))

	// The other side of BenchmarkLadder: one ffmpeg per rendition.
	var per []string
	for _, r := range edustream.Ladder(info) {
		per = append(per, shellLine("ffmpeg", tools.transcodeArgs("/work/job/source", info, []edustream.Rendition{r}, "/work/job/hls")))
	}
	golden(t, "transcode_1080p_per_rendition.sh", cd+strings.Join(per, "\n"))

	// 60 fps, no sound: halved frame rate, no audio options.
	info = &edustream.MediaInfo{DurationSeconds: 10, Width: 1280, Height: 720, FrameRate: 60, VideoCodec: "h264"}
	args = tools.transcodeArgs("/work/job/source", info, edustream.Ladder(info)[:1], "/work/job/hls")
	golden(t, "transcode_720p60_silent.sh", cd+shellLine("ffmpeg", args))
}

func TestThumbnailArgs(t *testing.T) {
	t.Parallel()
	info := &edustream.MediaInfo{DurationSeconds: 3600, Width: 1920, Height: 1080, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"}
	tools := New(Config{FFmpegPath: "/bin/true", FFprobePath: "/bin/true"})
	args := tools.thumbnailArgs("/work/job/source", info, edustream.StoryboardFor(info.DurationSeconds, info.Width, info.Height), "/work/job/thumbs")
	golden(t, "thumbnails_1h_1080p.sh", shellLine("ffmpeg", args))
}

func TestProbeArgs(t *testing.T) {
	t.Parallel()
	tools := New(Config{FFmpegPath: "/bin/true", FFprobePath: "/bin/true"})
	golden(t, "probe.sh", shellLine("ffprobe", tools.probeArgs("/work/job/source"))+"\n"+shellLine("ffprobe", tools.endArgs("/work/job/source", 3595)))
}

func TestSniff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, head, want string
	}{
		{"mp4", "\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", ""},
		{"quicktime", "\x00\x00\x00\x14ftypqt  ", ""},
		{"matroska", "\x1a\x45\xdf\xa3\x9f\x42\x86\x81", ""},
		{"text", "hello\n", ""},
		{"hls", "#EXTM3U\n#EXT-X-VERSION:3\n", "an HLS playlist"},
		{"hls after whitespace", " \r\n\t#EXTM3U", "an HLS playlist"},
		{"concat", "ffconcat version 1.0\n", "a concat script"},
		{"png", "\x89PNG\r\n\x1a\n\x00\x00", "an image"},
		{"jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF", "an image"},
		{"gif", "GIF89a\x01\x00", "an image"},
		{"webp", "RIFF\x00\x00\x00\x00WEBPVP8 ", "an image"},
		{"heic", "\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "an image"},
		{"avi", "RIFF\x00\x00\x00\x00AVI LIST", ""},
		{"wav", "RIFF\x00\x00\x00\x00WAVEfmt ", "an audio file"},
		{"m4a", "\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00", "an audio file"},
		{"mp3", "ID3\x04\x00\x00", "an audio file"},
		{"pdf", "%PDF-1.4\n", "a PDF document"},
		{"pptx", "PK\x03\x04\x14\x00", "an archive or office document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sniff([]byte(tt.head))
			if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
				t.Errorf("sniff = %q, want %q…", got, tt.want)
			}
		})
	}
}

func TestLooksLikeContainer(t *testing.T) {
	t.Parallel()
	ts := make([]byte, 189)
	ts[0], ts[188] = 0x47, 0x47
	for name, head := range map[string][]byte{
		"mp4":    []byte("\x00\x00\x00\x20ftypisom"),
		"mov":    []byte("\x00\x00\x00\x08wide\x00\x00"),
		"mkv":    []byte("\x1a\x45\xdf\xa3"),
		"avi":    []byte("RIFF\x00\x00\x00\x00AVI "),
		"mpeg":   []byte("\x00\x00\x01\xba\x44"),
		"mpegts": ts,
	} {
		if !looksLikeContainer(head) {
			t.Errorf("%s not recognised", name)
		}
	}
	for name, head := range map[string][]byte{
		"text":  []byte("Lecture 3: notes\n"),
		"empty": nil,
		"wav":   []byte("RIFF\x00\x00\x00\x00WAVE"),
	} {
		if looksLikeContainer(head) {
			t.Errorf("%s taken for a container", name)
		}
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	matrix := func(deg float64) *probeStream {
		s := &probeStream{}
		s.SideData = append(s.SideData, struct {
			Type     string  `json:"side_data_type"`
			Rotation float64 `json:"rotation"`
		}{"Display Matrix", deg})
		return s
	}
	tag := func(v string) *probeStream {
		s := &probeStream{}
		s.Tags.Rotate = v
		return s
	}
	for name, tt := range map[string]struct {
		s    *probeStream
		want int
	}{
		"none":                  {&probeStream{}, 0},
		"phone portrait (-90)":  {matrix(-90), 90},
		"counter-clockwise 90":  {matrix(90), 270},
		"upside down":           {matrix(180), 180},
		"upside down, negative": {matrix(-180), 180},
		"almost -90":            {matrix(-89.99), 90},
		"legacy tag":            {tag("90"), 90},
		"legacy tag 270":        {tag("270"), 270},
	} {
		if got := rotation(tt.s); got != tt.want {
			t.Errorf("%s: rotation = %d, want %d", name, got, tt.want)
		}
	}
}
