package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captionfiles"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/local"
)

// captionedStream is /play/ and /blobs/ on one test server, with a real
// 10-second stream of a video and the captions service that adds tracks
// to it.
type captionedStream struct {
	url      string
	playback *server.Playback
	captions *edustream.Captions
	video    *edustream.Video
}

func setupCaptionedStream(t *testing.T) *captionedStream {
	t.Helper()
	ctx := context.Background()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: srv.URL, SigningKey: bytes.Repeat([]byte("b"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	store := edustreamtest.NewStore(nil)
	course := &edustream.Course{InstructorID: 1, Title: "Course"}
	if err := store.CreateCourse(ctx, course); err != nil {
		t.Fatal(err)
	}
	lecture := &edustream.Lecture{CourseID: course.ID, Title: "Lecture"}
	if err := store.CreateLecture(ctx, lecture); err != nil {
		t.Fatal(err)
	}
	s := &captionedStream{url: srv.URL, video: &edustream.Video{LectureID: lecture.ID, UploaderID: 1, FileName: "a.mp4", ContentType: "video/mp4", SizeBytes: 1}}
	if err := store.CreateVideo(ctx, s.video); err != nil {
		t.Fatal(err)
	}
	s.video.Status, s.video.Media = edustream.VideoReady, &edustream.MediaInfo{DurationSeconds: 10}
	for name, data := range testenv.HLSStream(t) {
		if err := blobs.Put(ctx, s.video.HLSPrefix()+name, bytes.NewReader(data), int64(len(data)), edustream.BlobMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	s.playback, err = server.NewPlayback(server.PlaybackConfig{BaseURL: srv.URL, Key: bytes.Repeat([]byte("p"), 32), TTL: time.Hour,
		Blobs: blobs, Captions: store})
	if err != nil {
		t.Fatal(err)
	}
	s.captions = &edustream.Captions{Store: store, Videos: store, Lectures: store, Courses: store, Blobs: blobs, Format: &captionfiles.Format{Blobs: blobs}}
	mux.Handle("/play/", s.playback)
	mux.Handle(local.RoutePrefix, blobs.Handler())
	return s
}

const spokenVTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nFirst words.\n\n00:00:07.500 --> 00:00:09.000\nA cue in the second segment.\n"

// The master playlist is served with the SUBTITLES group of the video's
// READY tracks, each a signed playlist whose WebVTT segments carry the
// timestamp map; without tracks it is served as stored.
func TestPlaybackServesCaptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setupCaptionedStream(t)
	masterURL, err := s.playback.PlaybackURL(ctx, s.video)
	if err != nil {
		t.Fatal(err)
	}
	_, plain, _ := get(t, masterURL)
	if strings.Contains(plain, "SUBTITLES") {
		t.Errorf("master without tracks:\n%s", plain)
	}

	en, err := s.captions.PutAutomaticCaption(ctx, s.video, "en", []byte(spokenVTT))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.captions.RecordAutomaticCaptionFailure(ctx, s.video, "de", "no German model"); err != nil {
		t.Fatal(err)
	}
	status, master, _ := get(t, masterURL)
	if status != http.StatusOK || strings.Count(master, "TYPE=SUBTITLES") != 1 || !strings.Contains(master, `LANGUAGE="en"`) ||
		!strings.Contains(master, `SUBTITLES="subs"`) || strings.Contains(master, `LANGUAGE="de"`) {
		t.Fatalf("master (%d):\n%s", status, master)
	}
	uri := strings.Split(strings.Split(master, `URI="`)[1], `"`)[0]
	if !strings.HasPrefix(uri, s.url+"/play/") || !strings.Contains(uri, "/captions/") || !strings.Contains(uri, "sig=") {
		t.Fatalf("subtitle playlist URI %q, want a signed /play/ URL", uri)
	}
	status, playlist, h := get(t, uri)
	if status != http.StatusOK || h.Get("Content-Type") != "application/vnd.apple.mpegurl" || len(uris(playlist)) != 3 {
		t.Fatalf("subtitle playlist (%d, %s):\n%s", status, h.Get("Content-Type"), playlist)
	}
	segments := uris(playlist)
	if !strings.HasPrefix(segments[1], s.url+local.RoutePrefix) {
		t.Errorf("segment URI %q, want a presigned blob URL", segments[1])
	}
	_, second, _ := get(t, segments[1])
	if !strings.Contains(second, "X-TIMESTAMP-MAP=MPEGTS:") || !strings.Contains(second, "A cue in the second segment.") {
		t.Errorf("second segment:\n%s", second)
	}

	t.Run("the whole track", func(t *testing.T) {
		trackURL, err := s.playback.CaptionURL(ctx, s.video, en)
		if err != nil {
			t.Fatal(err)
		}
		status, body, h := get(t, trackURL)
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/vtt") || !strings.Contains(body, "\nFirst words.\n") {
			t.Errorf("track (%d, %s):\n%s", status, h.Get("Content-Type"), body)
		}
		if status, _, _ := get(t, strings.Replace(trackURL, "sig=", "sig=00", 1)); status != http.StatusForbidden {
			t.Errorf("a bad signature: %d", status)
		}
		for _, name := range []string{"captions/../hls/master.m3u8", "captions/1-v1/../../source", "captions/1-v1/seg_00000.vtt", "captions/x-v1/index.m3u8"} {
			if status, _, _ := get(t, strings.Replace(trackURL, en.StreamDir()+edustream.CaptionFileName, name, 1)); status != http.StatusNotFound {
				t.Errorf("/play/ of %s: %d, want 404", name, status)
			}
		}
	})

	t.Run("ffprobe", func(t *testing.T) {
		bins := testenv.FFmpeg(t)
		// ffmpeg 5.1's HLS demuxer reads subtitle renditions only when
		// told that experimental support will do.
		out, err := exec.Command(bins.FFprobe, "-v", "error", "-strict", "experimental", "-show_streams", "-of", "json", masterURL).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", masterURL, err)
		}
		var probe struct {
			Streams []struct {
				CodecType string            `json:"codec_type"`
				CodecName string            `json:"codec_name"`
				Tags      map[string]string `json:"tags"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(out, &probe); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, st := range probe.Streams {
			found = found || (st.CodecType == "subtitle" && st.CodecName == "webvtt")
		}
		if !found {
			t.Errorf("ffprobe sees no WebVTT stream in the served master: %s", out)
		}
	})

	t.Run("removed", func(t *testing.T) {
		if _, err := s.captions.Store.DeleteCaption(ctx, en.ID); err != nil {
			t.Fatal(err)
		}
		if _, master, _ := get(t, masterURL); strings.Contains(master, "SUBTITLES") {
			t.Errorf("master after the removal:\n%s", master)
		}
	})
}
