package edustream

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"
)

// saveAttempts bounds how often a beat is recomputed after losing a race
// with another beat of the same viewer and lecture (two tabs, a beacon
// and a retry).
const saveAttempts = 4

// Progress is the learning-progress flow, shared by every way in: the
// recordWatch mutation and the beacon endpoint record beats through it,
// the resolvers read through it. It decides who may record and see what,
// and keeps the rules of progress (merging, plausibility, completion,
// re-uploads) in one place, using only the domain's interfaces.
type Progress struct {
	Store ProgressService
	// Events, if set, hears every completion (ProgressTopic).
	Events EventService
	// Threshold is the watched fraction that completes a lecture (0:
	// DefaultCompletionThreshold).
	Threshold float64
	Now       Clock
}

func (p *Progress) now() time.Time {
	if p.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return p.Now().UTC().Truncate(time.Microsecond)
}

// CompletionThreshold returns the watched fraction that completes a
// lecture.
func (p *Progress) CompletionThreshold() float64 {
	if p.Threshold <= 0 || p.Threshold > 1 {
		return DefaultCompletionThreshold
	}
	return p.Threshold
}

// CanSeeAnalytics reports whether u may see how the learners of c are
// doing: the instructor and admins, never another student.
func CanSeeAnalytics(u *User, c *Course) bool { return CanEditCourse(u, c) }

// RecordWatch records a beat of u's player and returns u's progress in
// the lecture after it. A beat the same as one of the last few (a replay,
// a retried request) changes nothing. EUNAUTHENTICATED without a user;
// EINVALID for a beat no player could send (see WatchBeat.Validate) or one
// that claims more media time than wall time allows; ENOTFOUND for a
// lecture u may not see; EFORBIDDEN for one u may not watch (only the
// course's enrolled students, its instructor and admins may); ECONFLICT
// before the lecture has a READY video.
func (p *Progress) RecordWatch(ctx context.Context, u *User, b WatchBeat) (*LectureProgress, error) {
	if u == nil {
		return nil, Errorf(EUNAUTHENTICATED, "sign in first")
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		t, err := p.Store.FindWatchTarget(ctx, u.ID, b.LectureID)
		if err != nil {
			return nil, err
		}
		next, changed, err := p.apply(u, t, b, p.now())
		if err != nil || !changed {
			return next, err
		}
		err = p.Store.SaveLectureProgress(ctx, next)
		if ErrorCode(err) == ECONFLICT && attempt < saveAttempts {
			continue // another beat wrote first: merge into what it wrote
		}
		if err != nil {
			return nil, fmt.Errorf("record watching lecture %d: %w", b.LectureID, err)
		}
		if !t.Progress.Completed() && next.Completed() {
			p.announceCompletion(ctx, next)
		}
		return next, nil
	}
}

// apply is the rule of a beat: the access checks, then the beat merged
// into the viewer's progress, or the reason it is refused. changed is
// false for a replayed beat, which is returned as stored.
func (p *Progress) apply(u *User, t *WatchTarget, b WatchBeat, now time.Time) (next *LectureProgress, changed bool, err error) {
	c := t.Course
	switch {
	case !CanViewCourse(u, c):
		return nil, false, Errorf(ENOTFOUND, "lecture %d not found", b.LectureID)
	case !CanWatchLecture(u, c, t.Enrolled):
		return nil, false, Errorf(EFORBIDDEN, "only the course's enrolled students, its instructor and admins may watch lecture %d", b.LectureID)
	case t.Video == nil || t.Video.Status != VideoReady:
		return nil, false, Errorf(ECONFLICT, "lecture %d has no video ready to watch yet", b.LectureID)
	}
	duration := videoDuration(t.Video)
	cur := CarryOver(t.Progress, t.Video)
	if cur == nil {
		cur = &LectureProgress{UserID: u.ID, LectureID: t.LectureID, VideoID: t.Video.ID, VideoDuration: duration, CreatedAt: now}
	}
	cur.CourseID = c.ID
	digest := b.digest()
	if slices.Contains(cur.RecentBeats[:], digest) {
		return cur, false, nil
	}

	played, claimed := clipPlayed(b.Played, duration)
	rate := max(b.PlaybackRate, 1)
	cost := time.Duration(claimed / (rate * watchRateSlack) * float64(time.Second))
	budgetAt := cur.BudgetAt
	if earliest := now.Add(-watchBudgetCap); budgetAt.Before(earliest) {
		budgetAt = earliest
	}
	if spent := budgetAt.Add(cost); spent.After(now.Add(watchBudgetSlack)) {
		return nil, false, Errorf(EINVALID, "the beat reports %s of video played, more than could have played at %g× since the last beats", FormatDuration(claimed), b.PlaybackRate)
	}

	n := *cur
	n.BudgetAt = budgetAt.Add(cost)
	n.setWatched(cur.Watched.Union(played).Clip(int32(math.Ceil(duration))))
	n.PositionSeconds = min(b.PositionSeconds, duration)
	n.PlayedSeconds += claimed
	n.Learner = !CanEditCourse(u, c)
	n.LastWatchedAt = now
	copy(n.RecentBeats[1:], cur.RecentBeats[:recentBeats-1])
	n.RecentBeats[0] = digest
	if n.CompletedAt == nil && n.Fraction() >= p.CompletionThreshold() {
		n.CompletedAt = &now
	}
	n.Version = cur.Version + 1
	return &n, true, nil
}

