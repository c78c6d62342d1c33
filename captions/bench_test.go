package captions_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/captions"
)

// threeHourLecture is a densely captioned three-hour lecture: a cue every
// two seconds, two lines each, with some markup.
func threeHourLecture() []byte {
	var b strings.Builder
	b.WriteString("WEBVTT\n\n")
	for i := range 5400 {
		start := time.Duration(i) * 2 * time.Second
		fmt.Fprintf(&b, "%d\n%s --> %s align:center\n<v Lecturer>So the <i>invariant</i> holds &amp; the loop\nterminates after n steps, cue %d</v>\n\n",
			i, clock(start), clock(start+1900*time.Millisecond), i)
	}
	return []byte(b.String())
}

func clock(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// BenchmarkParse is what addCaption spends reading the largest realistic
// file, and what the automatic step spends on an engine's output.
func BenchmarkParse(b *testing.B) {
	content := threeHourLecture()
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		if _, err := captions.Parse(content, captions.Limits{Duration: 3 * time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSegment cuts that lecture into 4-second HLS segments.
func BenchmarkSegment(b *testing.B) {
	tr, err := captions.Parse(threeHourLecture(), captions.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	media := captions.MediaTimeline{FirstPTS: 133200}
	for range 3 * 3600 / 4 {
		media.SegmentDurations = append(media.SegmentDurations, 4*time.Second)
	}
	for b.Loop() {
		if _, _, err := captions.Segment(tr, media); err != nil {
			b.Fatal(err)
		}
	}
}
