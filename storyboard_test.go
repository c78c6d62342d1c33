package edustream

import (
	"strings"
	"testing"
)

func TestStoryboardFor(t *testing.T) {
	tests := []struct {
		name          string
		duration      float64
		width, height int
		want          Storyboard
	}{
		{"ten minutes 16:9", 600, 1920, 1080, Storyboard{Interval: 6, Count: 100, Cols: 10, Rows: 10, TileWidth: 160, TileHeight: 90}},
		{"half a minute", 30, 1280, 720, Storyboard{Interval: 1, Count: 30, Cols: 10, Rows: 3, TileWidth: 160, TileHeight: 90}},
		{"four hours", 4 * 3600, 1280, 720, Storyboard{Interval: 144, Count: 100, Cols: 10, Rows: 10, TileWidth: 160, TileHeight: 90}},
		{"under a second", 0.4, 640, 480, Storyboard{Interval: 1, Count: 1, Cols: 1, Rows: 1, TileWidth: 160, TileHeight: 120}},
		{"portrait", 5, 720, 1280, Storyboard{Interval: 1, Count: 5, Cols: 5, Rows: 1, TileWidth: 160, TileHeight: 284}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StoryboardFor(tt.duration, tt.width, tt.height); got != tt.want {
				t.Errorf("StoryboardFor(%v, %d, %d) = %+v, want %+v", tt.duration, tt.width, tt.height, got, tt.want)
			}
		})
	}
}

func TestStoryboardVTT(t *testing.T) {
	sb := StoryboardFor(25, 1280, 720).WithCount(12)
	vtt := sb.VTT("storyboard.jpg", 25)
	if !strings.HasPrefix(vtt, "WEBVTT\n") || strings.Count(vtt, "-->") != 12 {
		t.Fatalf("track:\n%s", vtt)
	}
	for _, want := range []string{
		"\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n",
		// Tile 10 starts the second row.
		"\n00:00:10.000 --> 00:00:11.000\nstoryboard.jpg#xywh=0,90,160,90\n",
		// The last cue runs to the end.
		"\n00:00:11.000 --> 00:00:25.000\nstoryboard.jpg#xywh=160,90,160,90\n",
	} {
		if !strings.Contains(vtt, want) {
			t.Errorf("track lacks %q:\n%s", want, vtt)
		}
	}
}

func TestPosterSize(t *testing.T) {
	tests := []struct{ w, h, wantW, wantH int }{
		{1920, 1080, 1280, 720},
		{640, 360, 640, 360},
		{721, 405, 722, 406},
		{1080, 1920, 1080, 1920},
	}
	for _, tt := range tests {
		if w, h := PosterSize(tt.w, tt.h); w != tt.wantW || h != tt.wantH {
			t.Errorf("PosterSize(%d, %d) = %d×%d, want %d×%d", tt.w, tt.h, w, h, tt.wantW, tt.wantH)
		}
	}
}

func TestTranscodeFailureReason(t *testing.T) {
	tests := []struct {
		job  TranscodeJob
		want string
	}{
		{TranscodeJob{ErrorCode: "1040", ErrorMessage: "Is file truncated?"}, "MediaConvert could not transcode the video: Is file truncated? (error 1040)"},
		{TranscodeJob{ErrorCode: "1040"}, "MediaConvert could not transcode the video (error 1040)"},
		{TranscodeJob{ErrorMessage: "gone"}, "MediaConvert could not transcode the video: gone"},
	}
	for _, tt := range tests {
		if got := failureReason("MediaConvert", &tt.job); got != tt.want {
			t.Errorf("failureReason(%+v) = %q, want %q", tt.job, got, tt.want)
		}
	}
	if a, b := TranscodeToken(&Video{ID: 3, Version: 4}), TranscodeToken(&Video{ID: 3, Version: 5}); a == b || a != "edustream-video-3-v4" {
		t.Errorf("tokens %q and %q: want one per video version", a, b)
	}
}
