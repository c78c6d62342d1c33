package edustream

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math"
	"strconv"
	"time"
)

// Learning progress: what a viewer actually watched of each lecture, where
// they left off, and which lectures and courses they completed.
//
// Progress is what was watched, not where the playhead went. The player
// sends a beat every ten seconds or so (and on pause, seek and end, and as
// a beacon when the page closes) with the intervals of media time it
// played since the last one; they are merged into the set of whole
// seconds watched (WatchedSeconds), so nothing counts twice and scrubbing
// to the end counts nothing. A lecture is complete when that set covers
// the completion threshold of its video (DefaultCompletionThreshold), a
// course when every lecture with a READY video is.

// DefaultCompletionThreshold is the watched fraction of a lecture's video
// that completes it (EDUSTREAM_COMPLETION_THRESHOLD).
const DefaultCompletionThreshold = 0.9

// Bounds on a beat. Beyond them a beat is absurd, and refused.
const (
	// MaxPlaybackRate is the fastest rate browsers play at (the HTML media
	// element's range is 1/16 to 16).
	MaxPlaybackRate = 16
	// MaxPlayedIntervals bounds the intervals of one beat: a beat covers
	// ten seconds or so, and a player merges what it played into a few.
	MaxPlayedIntervals = 100
	// MaxSessionIDLength bounds the player's session id.
	MaxSessionIDLength = 64
)

// The plausibility rule: a viewer cannot play media faster than wall
// time passes at their playback rate. Each (viewer, lecture) has a
// budget of wall time that fills as time passes, up to watchBudgetCap,
// and each beat spends what its intervals need at its rate (with
// watchRateSlack for clocks and networks); a beat that would overspend by
// more than watchBudgetSlack is refused. Overspending within the slack is
// owed by the next beats, so no number of calls adds up to more than wall
// time allows.
const (
	// watchBudgetCap is the most wall time a viewer can have saved up:
	// what a first beat, or the first after a break, may cover. Beats come
	// every ten seconds; thirty absorbs a beat or two lost to the network,
	// and keeps a first call of a script at 16× under ten minutes of
	// video.
	watchBudgetCap = 30 * time.Second
	// watchBudgetSlack is how far a beat may overspend: one beat's worth
	// of jitter between the player's clock and the server's.
	watchBudgetSlack = 5 * time.Second
	// watchRateSlack is the margin on the rate: a player that sped up
	// within the beat reports only its current rate.
	watchRateSlack = 1.1
)

// recentBeats is how many beats of a (viewer, lecture) are remembered, so
// that a replayed or duplicated beat changes nothing.
const recentBeats = 4

// PlayedInterval is media time [Start, End) the player played, in
// seconds.
type PlayedInterval struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// WatchBeat is what the player reports: recordWatch's input, and the
// beacon's body.
type WatchBeat struct {
	LectureID int64
	// PositionSeconds is where the playhead is: the resume position.
	PositionSeconds float64
	// Played is the media time played since the last beat.
	Played []PlayedInterval
	// PlaybackRate is the fastest rate used since the last beat (1:
	// normal speed).
	PlaybackRate float64
	// SessionID is the player's own id for one page load.
	SessionID string
}

// Validate refuses a beat that no player could send: NaN, infinite,
// negative or absurd times, inverted intervals, a rate outside what
// browsers play at, too many intervals, a missing or odd session id.
// EINVALID names the field. Values within the bounds are clipped to the
// video later, when its duration is known.
func (b *WatchBeat) Validate() error {
	checkTime := func(name string, v float64) error {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return Errorf(EINVALID, "%s must be a number of seconds", name)
		case v < 0:
			return Errorf(EINVALID, "%s must not be negative", name)
		case v > MaxWatchSeconds:
			return Errorf(EINVALID, "%s is %s, longer than any video", name, FormatDuration(min(v, 1e9)))
		}
		return nil
	}
	if b.LectureID <= 0 {
		return Errorf(EINVALID, "lectureId must be a lecture's id")
	}
	if err := checkTime("positionSeconds", b.PositionSeconds); err != nil {
		return err
	}
	if len(b.Played) > MaxPlayedIntervals {
		return Errorf(EINVALID, "played may hold at most %d intervals; merge what the player played", MaxPlayedIntervals)
	}
	for i, p := range b.Played {
		for _, v := range []struct {
			name string
			v    float64
		}{{"start", p.Start}, {"end", p.End}} {
			if err := checkTime("played["+strconv.Itoa(i)+"]."+v.name, v.v); err != nil {
				return err
			}
		}
		if p.End < p.Start {
			return Errorf(EINVALID, "played[%d] ends before it starts", i)
		}
	}
	switch r := b.PlaybackRate; {
	case math.IsNaN(r) || math.IsInf(r, 0) || r <= 0:
		return Errorf(EINVALID, "playbackRate must be a positive number")
	case r > MaxPlaybackRate:
		return Errorf(EINVALID, "playbackRate must be at most %d", MaxPlaybackRate)
	}
	if b.SessionID == "" || len(b.SessionID) > MaxSessionIDLength {
		return Errorf(EINVALID, "sessionId must be 1 to %d characters", MaxSessionIDLength)
	}
	for _, c := range b.SessionID {
		if c <= ' ' || c > '~' {
			return Errorf(EINVALID, "sessionId must be printable ASCII without spaces")
		}
	}
	return nil
}

