package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// transcoded is a finished transcode and what the test saw of it.
type transcoded struct {
	info     *edustream.MediaInfo
	ladder   []edustream.Rendition
	dir      string
	progress []edustream.TranscodeProgress
}

func transcodeClip(t *testing.T, tools *Tools, bins testenv.FFmpegPaths, c clip) transcoded {
	t.Helper()
	src := makeClip(t, bins, c)
	info, err := tools.Probe(context.Background(), src)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	tr := transcoded{info: info, ladder: edustream.Ladder(info), dir: t.TempDir()}
	err = tools.Transcode(context.Background(), src, info, tr.ladder, tr.dir, func(p edustream.TranscodeProgress) {
		tr.progress = append(tr.progress, p)
	})
	if err != nil {
		t.Fatalf("Transcode: %v", err)
	}
	return tr
}

// masterEntry is one EXT-X-STREAM-INF of a master playlist.
type masterEntry struct {
	attrs map[string]string
	uri   string
}

var attrRE = regexp.MustCompile(`([A-Z0-9-]+)=("[^"]*"|[^,]*)`)

func readMaster(t *testing.T, dir string) []masterEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, edustream.MasterPlaylistName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "#EXTM3U" {
		t.Fatalf("master starts with %q", lines[0])
	}
	var out []masterEntry
	for i := 0; i < len(lines); i++ {
		rest, ok := strings.CutPrefix(lines[i], "#EXT-X-STREAM-INF:")
		if !ok {
			continue
		}
		e := masterEntry{attrs: map[string]string{}}
		for _, m := range attrRE.FindAllStringSubmatch(rest, -1) {
			e.attrs[m[1]] = m[2]
		}
		if i+1 >= len(lines) {
			t.Fatal("EXT-X-STREAM-INF without a URI")
		}
		i++
		e.uri = lines[i]
		out = append(out, e)
	}
	return out
}

// checkMaster compares the master playlist with the ladder, attribute by
// attribute.
func checkMaster(t *testing.T, tr transcoded, frameRate string) {
	t.Helper()
	entries := readMaster(t, tr.dir)
	if len(entries) != len(tr.ladder) {
		t.Fatalf("master lists %d variants, want %d", len(entries), len(tr.ladder))
	}
	for i, r := range tr.ladder {
		e := entries[i]
		pl, err := readMediaPlaylist(filepath.Join(tr.dir, r.Name))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			// The ladder's, or the peak segment's if that is higher.
			"BANDWIDTH":  strconv.Itoa(max(r.Bitrate, pl.peakBitrate())),
			"RESOLUTION": fmt.Sprintf("%dx%d", r.Width, r.Height),
			"CODECS":     `"` + r.Codecs + `"`,
			"FRAME-RATE": frameRate,
		}
		for k, v := range want {
			if e.attrs[k] != v {
				t.Errorf("%s: %s = %s, want %s", r.Name, k, e.attrs[k], v)
			}
		}
		if avg, err := strconv.Atoi(e.attrs["AVERAGE-BANDWIDTH"]); err != nil || avg <= 0 || avg > pl.peakBitrate() {
			t.Errorf("%s: AVERAGE-BANDWIDTH = %q, want in (0, %d]", r.Name, e.attrs["AVERAGE-BANDWIDTH"], pl.peakBitrate())
		}
		if len(e.attrs) != 5 {
			t.Errorf("%s: attributes %v, want exactly BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS, FRAME-RATE", r.Name, e.attrs)
		}
		if e.uri != r.Name+"/index.m3u8" {
			t.Errorf("%s: URI %q", r.Name, e.uri)
		}
	}
}

