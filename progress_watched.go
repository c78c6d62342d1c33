package edustream

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// SecondRun is the whole seconds [Start, End) of a video.
type SecondRun struct {
	Start, End int32
}

// WatchedSeconds is the set of whole seconds of a video a viewer has
// watched, as runs that are sorted, disjoint and not adjacent: a viewer
// who watched a lecture from start to end has one run, whatever the
// number of beats that reported it. It is the compact state a beat
// merges into, stored as MarshalBinary's bytes.
//
// Seconds are whole: a played interval [a, b) of media time counts the
// seconds [round(a), round(b)). Players report intervals that touch or
// miss each other by a fraction of a second (timeupdate fires every
// 250 ms or so); rounding makes them one run instead of a run per beat,
// at the price of at most half a second at each end of a viewing.
type WatchedSeconds []SecondRun

// MaxWatchSeconds bounds every time a beat may report (seconds of media
// time): longer than any video EduStream accepts, short enough that a
// second fits an int32 many times over. Anything larger is absurd.
const MaxWatchSeconds = 48 * 60 * 60

// secondOf rounds media time to the second boundary it is closest to.
func secondOf(t float64) int32 {
	return int32(math.Round(min(max(t, 0), MaxWatchSeconds)))
}

// Add returns w with the seconds of the media interval [start, end)
// added. w is not modified.
func (w WatchedSeconds) Add(start, end float64) WatchedSeconds {
	return w.addRun(SecondRun{secondOf(start), secondOf(end)})
}

func (w WatchedSeconds) addRun(r SecondRun) WatchedSeconds {
	if r.End <= r.Start {
		return w
	}
	// The runs before r (ending before it starts, not touching it), those
	// it overlaps or touches (merged into it), and those after.
	i := 0
	for i < len(w) && w[i].End < r.Start {
		i++
	}
	j := i
	for j < len(w) && w[j].Start <= r.End {
		r.Start, r.End = min(r.Start, w[j].Start), max(r.End, w[j].End)
		j++
	}
	out := make(WatchedSeconds, 0, len(w)-(j-i)+1)
	out = append(out, w[:i]...)
	out = append(out, r)
	return append(out, w[j:]...)
}

// Union returns the seconds in w or o.
func (w WatchedSeconds) Union(o WatchedSeconds) WatchedSeconds {
	for _, r := range o {
		w = w.addRun(r)
	}
	return w
}

// Seconds returns how many seconds w holds.
func (w WatchedSeconds) Seconds() int {
	n := 0
	for _, r := range w {
		n += int(r.End - r.Start)
	}
	return n
}

// Clip returns the seconds of w before end: those of a video that lasts
// end seconds.
func (w WatchedSeconds) Clip(end int32) WatchedSeconds {
	var out WatchedSeconds
	for _, r := range w {
		if r.Start >= end {
			break
		}
		out = append(out, SecondRun{r.Start, min(r.End, end)})
	}
	return out
}

// Equal reports whether w and o hold the same seconds.
func (w WatchedSeconds) Equal(o WatchedSeconds) bool { return slices.Equal(w, o) }

// MarshalBinary encodes w as uvarints: for each run, its distance from
// the end of the one before (from 0 for the first), then its length. A
// viewer who watched a lecture through takes 2 to 4 bytes; the worst
// case (every other second of a 4-hour lecture) about 14 KiB.
func (w WatchedSeconds) MarshalBinary() ([]byte, error) {
	buf := make([]byte, 0, 4*len(w))
	prev := int32(0)
	for _, r := range w {
		buf = binary.AppendUvarint(buf, uint64(r.Start-prev))
		buf = binary.AppendUvarint(buf, uint64(r.End-r.Start))
		prev = r.End
	}
	return buf, nil
}

var errWatchedEncoding = errors.New("watched seconds: malformed encoding")

// UnmarshalBinary decodes what MarshalBinary encoded, refusing anything
// that is not a valid set: runs must be non-empty, and apart from the
// first, start after a gap.
func (w *WatchedSeconds) UnmarshalBinary(b []byte) error {
	var out WatchedSeconds
	prev := int64(0)
	for len(b) > 0 {
		gap, n := binary.Uvarint(b)
		if n <= 0 {
			return errWatchedEncoding
		}
		b = b[n:]
		length, n := binary.Uvarint(b)
		if n <= 0 || length == 0 || (gap == 0 && len(out) > 0) {
			return errWatchedEncoding
		}
		b = b[n:]
		start := prev + int64(gap)
		end := start + int64(length)
		if gap > MaxWatchSeconds || length > MaxWatchSeconds || end > MaxWatchSeconds {
			return errWatchedEncoding
		}
		out = append(out, SecondRun{int32(start), int32(end)})
		prev = end
	}
	*w = out
	return nil
}