// digest identifies a beat among the recent ones of its viewer and
// lecture: a replay or a retry is byte for byte the same beat, while
// real playback never reports the same floating-point times twice.
func (b *WatchBeat) digest() uint64 {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
		h.Write(buf[:])
	}
	h.Write([]byte(b.SessionID))
	put(b.PositionSeconds)
	put(b.PlaybackRate)
	for _, p := range b.Played {
		put(p.Start)
		put(p.End)
	}
	return h.Sum64() | 1 // never 0, the empty slot
}

// LectureProgress is one viewer's progress through one lecture: the
// compact state every beat updates in place (one row per viewer and
// lecture, never one per beat).
type LectureProgress struct {
	UserID    int64 `json:"userId"`
	LectureID int64 `json:"lectureId"`
	// CourseID is the lecture's course, filled by reads.
	CourseID int64 `json:"courseId"`
	// VideoID is the video the seconds below are seconds of, and
	// VideoDuration its length in seconds (see CarryOver).
	VideoID       int64   `json:"videoId"`
	VideoDuration float64 `json:"videoDuration"`
	// Watched is the set of seconds watched; WatchedSeconds is its size,
	// clipped to the video's duration, kept beside it for the queries
	// that aggregate it.
	Watched        WatchedSeconds `json:"-"`
	WatchedSeconds float64        `json:"watchedSeconds"`
	// PositionSeconds is the resume position: where the last beat left
	// the playhead.
	PositionSeconds float64 `json:"positionSeconds"`
	// PlayedSeconds is all media time played, rewatches included.
	PlayedSeconds float64 `json:"playedSeconds"`
	// Learner says the viewer watched as an enrolled student, not as the
	// course's instructor or an admin, whose views the analytics leave
	// out.
	Learner bool `json:"learner"`
	// CompletedAt is when the lecture was completed; a completion is
	// never taken back.
	CompletedAt   *time.Time `json:"completedAt,omitempty"`
	LastWatchedAt time.Time  `json:"lastWatchedAt"`
	// BudgetAt is the plausibility rule's state: wall time before it is
	// spent (see watchBudgetCap).
	BudgetAt time.Time `json:"-"`
	// RecentBeats are the digests of the last beats, newest first.
	RecentBeats [recentBeats]uint64 `json:"-"`
	// Version counts the writes; a write applies only over the version it
	// read (see ProgressService.SaveLectureProgress).
	Version   int64     `json:"-"`
	CreatedAt time.Time `json:"-"`
}

// Fraction returns the share of the video watched, 0..1.
func (p *LectureProgress) Fraction() float64 {
	if p.VideoDuration <= 0 {
		return 0
	}
	return min(p.WatchedSeconds/p.VideoDuration, 1)
}

// Completed reports whether the lecture was completed.
func (p *LectureProgress) Completed() bool { return p != nil && p.CompletedAt != nil }

// InProgress reports whether the viewer started the lecture and has not
// completed it: what continueWatching lists.
func (p *LectureProgress) InProgress() bool {
	return !p.Completed() && (p.WatchedSeconds > 0 || p.PositionSeconds > 0)
}

// setWatched replaces the watched seconds, keeping WatchedSeconds in
// step.
func (p *LectureProgress) setWatched(w WatchedSeconds) {
	p.Watched = w
	p.WatchedSeconds = min(float64(w.Seconds()), p.VideoDuration)
}