// checkRendition probes a rendition's playlist and its segments.
func checkRendition(t *testing.T, bins testenv.FFmpegPaths, tr transcoded, r edustream.Rendition, segment int) *mediaPlaylist {
	t.Helper()
	dir := filepath.Join(tr.dir, r.Name)
	out := probeOutputs(t, bins, filepath.Join(dir, "index.m3u8"))
	var video, audio int
	for _, s := range out.Streams {
		switch s.CodecType {
		case "video":
			video++
			if s.CodecName != "h264" || s.Profile != "High" || s.PixFmt != "yuv420p" {
				t.Errorf("%s: video %s %s %s, want h264 High yuv420p", r.Name, s.CodecName, s.Profile, s.PixFmt)
			}
			if s.Width != r.Width || s.Height != r.Height {
				t.Errorf("%s: %dx%d, want %dx%d", r.Name, s.Width, s.Height, r.Width, r.Height)
			}
			if want, _ := strconv.ParseFloat(r.H264Level(), 64); s.Level != int(math.Round(want*10)) {
				t.Errorf("%s: level %d, CODECS %s promises %v", r.Name, s.Level, r.Codecs, want)
			}
			for _, sd := range s.SideData {
				if sd.Type == "Display Matrix" {
					t.Errorf("%s: output still carries a display matrix; players would turn it again", r.Name)
				}
			}
		case "audio":
			audio++
			if s.CodecName != "aac" || s.Profile != "LC" || s.Channels != 2 || s.SampleRate != "48000" {
				t.Errorf("%s: audio %s %s %dch %sHz, want aac LC 2ch 48000Hz", r.Name, s.CodecName, s.Profile, s.Channels, s.SampleRate)
			}
		}
	}
	wantAudio := 0
	if tr.info.HasAudio() {
		wantAudio = 1
	}
	if video != 1 || audio != wantAudio {
		t.Errorf("%s: %d video and %d audio streams, want 1 and %d", r.Name, video, audio, wantAudio)
	}
	if d := parseFloat(out.Format.Duration); math.Abs(d-tr.info.DurationSeconds) > 0.25 {
		t.Errorf("%s: lasts %.3fs, source %.3fs", r.Name, d, tr.info.DurationSeconds)
	}

	pl, err := readMediaPlaylist(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range pl.segments {
		if i < len(pl.segments)-1 && math.Abs(s.duration-float64(segment)) > 0.01 {
			t.Errorf("%s: segment %d lasts %.3fs, want %ds", r.Name, i, s.duration, segment)
		}
		// Each segment opens on a keyframe, so players can switch there.
		pk := probeJSON(t, bins, filepath.Join(dir, s.name), "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries", "packet=flags")
		packets, _ := pk["packets"].([]any)
		if len(packets) == 0 || !strings.HasPrefix(packets[0].(map[string]any)["flags"].(string), "K") {
			t.Errorf("%s: segment %d does not start with a keyframe: %v", r.Name, i, pk)
		}
	}
	return pl
}

func TestTranscode(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	tr := transcodeClip(t, tools, bins, clip{width: 1280, height: 720, seconds: 10, audio: true})

	names := make([]string, len(tr.ladder))
	for i, r := range tr.ladder {
		names[i] = r.Name
	}
	if strings.Join(names, ",") != "720p,480p,360p" {
		t.Fatalf("ladder = %v; the test expects 720p, 480p, 360p", names)
	}
	if master, err := os.ReadFile(filepath.Join(tr.dir, edustream.MasterPlaylistName)); err == nil {
		t.Logf("master:\n%s", master)
	}
	checkMaster(t, tr, "30.000")
	var segments [][]segment
	for _, r := range tr.ladder {
		pl := checkRendition(t, bins, tr, r, DefaultSegmentSeconds)
		segments = append(segments, pl.segments)
		// With the default settings the rate cap holds the peaks under
		// the ladder's BANDWIDTH, so the master says exactly that.
		if peak := pl.peakBitrate(); peak > r.Bitrate {
			t.Errorf("%s: peak segment %d b/s above the ladder's %d", r.Name, peak, r.Bitrate)
		}
	}
	// Aligned renditions cut at the same instants.
	for i := range segments[1:] {
		a, b := segments[0], segments[i+1]
		if len(a) != len(b) {
			t.Fatalf("%s has %d segments, %s %d", tr.ladder[0].Name, len(a), tr.ladder[i+1].Name, len(b))
		}
		for j := range a {
			if a[j].duration != b[j].duration {
				t.Errorf("segment %d: %.3fs in %s, %.3fs in %s", j, a[j].duration, tr.ladder[0].Name, b[j].duration, tr.ladder[i+1].Name)
			}
		}
	}

	if len(tr.progress) < 2 {
		t.Fatalf("progress called %d times", len(tr.progress))
	}
	last := tr.progress[len(tr.progress)-1]
	if last.Fraction < 0.97 || last.ETA != 0 {
		t.Errorf("last progress = %+v, want the whole source and no time left", last)
	}
	sawSpeed := false
	for i, p := range tr.progress {
		if i > 0 && p.Fraction < tr.progress[i-1].Fraction {
			t.Errorf("progress went back: %v then %v", tr.progress[i-1].Fraction, p.Fraction)
		}
		if p.Fraction < 0 || p.Fraction > 1 || p.ETA < 0 {
			t.Errorf("progress out of range: %+v", p)
		}
		sawSpeed = sawSpeed || p.Speed > 0
	}
	if !sawSpeed {
		t.Error("progress never reported a speed")
	}
}

func TestTranscodeRotated(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	tr := transcodeClip(t, tools, bins, clip{width: 640, height: 360, seconds: 5, audio: true, rotate: 90})
	if tr.info.Width != 360 || tr.info.Height != 640 {
		t.Fatalf("probed %dx%d, want 360x640", tr.info.Width, tr.info.Height)
	}
	// Upright, and keyed on the short side: one 360p rung, 360x640.
	if got := fmt.Sprint(renditionSizes(tr.ladder)); got != "[360p 360x640]" {
		t.Errorf("ladder = %s, want [360p 360x640]", got)
	}
	for _, r := range tr.ladder {
		if r.Width >= r.Height {
			t.Errorf("%s: %dx%d is not portrait", r.Name, r.Width, r.Height)
		}
		checkRendition(t, bins, tr, r, DefaultSegmentSeconds)
	}
	checkMaster(t, tr, "30.000")
}

// TestTranscodePortrait transcodes a source shot upright (stored upright,
// not rotated by metadata): it gets the rungs a landscape source of the
// same size gets, turned.
func TestTranscodePortrait(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	tr := transcodeClip(t, tools, bins, clip{width: 480, height: 854, seconds: 3, audio: true})
	if got := fmt.Sprint(renditionSizes(tr.ladder)); got != "[480p 480x854 360p 360x640]" {
		t.Fatalf("ladder = %s, want [480p 480x854 360p 360x640]", got)
	}
	for _, r := range tr.ladder {
		checkRendition(t, bins, tr, r, DefaultSegmentSeconds)
	}
	checkMaster(t, tr, "30.000")
}

// renditionSizes lists each rendition's name and picture size.
func renditionSizes(ladder []edustream.Rendition) []string {
	var out []string
	for _, r := range ladder {
		out = append(out, r.Name, fmt.Sprintf("%dx%d", r.Width, r.Height))
	}
	return out
}

func TestTranscodeSilent(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	tr := transcodeClip(t, tools, bins, clip{width: 640, height: 360, seconds: 5, fps: 25})
	if len(tr.ladder) != 1 || tr.ladder[0].Codecs != "avc1.64001e" {
		t.Fatalf("ladder = %+v, want one 360p rendition without audio", tr.ladder)
	}
	checkRendition(t, bins, tr, tr.ladder[0], DefaultSegmentSeconds)
	checkMaster(t, tr, "25.000")
}

// TestTranscodeHighFrameRate checks that 60 fps becomes 30, the rate the
// ladder's levels are for, and that segment length follows the config.
func TestTranscodeHighFrameRate(t *testing.T) {
	t.Parallel()
	_, bins := newTools(t)
	tools := New(Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe, SegmentSeconds: 2, Preset: "superfast"})
	tr := transcodeClip(t, tools, bins, clip{width: 480, height: 270, seconds: 5, fps: 60})
	checkMaster(t, tr, "30.000")
	pl := checkRendition(t, bins, tr, tr.ladder[0], 2)
	if len(pl.segments) != 3 {
		t.Errorf("%d segments of 2s for 5s, want 3", len(pl.segments))
	}
	out := probeJSON(t, bins, filepath.Join(tr.dir, tr.ladder[0].Name, "index.m3u8"), "-select_streams", "v:0", "-show_entries", "stream=avg_frame_rate")
	if rate := out["streams"].([]any)[0].(map[string]any)["avg_frame_rate"]; rate != "30/1" {
		t.Errorf("frame rate %v, want 30/1", rate)
	}
}