// clipPlayed clips a beat's intervals to the video and returns their
// seconds and the media time they cover (overlaps counted once).
func clipPlayed(played []PlayedInterval, duration float64) (WatchedSeconds, float64) {
	spans := make([]PlayedInterval, 0, len(played))
	for _, iv := range played {
		iv.Start, iv.End = min(iv.Start, duration), min(iv.End, duration)
		if iv.End > iv.Start {
			spans = append(spans, iv)
		}
	}
	slices.SortFunc(spans, func(a, b PlayedInterval) int { return cmpFloat(a.Start, b.Start) })
	var seconds WatchedSeconds
	covered, reach := 0.0, 0.0
	for _, iv := range spans {
		seconds = seconds.Add(iv.Start, iv.End)
		if iv.End > reach {
			covered += iv.End - max(iv.Start, reach)
			reach = iv.End
		}
	}
	return seconds, covered
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// announceCompletion publishes that lp's lecture was completed and, if
// that completed the course, that the course was. Best effort: a
// subscriber that misses it reads the progress on its next resync.
func (p *Progress) announceCompletion(ctx context.Context, lp *LectureProgress) {
	if p.Events == nil {
		return
	}
	courses, err := p.Store.FindCourseProgress(NewContextReadingPrimary(ctx), lp.UserID, []int64{lp.CourseID})
	if err != nil {
		Logger(ctx).Warn("read the course progress to announce a completion; subscribers catch up on their next resync",
			slog.Int64("lecture_id", lp.LectureID), slog.String("error", err.Error()))
		return
	}
	cp := courses[lp.CourseID]
	if cp == nil {
		cp = &CourseProgress{CourseID: lp.CourseID}
	}
	at := *lp.CompletedAt
	kinds := []ProgressEventKind{LectureCompleted}
	if cp.Complete() && cp.CompletedAt != nil && cp.CompletedAt.Equal(at) {
		kinds = append(kinds, CourseCompleted)
	}
	for _, kind := range kinds {
		e := Event{Topic: ProgressTopic(lp.UserID, lp.CourseID), Progress: &ProgressEvent{
			Kind: kind, UserID: lp.UserID, LectureProgress: lp, CourseProgress: cp, At: at,
		}}
		if err := p.Events.PublishEvent(ctx, e); err != nil {
			Logger(ctx).Warn("publish a completion; subscribers catch up on their next resync",
				slog.String("kind", string(kind)), slog.String("error", err.Error()))
		}
	}
}

// carryProgress moves the viewers' progress on replaced to ready, the
// lecture's new video, by the re-upload rule (CarryOver). Best effort,
// like the rest of a move after its write: a row left on the old video
// is carried over by whoever reads it, by the same rule.
func (l *VideoLifecycle) carryProgress(ctx context.Context, replaced, ready *Video) {
	if l.ViewerProgress == nil {
		return
	}
	to := videoDuration(ready)
	keep := SameRecording(videoDuration(replaced), to)
	if err := l.ViewerProgress.CarryOverProgress(ctx, ready.LectureID, replaced.ID, ready.ID, to, keep); err != nil {
		Logger(ctx).Warn("carry the viewers' progress over to the lecture's new video; readers carry it over by the same rule",
			slog.Int64("lecture_id", ready.LectureID), slog.Int64("video_id", ready.ID), slog.String("error", err.Error()))
	}
}
