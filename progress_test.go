package edustream_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

// The rules of a beat on a store (merging, completion, plausibility,
// replays, re-uploads, access) run in storage/storetest on every store;
// these are the pure parts.

func runs(pairs ...int32) edustream.WatchedSeconds {
	var w edustream.WatchedSeconds
	for i := 0; i+1 < len(pairs); i += 2 {
		w = append(w, edustream.SecondRun{Start: pairs[i], End: pairs[i+1]})
	}
	return w
}

func TestWatchedSecondsAdd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		have       edustream.WatchedSeconds
		start, end float64
		want       edustream.WatchedSeconds
	}{
		{"into nothing", nil, 0, 10, runs(0, 10)},
		{"empty interval", runs(0, 10), 5, 5, runs(0, 10)},
		{"a fraction of a second", nil, 10.2, 10.4, nil},
		{"rounded to the nearest second", nil, 9.6, 20.4, runs(10, 20)},
		{"touching joins", runs(0, 10), 10, 20, runs(0, 20)},
		{"a gap under half a second joins", runs(0, 10), 10.3, 20, runs(0, 20)},
		{"inside", runs(0, 30), 5, 25, runs(0, 30)},
		{"before", runs(20, 30), 0, 10, runs(0, 10, 20, 30)},
		{"after", runs(0, 10), 20, 30, runs(0, 10, 20, 30)},
		{"bridges two", runs(0, 10, 20, 30, 40, 50), 5, 25, runs(0, 30, 40, 50)},
		{"covers all", runs(10, 20, 30, 40), 0, 100, runs(0, 100)},
		{"clipped at zero", nil, -5, 5, runs(0, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := append(edustream.WatchedSeconds(nil), tt.have...)
			got := tt.have.Add(tt.start, tt.end)
			if !got.Equal(tt.want) {
				t.Errorf("Add(%v, %v) = %v, want %v", tt.start, tt.end, got, tt.want)
			}
			if !tt.have.Equal(before) {
				t.Errorf("Add modified its receiver: %v, was %v", tt.have, before)
			}
			if got.Seconds() != tt.want.Seconds() {
				t.Errorf("Seconds = %d, want %d", got.Seconds(), tt.want.Seconds())
			}
		})
	}
}

func TestWatchedSecondsEncoding(t *testing.T) {
	t.Parallel()
	for _, w := range []edustream.WatchedSeconds{nil, runs(0, 1), runs(0, 3600), runs(5, 6, 100, 7000, 7001, 14400)} {
		b, err := w.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got edustream.WatchedSeconds
		if err := got.UnmarshalBinary(b); err != nil || !got.Equal(w) {
			t.Errorf("round trip of %v: %v, %v", w, got, err)
		}
	}
	if b, _ := runs(0, 3600).MarshalBinary(); len(b) > 4 {
		t.Errorf("a lecture watched through takes %d bytes, want at most 4", len(b))
	}
	for name, b := range map[string][]byte{
		"truncated":       {0},
		"empty run":       {0, 0},
		"adjacent runs":   {0, 5, 0, 5},
		"past any video":  {0x80, 0x80, 0x80, 0x80, 0x01, 1},
		"bad varint":      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"runs overflowed": {1, 0x80, 0xc6, 0x0a},
	} {
		var w edustream.WatchedSeconds
		if err := w.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: decoded %v, want an error", name, w)
		}
	}
}

func TestCarryOver(t *testing.T) {
	t.Parallel()
	done := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	old := &edustream.LectureProgress{VideoID: 1, VideoDuration: 100, Watched: runs(0, 50, 90, 100), WatchedSeconds: 60,
		PositionSeconds: 99, CompletedAt: &done, RecentBeats: [4]uint64{7}}
	video := func(id int64, duration float64) *edustream.Video {
		return &edustream.Video{ID: id, Media: &edustream.MediaInfo{DurationSeconds: duration}}
	}
	tests := []struct {
		name               string
		to                 *edustream.Video
		watched, position  float64
		keepsWatchedSecond bool
	}{
		{"the same video", video(1, 100), 60, 99, true},
		{"re-encoded", video(2, 100.5), 60, 99, true},
		{"a second shorter", video(2, 98.5), 60, 98.5, true},
		{"much shorter", video(2, 50), 0, 0, false},
		{"much longer", video(2, 400), 0, 0, false},
		{"no duration", &edustream.Video{ID: 2}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := edustream.CarryOver(old, tt.to)
			if got.VideoID != tt.to.ID || got.WatchedSeconds != tt.watched || got.PositionSeconds != tt.position || !got.Completed() {
				t.Errorf("carried over: %+v", got)
			}
			if kept := len(got.Watched) > 0; kept != tt.keepsWatchedSecond {
				t.Errorf("watched %v", got.Watched)
			}
			if tt.to.ID != old.VideoID && got.RecentBeats != ([4]uint64{}) {
				t.Errorf("the old video's beats are remembered: %v", got.RecentBeats)
			}
		})
	}
	if old.VideoID != 1 || old.WatchedSeconds != 60 {
		t.Errorf("CarryOver modified its argument: %+v", old)
	}
}

func TestAnalyzeLecture(t *testing.T) {
	t.Parallel()
	done := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &edustream.Video{ID: 1, Media: &edustream.MediaInfo{DurationSeconds: 100}}
	learners := []*edustream.LectureProgress{
		// Watched it all.
		{VideoID: 1, VideoDuration: 100, Watched: runs(0, 100), WatchedSeconds: 100, PlayedSeconds: 130, CompletedAt: &done},
		// Dropped off at half time.
		{VideoID: 1, VideoDuration: 100, Watched: runs(0, 50), WatchedSeconds: 50, PlayedSeconds: 50},
		// Skipped to the second quarter, on an earlier take of the same
		// recording.
		{VideoID: 0, VideoDuration: 101, Watched: runs(25, 50), WatchedSeconds: 25, PlayedSeconds: 25},
		// Watched a different take: nothing of this one.
		{VideoID: 0, VideoDuration: 20, Watched: runs(0, 20), WatchedSeconds: 20, PlayedSeconds: 20, CompletedAt: &done},
	}
	a := edustream.AnalyzeLecture(learners, v)
	if a.Viewers != 4 || a.Completions != 2 || a.CompletionRate() != 0.5 || a.WatchTimeSeconds != 225 ||
		math.Abs(a.AverageWatchedFraction-(1+0.5+0.25+0)/4) > 1e-9 {
		t.Errorf("analytics = %+v, completion rate %v", a, a.CompletionRate())
	}
	got, err := a.Retention(4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.5, 0.75, 0.25, 0.25}; !cmp.Equal(got, want) {
		t.Errorf("Retention(4) = %v, want %v", got, want)
	}
	// Slices narrower than a second read the second they fall in.
	fine, err := a.Retention(1000)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if err != nil || len(fine) != 1000 || !near(fine[0], 0.5) || !near(fine[2], 0.5) || !near(fine[999], 0.25) {
		t.Errorf("Retention(1000) = %v…, %v", fine[:3], err)
	}
	for _, n := range []int{0, -1, edustream.MaxRetentionBuckets + 1} {
		if _, err := a.Retention(n); edustream.ErrorCode(err) != edustream.EINVALID {
			t.Errorf("Retention(%d): %v, want EINVALID", n, err)
		}
	}
	empty := edustream.AnalyzeLecture(nil, nil)
	if r, err := empty.Retention(3); err != nil || !cmp.Equal(r, []float64{0, 0, 0}) || empty.CompletionRate() != 0 {
		t.Errorf("no viewers: %+v, %v, %v", empty, r, err)
	}
}