// SameRecording reports whether a video of duration to is, as far as
// progress goes, the same recording as one of duration from: a re-encode,
// a fixed sound track or a trimmed second keep the length within 2 % (and
// 2 s), a new take does not.
func SameRecording(from, to float64) bool {
	return from > 0 && to > 0 && math.Abs(from-to) <= max(2, 0.02*from)
}

// CarryOver is the re-upload rule: it returns p as it stands on v, the
// lecture's new video. When v is the same recording (SameRecording), the
// watched seconds and the position still point at the same moments, so
// they are kept (clipped to v's length); otherwise they point at
// different moments of different content, so they are dropped and the
// viewer starts v from the beginning. Either way a completion is kept:
// the viewer completed the lecture as it was, and is not made to do it
// again. VideoLifecycle.Complete applies the rule when it swaps a
// lecture's video; readers apply it to a row that was not carried over
// (a failed write there).
func CarryOver(p *LectureProgress, v *Video) *LectureProgress {
	if p == nil || v == nil || p.VideoID == v.ID {
		return p
	}
	out := *p
	out.VideoID, out.VideoDuration = v.ID, videoDuration(v)
	// Beats of another video are no replays of beats of this one.
	out.RecentBeats = [recentBeats]uint64{}
	if SameRecording(p.VideoDuration, out.VideoDuration) {
		// Seconds past a shorter video's end stay in the set (everything
		// that reads it clips it) until the next beat rewrites it: a
		// store can apply the rule to every viewer with one statement.
		out.WatchedSeconds = min(p.WatchedSeconds, out.VideoDuration)
		out.PositionSeconds = min(p.PositionSeconds, out.VideoDuration)
	} else {
		out.Watched, out.WatchedSeconds, out.PositionSeconds = nil, 0, 0
	}
	return &out
}

// videoDuration is v's length in seconds, 0 when unknown.
func videoDuration(v *Video) float64 {
	if v == nil || v.Media == nil {
		return 0
	}
	return v.Media.DurationSeconds
}

