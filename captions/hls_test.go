package captions_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captions"
	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/internal/testenv"
)

// TestSubtitlesPlayInFFmpeg checks the timing end to end on a clip our
// transcoder made: its captions are segmented against the rendition's real
// timeline and added to its master playlist. The X-TIMESTAMP-MAP must map
// cue time 0 to the PTS of the video's first frame as ffprobe reads it, so
// a player (RFC 8216 §3.5) shows a cue at 7.5 s with the picture of 7.5 s;
// ffprobe must list the WebVTT stream in the master; and the cues ffmpeg
// reads back from the stream must be at their own times, not shifted.
//
// ffmpeg 5.1's HLS demuxer reads subtitle renditions only with -strict
// experimental, and ignores X-TIMESTAMP-MAP: it takes cue times as
// timestamps, so -copyts keeps them as they are in the segments. (hls.js,
// Safari and the RFC do apply the map; a browser test with hls.js plays
// them through the API.)
func TestSubtitlesPlayInFFmpeg(t *testing.T) {
	bins := testenv.FFmpeg(t)
	src := testenv.MakeClip(t, testenv.Clip{Width: 320, Height: 240, Seconds: 12, Audio: true})
	tools := ffmpeg.New(ffmpeg.Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe, SegmentSeconds: 4})
	ctx := context.Background()
	info, err := tools.Probe(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	hls := stream{t: t, dir: t.TempDir()}
	ladder := edustream.Ladder(info)
	if err := tools.Transcode(ctx, src, info, ladder, hls.dir, nil); err != nil {
		t.Fatal(err)
	}

	variant := ladder[0].Name + "/"
	media, err := captions.ReadMediaTimeline(hls.read(variant+"index.m3u8"), hls.read(variant+"seg_00000.ts"))
	if err != nil {
		t.Fatal(err)
	}
	if want := probeStartPTS(t, bins, hls.path(variant+"seg_00000.ts")); media.FirstPTS != want {
		t.Errorf("FirstPTS = %d, ffprobe says the video starts at %d", media.FirstPTS, want)
	}
	if len(media.SegmentDurations) != 3 || media.TargetDuration != 4 {
		t.Errorf("timeline = %+v, want three segments of 4 s", media)
	}

	tr := mustParse(t, "WEBVTT\n\n00:01.000 --> 00:02.000\none\n\n00:03.500 --> 00:04.500\nacross\n\n00:07.500 --> 00:07.900\nseven and a half\n\n00:10.000 --> 00:11.500\nten\n")
	playlist, files, err := captions.Segment(tr, media)
	if err != nil {
		t.Fatal(err)
	}
	const subs = "captions/en/"
	hls.write(subs+captions.SubtitlePlaylistName, playlist)
	for _, f := range files {
		hls.write(subs+f.Name, f.Data)
	}
	withSubs, err := captions.AddSubtitles(hls.read(edustream.MasterPlaylistName), []captions.SubtitleRendition{
		{Language: "en", Name: "English", Default: true, URI: subs + captions.SubtitlePlaylistName},
	})
	if err != nil {
		t.Fatal(err)
	}
	hls.write(edustream.MasterPlaylistName, withSubs)
	masterPath := hls.path(edustream.MasterPlaylistName)

	out, err := exec.Command(bins.FFprobe, "-v", "error", "-strict", "experimental", "-show_streams", "-of", "json", masterPath).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var probed struct {
		Streams []struct {
			CodecType string            `json:"codec_type"`
			CodecName string            `json:"codec_name"`
			Tags      map[string]string `json:"tags"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &probed); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range probed.Streams {
		found = found || (s.CodecType == "subtitle" && s.CodecName == "webvtt" && s.Tags["language"] == "en")
	}
	if !found {
		t.Fatalf("ffprobe lists no English WebVTT stream in the master:\n%s", out)
	}

	extracted := hls.path("out.vtt")
	if out, err := exec.Command(bins.FFmpeg, "-v", "error", "-nostdin", "-strict", "experimental", "-copyts", "-i", masterPath, "-map", "0:s:0", "-c:s", "webvtt", extracted).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg extracting the captions: %v\n%s", err, out)
	}
	back, err := captions.Parse(hls.read("out.vtt"), captions.Limits{})
	if err != nil {
		t.Fatalf("the extracted captions: %v\n%s", err, hls.read("out.vtt"))
	}
	got := map[string]time.Duration{}
	for _, c := range back.Cues {
		got[c.PlainText()] = c.Start // a cue in two segments comes back twice, at the same time
	}
	for _, c := range tr.Cues {
		at, ok := got[c.PlainText()]
		if !ok {
			t.Errorf("cue %q did not come back:\n%s", c.PlainText(), hls.read("out.vtt"))
			continue
		}
		if diff := at - c.Start; math.Abs(diff.Seconds()) > 0.1 {
			t.Errorf("cue %q came back at %v, want %v (±0.1 s)", c.PlainText(), at, c.Start)
		}
	}
}

// probeStartPTS is the first video PTS of a segment, as ffprobe reads it.
func probeStartPTS(t *testing.T, bins testenv.FFmpegPaths, path string) int64 {
	t.Helper()
	out, err := exec.Command(bins.FFprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=start_pts", "-of", "default=nw=1:nk=1", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	// The stream is listed under its program too.
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		t.Fatalf("ffprobe found no video in %s", path)
	}
	pts, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		t.Fatalf("ffprobe start_pts %q: %v", out, err)
	}
	return pts
}

// stream is the directory of a transcoded stream, for reading and adding
// files.
type stream struct {
	t   *testing.T
	dir string
}

func (s stream) path(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

func (s stream) read(name string) []byte {
	s.t.Helper()
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

func (s stream) write(name string, data []byte) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Dir(s.path(name)), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.path(name), data, 0o644); err != nil {
		s.t.Fatal(err)
	}
}
