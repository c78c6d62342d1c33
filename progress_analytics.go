package edustream

import (
	"context"
	"math"
)

// Bounds on the retention curve's resolution.
const (
	DefaultRetentionBuckets = 100
	MaxRetentionBuckets     = 1000
)

// LectureAnalytics is how a lecture's learners (not its instructor, not
// admins) watched it, computed from their compact progress in one query,
// never from the beats.
type LectureAnalytics struct {
	// Viewers counts the learners who watched any of the lecture.
	Viewers int
	// Completions counts those who completed it.
	Completions int
	// AverageWatchedFraction is the mean share of the current video they
	// watched.
	AverageWatchedFraction float64
	// WatchTimeSeconds is all the media time they played, rewatches
	// included.
	WatchTimeSeconds float64
	// duration is the current video's; watching counts, for each of its
	// seconds, how many viewers watched it.
	duration float64
	watching []int32
}

// CompletionRate returns the share of viewers who completed the lecture.
func (a *LectureAnalytics) CompletionRate() float64 {
	if a.Viewers == 0 {
		return 0
	}
	return float64(a.Completions) / float64(a.Viewers)
}

// Retention returns the share of viewers who watched each of buckets
// equal slices of the current video: where they drop off, skip, or come
// back. A slice partly watched counts in part. EINVALID for buckets
// outside 1..MaxRetentionBuckets.
func (a *LectureAnalytics) Retention(buckets int) ([]float64, error) {
	if buckets < 1 || buckets > MaxRetentionBuckets {
		return nil, Errorf(EINVALID, "buckets must be between 1 and %d, got %d", MaxRetentionBuckets, buckets)
	}
	out := make([]float64, buckets)
	if a.Viewers == 0 || a.duration <= 0 {
		return out, nil
	}
	// cumulative(x) is the number of viewer-seconds watched before media
	// time x: each slice's average is a difference of two.
	prefix := make([]float64, len(a.watching)+1)
	for i, n := range a.watching {
		prefix[i+1] = prefix[i] + float64(n)
	}
	cumulative := func(x float64) float64 {
		s := int(math.Floor(x))
		if s >= len(a.watching) {
			return prefix[len(a.watching)]
		}
		return prefix[s] + float64(a.watching[s])*(x-float64(s))
	}
	width := a.duration / float64(buckets)
	for i := range out {
		from, to := float64(i)*width, float64(i+1)*width
		out[i] = min((cumulative(to)-cumulative(from))/width/float64(a.Viewers), 1)
	}
	return out, nil
}

// AnalyzeLecture computes a lecture's analytics from its learners'
// progress (FindLectureLearners) on v, its current video (nil: none
// READY). Progress stored against an older video is carried over first,
// by the re-upload rule (CarryOver).
func AnalyzeLecture(learners []*LectureProgress, v *Video) *LectureAnalytics {
	a := &LectureAnalytics{duration: videoDuration(v)}
	seconds := int(math.Ceil(a.duration))
	// A difference array: +1 where a run starts, -1 where it ends.
	diff := make([]int32, seconds+1)
	fractions := 0.0
	for _, lp := range learners {
		a.Viewers++
		if lp.Completed() {
			a.Completions++
		}
		a.WatchTimeSeconds += lp.PlayedSeconds
		if v == nil {
			continue
		}
		on := CarryOver(lp, v)
		fractions += on.Fraction()
		for _, r := range on.Watched.Clip(int32(seconds)) {
			diff[r.Start]++
			diff[r.End]--
		}
	}
	if a.Viewers > 0 {
		a.AverageWatchedFraction = fractions / float64(a.Viewers)
	}
	a.watching = make([]int32, seconds)
	n := int32(0)
	for s := range a.watching {
		n += diff[s]
		a.watching[s] = n
	}
	return a
}

// LectureAnalytics returns the analytics of lecture l of course c, whose
// current video is v (nil: none READY), for u. EFORBIDDEN unless u may
// see them (CanSeeAnalytics).
func (p *Progress) LectureAnalytics(ctx context.Context, u *User, c *Course, l *Lecture, v *Video) (*LectureAnalytics, error) {
	if err := p.mayAnalyze(u, c); err != nil {
		return nil, err
	}
	learners, err := p.Store.FindLectureLearners(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	return AnalyzeLecture(learners, v), nil
}

// CourseWatchCounts returns the aggregates of course c's analytics for u.
// EFORBIDDEN unless u may see them.
func (p *Progress) CourseWatchCounts(ctx context.Context, u *User, c *Course) (*CourseWatchCounts, error) {
	if err := p.mayAnalyze(u, c); err != nil {
		return nil, err
	}
	return p.Store.FindCourseWatchCounts(ctx, c.ID)
}

// CourseStudents returns a page of course c's students with their
// progress, for u. EFORBIDDEN unless u may see the analytics; EINVALID for
// a limit outside 0..100.
func (p *Progress) CourseStudents(ctx context.Context, u *User, c *Course, afterUserID int64, limit int) ([]*CourseStudent, bool, error) {
	if err := p.mayAnalyze(u, c); err != nil {
		return nil, false, err
	}
	if limit < 0 || limit > 100 {
		return nil, false, Errorf(EINVALID, "first must be between 0 and 100, got %d", limit)
	}
	return p.Store.FindCourseStudents(ctx, c.ID, afterUserID, limit)
}

func (p *Progress) mayAnalyze(u *User, c *Course) error {
	switch {
	case u == nil:
		return Errorf(EUNAUTHENTICATED, "sign in first")
	case !CanSeeAnalytics(u, c):
		return Errorf(EFORBIDDEN, "only the course's instructor and admins may see how its students are doing")
	}
	return nil
}