func TestTranscodeAnamorphic(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	tr := transcodeClip(t, tools, bins, clip{width: 480, height: 360, seconds: 3, sar: "4/3"})
	r := tr.ladder[0]
	if r.Width != 640 || r.Height != 360 {
		t.Fatalf("ladder %dx%d, want 640x360", r.Width, r.Height)
	}
	checkRendition(t, bins, tr, r, DefaultSegmentSeconds)
	out := probeJSON(t, bins, filepath.Join(tr.dir, r.Name, "index.m3u8"), "-select_streams", "v:0", "-show_entries", "stream=sample_aspect_ratio")
	if sar := out["streams"].([]any)[0].(map[string]any)["sample_aspect_ratio"]; sar != "1:1" {
		t.Errorf("output SAR %v, want square pixels", sar)
	}
}

// TestTranscodeRerun checks that a retry replaces what an earlier attempt
// left, including segments the new run does not make.
func TestTranscodeRerun(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	src := makeClip(t, bins, clip{width: 320, height: 240, seconds: 3})
	info, err := tools.Probe(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	// A % in the directory must not be taken for a segment number.
	dir := filepath.Join(t.TempDir(), "job %d 100%")
	ladder := edustream.Ladder(info)
	stale := filepath.Join(dir, ladder[0].Name, "seg_00099.ts")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(stale), filepath.Base(stale), []byte("old"))
	for range 2 {
		if err := tools.Transcode(context.Background(), src, info, ladder, dir, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale segment survived: %v", err)
	}
	if got := len(readMaster(t, dir)); got != len(ladder) {
		t.Errorf("master lists %d variants after a rerun, want %d", got, len(ladder))
	}
	if _, err := readMediaPlaylist(filepath.Join(dir, ladder[0].Name)); err != nil {
		t.Errorf("segments are not where the playlist says: %v", err)
	}
}

// TestTranscodeBrokenSource covers sources that get past (or around) the
// probe and fail in ffmpeg: the error is EINVALID with how far it got and
// a reason without paths.
func TestTranscodeBrokenSource(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	dir := t.TempDir()
	whole := makeClip(t, bins, clip{width: 320, height: 240, seconds: 6, audio: true, faststart: true})
	info, err := tools.Probe(context.Background(), whole)
	if err != nil {
		t.Fatal(err)
	}
	silent := makeClip(t, bins, clip{width: 320, height: 240, seconds: 2})

	tests := []struct {
		name string
		src  string
		info *edustream.MediaInfo
		want *regexp.Regexp
	}{
		{
			// The index survived, the media did not: the probe refuses
			// this, so here the caller skipped it.
			name: "cut short",
			src:  truncated(t, whole, 0.5, dir, "cut.mp4"),
			info: info,
			want: regexp.MustCompile(`^(the file is damaged or truncated: ffmpeg could read only \ds of its 6s|ffmpeg failed at [1-9]\d %: .+)$`),
		},
		{
			name: "sound promised, none there",
			src:  silent,
			info: &edustream.MediaInfo{DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"},
			want: regexp.MustCompile(`^ffmpeg failed at 0 %: Stream map '0:a:0' matches no streams\.`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			err := tools.Transcode(context.Background(), tt.src, tt.info, edustream.Ladder(tt.info), out, nil)
			if code := edustream.ErrorCode(err); code != edustream.EINVALID {
				t.Fatalf("code %q (%v), want EINVALID", code, err)
			}
			msg := edustream.ErrorMessage(err)
			t.Logf("message: %s", msg)
			if !tt.want.MatchString(msg) {
				t.Errorf("message %q, want %v", msg, tt.want)
			}
			if strings.Contains(msg, dir) || strings.Contains(msg, out) || strings.Contains(msg, "0x") {
				t.Errorf("message leaks paths or addresses: %q", msg)
			}
			if _, err := os.Stat(filepath.Join(out, edustream.MasterPlaylistName)); !os.IsNotExist(err) {
				t.Errorf("a failed transcode left a master playlist (%v)", err)
			}
		})
	}
}

func TestMissingSource(t *testing.T) {
	t.Parallel()
	tools, _ := newTools(t)
	info := &edustream.MediaInfo{DurationSeconds: 2, Width: 320, Height: 240, FrameRate: 30}
	missing := filepath.Join(t.TempDir(), "gone.mp4")
	for name, err := range map[string]error{
		"Transcode":  tools.Transcode(context.Background(), missing, info, edustream.Ladder(info), t.TempDir(), nil),
		"Thumbnails": tools.Thumbnails(context.Background(), missing, info, t.TempDir()),
	} {
		if !errors.Is(err, os.ErrNotExist) || edustream.ErrorCode(err) != edustream.EINTERNAL {
			t.Errorf("%s of a missing file = %v, want a retryable not-exist error", name, err)
		}
	}
}

func TestTranscodeRefusesBadLadders(t *testing.T) {
	t.Parallel()
	tools := New(Config{FFmpegPath: "/bin/true", FFprobePath: "/bin/true"})
	info := &edustream.MediaInfo{DurationSeconds: 2, Width: 640, Height: 360}
	good := edustream.Ladder(info)[0]
	// The source exists, so only the ladder can be what is refused.
	src := writeFile(t, t.TempDir(), "in.mp4", []byte("x"))
	for name, tt := range map[string]struct {
		ladder []edustream.Rendition
		want   string
	}{
		"empty":           {nil, "empty ladder"},
		"escaping name":   {[]edustream.Rendition{{Name: "../x", Width: 640, Height: 360, VideoBitrate: 1}}, "bad rendition name"},
		"pattern name":    {[]edustream.Rendition{{Name: "a%d", Width: 640, Height: 360, VideoBitrate: 1}}, "bad rendition name"},
		"odd size":        {[]edustream.Rendition{{Name: "x", Width: 641, Height: 360, VideoBitrate: 1}}, "bad size"},
		"no bitrate":      {[]edustream.Rendition{{Name: "x", Width: 640, Height: 360}}, "no video bitrate"},
		"duplicate name":  {[]edustream.Rendition{good, good}, "bad rendition name"},
		"playlist line":   {[]edustream.Rendition{{Name: "x\n#EXT-X-ENDLIST", Width: 640, Height: 360, VideoBitrate: 1}}, "bad rendition name"},
		"hidden name":     {[]edustream.Rendition{{Name: ".x", Width: 640, Height: 360, VideoBitrate: 1}}, "bad rendition name"},
		"quote in codecs": {[]edustream.Rendition{{Name: "x", Width: 640, Height: 360, VideoBitrate: 1, Codecs: `avc1",X="y`}}, "bad CODECS"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			err := tools.Transcode(context.Background(), src, info, tt.ladder, dir, nil)
			if edustream.ErrorCode(err) != edustream.EINTERNAL || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Transcode = %v, want an internal error saying %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("wrote %v", entries)
			}
		})
	}
}

func TestProgressReader(t *testing.T) {
	t.Parallel()
	var got []edustream.TranscodeProgress
	pr := &progressReader{duration: 100, fn: func(p edustream.TranscodeProgress) { got = append(got, p) }}
	w := &lineWriter{fn: pr.line}
	w.Write([]byte("frame=0\nout_time_us=N/A\nspeed=N/A\nprogress=continue\n"))
	w.Write([]byte("frame=300\nout_time_us=25000000\nspeed=2.5x\nprogress=continue\n"))
	w.Write([]byte("out_time_us=100100000\nspeed= 3x\nprogress=end\n"))
	want := []edustream.TranscodeProgress{
		{},
		{Fraction: 0.25, Speed: 2.5, ETA: 30 * time.Second},
		{Fraction: 1, Speed: 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("progress = %+v, want %+v", got, want)
	}
	if pr.percent() != 100 {
		t.Errorf("percent = %d", pr.percent())
	}
}