// CourseProgress is one viewer's progress through a course: how many of
// the lectures with a READY video they completed.
type CourseProgress struct {
	CourseID          int64 `json:"courseId"`
	CompletedLectures int   `json:"completedLectures"`
	TotalLectures     int   `json:"totalLectures"`
	// CompletedAt is when the last of them was completed, while all are;
	// a lecture added later makes the course incomplete again.
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// Fraction returns the share of lectures completed, 0..1.
func (c *CourseProgress) Fraction() float64 {
	if c.TotalLectures == 0 {
		return 0
	}
	return min(float64(c.CompletedLectures)/float64(c.TotalLectures), 1)
}

// Complete reports whether every lecture with a READY video is complete.
func (c *CourseProgress) Complete() bool {
	return c.TotalLectures > 0 && c.CompletedLectures >= c.TotalLectures
}

// WatchTarget is what a beat needs to know about its lecture, read in one
// go from the primary (see ProgressService.FindWatchTarget).
type WatchTarget struct {
	LectureID int64
	// Course carries what the access rules read (ID, InstructorID,
	// PublishedAt, DeletedAt); its text is not read.
	Course *Course
	// Enrolled says whether the viewer is enrolled in the course.
	Enrolled bool
	// Video is the lecture's current video (READY), with its Media; nil
	// before one is.
	Video *Video
	// Progress is the viewer's, as stored; nil before their first beat.
	Progress *LectureProgress
}

// CourseStudent is one enrolled student's progress, for the course's
// instructor.
type CourseStudent struct {
	UserID     int64
	EnrolledAt time.Time
	Progress   *CourseProgress
	// LastWatchedAt is their latest beat in the course; nil before any.
	LastWatchedAt *time.Time
}

// CourseWatchCounts are the aggregates of a course's analytics.
type CourseWatchCounts struct {
	// Enrolled counts the enrolled students (neither the instructor nor
	// admins).
	Enrolled int
	// Started counts the learners who watched any of it.
	Started int
	// Completed counts the learners who completed it.
	Completed int
	// Lectures are the counts of each lecture, in position order.
	Lectures []*LectureWatchCounts
}

// LectureWatchCounts counts a lecture's learners.
type LectureWatchCounts struct {
	LectureID   int64
	Viewers     int
	Completions int
	// Enrolled is the course's count, the base of CompletionRate.
	Enrolled int
}

// CompletionRate returns the share of the course's enrolled students who
// completed the lecture: the course's funnel, lecture by lecture.
func (c *LectureWatchCounts) CompletionRate() float64 {
	if c.Enrolled == 0 {
		return 0
	}
	return min(float64(c.Completions)/float64(c.Enrolled), 1)
}

// ProgressService stores progress: one row per (viewer, lecture), which
// each beat rewrites with one statement.
type ProgressService interface {
	ProgressCarrier
	// FindWatchTarget returns what a beat of the user on the lecture
	// needs, read from the primary in one query. ENOTFOUND for a missing
	// lecture or one of a hidden course.
	FindWatchTarget(ctx context.Context, userID, lectureID int64) (*WatchTarget, error)
	// SaveLectureProgress writes p, whose Version is one more than the
	// version it was read at (1: a new row), with one statement. ECONFLICT
	// when the stored row is not at p.Version-1 any more (another beat
	// wrote meanwhile).
	SaveLectureProgress(ctx context.Context, p *LectureProgress) error
	// FindLectureProgress returns the user's progress among lectureIDs,
	// keyed by lecture id; a lecture not started is absent.
	FindLectureProgress(ctx context.Context, userID int64, lectureIDs []int64) (map[int64]*LectureProgress, error)
	// FindCourseProgress returns the user's progress in each of courseIDs
	// (every course is present, with zero counts if need be).
	FindCourseProgress(ctx context.Context, userID int64, courseIDs []int64) (map[int64]*CourseProgress, error)
	// FindLecturesInProgress returns the user's progress in lectures of
	// visible courses started and not completed, most recently watched
	// first, at most limit of them.
	FindLecturesInProgress(ctx context.Context, userID int64, limit int) ([]*LectureProgress, error)
	// FindLectureLearners returns every learner's progress in the lecture
	// (the instructor's and admins' left out), with their watched
	// seconds, in one query.
	FindLectureLearners(ctx context.Context, lectureID int64) ([]*LectureProgress, error)
	// FindCourseWatchCounts returns the aggregates of the course's
	// analytics.
	FindCourseWatchCounts(ctx context.Context, courseID int64) (*CourseWatchCounts, error)
	// FindCourseStudents returns a page of the course's enrolled students
	// (the instructor and admins left out) with their progress, by user
	// id after afterUserID, and whether more follow. EINVALID for a
	// negative limit.
	FindCourseStudents(ctx context.Context, courseID, afterUserID int64, limit int) (students []*CourseStudent, hasMore bool, err error)
}

// ProgressCarrier carries progress over to a lecture's new video: the
// part of the store VideoLifecycle uses.
type ProgressCarrier interface {
	// CarryOverProgress moves the progress of the lecture's viewers from
	// video from to video to (of duration toDuration seconds), in one
	// statement: keeping their watched seconds and position when keep, else
	// clearing them. Completions stay.
	CarryOverProgress(ctx context.Context, lectureID, from, to int64, toDuration float64, keep bool) error
}

// ProgressTopic is the topic of a user's progress events in a course:
// only that user's subscriptions hear them.
func ProgressTopic(userID, courseID int64) string {
	return "user." + strconv.FormatInt(userID, 10) + ".course." + strconv.FormatInt(courseID, 10) + ".progress"
}

// ProgressEventKind says what a progress event announces.
type ProgressEventKind string

// The kinds of progress events. ProgressCurrent is never published: it
// is the first update of a subscription, the progress as it stands.
const (
	ProgressCurrent  ProgressEventKind = "CURRENT"
	LectureCompleted ProgressEventKind = "LECTURE_COMPLETED"
	CourseCompleted  ProgressEventKind = "COURSE_COMPLETED"
)

// ProgressEvent announces a completion, with the state it left (events
// carry the state they announce): the lecture's progress and the
// course's.
type ProgressEvent struct {
	Kind   ProgressEventKind `json:"kind"`
	UserID int64             `json:"userId"`
	// LectureProgress is the completed lecture's; nil for ProgressCurrent.
	LectureProgress *LectureProgress `json:"lecture,omitempty"`
	CourseProgress  *CourseProgress  `json:"course"`
	At              time.Time        `json:"at"`
}
