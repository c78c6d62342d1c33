package edustream_test

import (
	"math"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

func TestH264Level(t *testing.T) {
	for codecs, want := range map[string]string{
		"avc1.640028,mp4a.40.2": "4.0",
		"avc1.64001f":           "3.1",
		"mp4a.40.2,avc1.64001e": "3.0",
		"hvc1.1.6.L93.B0":       "",
		"":                      "",
	} {
		if got := (edustream.Rendition{Codecs: codecs}.H264Level()); got != want {
			t.Errorf("H264Level of %q = %q, want %q", codecs, got, want)
		}
	}
}

func TestOutputFrameRate(t *testing.T) {
	for in, want := range map[float64]float64{0: 0, 24: 24, 29.97: 29.97, 30: 30, 50: 25, 59.94: 29.97, 60: 30, 120: 30, 240: 30} {
		if got := edustream.OutputFrameRate(in); math.Abs(got-want) > 1e-9 {
			t.Errorf("OutputFrameRate(%v) = %v, want %v", in, got, want)
		}
	}
}

// Setting one limit leaves the others at their defaults, rather than
// refusing every upload or lifting a limit.
func TestVideoLimitsWithDefaults(t *testing.T) {
	lim := edustream.VideoLimits{MaxDuration: time.Minute}.WithDefaults()
	want := edustream.DefaultVideoLimits()
	want.MaxDuration = time.Minute
	if lim != want {
		t.Errorf("WithDefaults = %+v, want %+v", lim, want)
	}
	if err := lim.ValidateUpload("talk.mp4", "video/mp4", 1<<20); err != nil {
		t.Errorf("a 1 MiB upload: %v", err)
	}
	huge := &edustream.MediaInfo{DurationSeconds: 30, Width: 8192, Height: 8192}
	if err := lim.CheckMedia(huge); edustream.ErrorCode(err) != edustream.EINVALID {
		t.Errorf("an 8192x8192 source: %v, want the default size limit", err)
	}
}
