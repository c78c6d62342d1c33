//go:build unix

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// The stream's npm project that brings hls.js is the server's browser
// tests' (see testenv.HLSJS).
const hlsjsDir = "../../server/testdata/hlsjs"

// captionsVTT has a cue in the first 4-second segment and one in the
// second, whose times the player must keep.
const captionsVTT = `WEBVTT

00:00:01.000 --> 00:00:03.000
Welcome to the lecture.

00:00:05.500 --> 00:00:07.500
Binary search halves the interval.
`

// An instructor captions a transcoded clip through the API; ffprobe reads
// the subtitle stream through the signed master playlist, and hls.js in
// headless Chromium shows each cue at its time.
func TestCaptionsPlayInBrowser(t *testing.T) {
	t.Parallel()
	bins := testenv.FFmpeg(t)
	browser := testenv.Chromium(t)
	player := testenv.HLSJS(t, hlsjsDir)
	clip := sharedClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 10, Audio: true})
	env, _ := backendEnv(t)
	in := start(t, env, "serve")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lectureID := in.publishedLecture(t, ada)
	in.uploadClip(t, ada, lectureID, clip)

	video := `query($l: ID!) { lecture(id: $l) { video { status playbackUrl captions { id language label status url } } } }`
	var got struct {
		Lecture struct {
			Video struct {
				Status      string
				PlaybackURL *string
				Captions    []struct{ ID, Language, Label, Status, URL string }
			}
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for decode(t, in.graphql(t, ada, video, map[string]any{"l": lectureID}).ok(t), &got); got.Lecture.Video.Status != "READY"; {
		if time.Now().After(deadline) || got.Lecture.Video.Status == "FAILED" {
			t.Fatalf("the video is %s, want READY\n%s", got.Lecture.Video.Status, in.out)
		}
		time.Sleep(200 * time.Millisecond)
		decode(t, in.graphql(t, ada, video, map[string]any{"l": lectureID}).ok(t), &got)
	}

	var added struct {
		AddCaption struct{ ID, Language, Status, URL string }
	}
	decode(t, in.graphql(t, ada, `mutation($in: AddCaptionInput!) { addCaption(input: $in) { id language status url } }`,
		map[string]any{"in": map[string]any{"lectureId": lectureID, "language": "en", "content": captionsVTT}}).ok(t), &added)
	if added.AddCaption.Status != "READY" || !strings.Contains(httpGet(t, added.AddCaption.URL), "Binary search halves the interval.") {
		t.Fatalf("addCaption = %+v", added.AddCaption)
	}
	decode(t, in.graphql(t, ada, video, map[string]any{"l": lectureID}).ok(t), &got)
	if c := got.Lecture.Video.Captions; len(c) != 1 || c[0].ID != added.AddCaption.ID || c[0].Label != "English" {
		t.Fatalf("Video.captions = %+v", c)
	}
	master := *got.Lecture.Video.PlaybackURL

	t.Run("ffprobe", func(t *testing.T) {
		// ffmpeg 5.1's HLS demuxer reads subtitle renditions only when
		// told that experimental support will do.
		out, err := exec.Command(bins.FFprobe, "-v", "error", "-strict", "experimental", "-show_entries", "stream=codec_type,codec_name:stream_tags=language",
			"-of", "json", master).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", master, err)
		}
		if !strings.Contains(string(out), `"codec_name": "webvtt"`) || !strings.Contains(string(out), `"codec_type": "subtitle"`) {
			t.Errorf("ffprobe sees no WebVTT stream through the served master:\n%s", out)
		}
	})

	t.Run("hls.js", func(t *testing.T) {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		mux.HandleFunc("GET /test/player.html", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, "testdata/captions_player.html") })
		mux.HandleFunc("GET /test/hls.min.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, player) })
		reports := testenv.PageReports(mux, "/test/report")
		chromium := testenv.RunChromium(t, browser, srv.URL+"/test/player.html?until=8&src="+url.QueryEscape(master))
		var report struct {
			Error  string
			Tracks []string
			Seen   []struct {
				Text, Language string
				At, Start, End float64
			}
		}
		select {
		case b := <-reports:
			if err := json.Unmarshal(b, &report); err != nil {
				t.Fatalf("report %q: %v", b, err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("the page reported nothing in 2 minutes; chromium said:\n%.4000s", chromium.String())
		}
		t.Logf("cues seen: %+v", report.Seen)
		if report.Error != "" || len(report.Tracks) != 1 || report.Tracks[0] != "en" {
			t.Fatalf("the page: error %q, subtitle tracks %v", report.Error, report.Tracks)
		}
		for _, want := range []struct {
			text       string
			start, end float64
		}{{"Welcome to the lecture.", 1, 3}, {"Binary search halves the interval.", 5.5, 7.5}} {
			var shown bool
			for _, s := range report.Seen {
				// A cue keeps to the picture: the element's time 0 is the
				// stream's earliest sample (audio), and the first frame
				// comes up to 2 frames later (x264's B-frame delay, 80 ms
				// at 25 fps), as do the cues. The playhead is reported at
				// timeupdate's pace (4 Hz).
				if s.Text == want.text {
					shown = true
					if s.Start < want.start || s.Start > want.start+0.1 || s.At < want.start-0.3 || s.At > want.end+0.3 {
						t.Errorf("%q shown at %.2f s as a cue of %.2f–%.2f s; want %.1f–%.1f s", s.Text, s.At, s.Start, s.End, want.start, want.end)
					}
				}
			}
			if !shown {
				t.Errorf("%q was never an active cue", want.text)
			}
		}
	})
}
