package storetest

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
)

// The rules of progress (edustream.Progress) hold on every store: the
// flow runs here on the store under test, beat by beat, so merging,
// completion, plausibility, replays and re-uploads are proven on SQLite,
// MariaDB and the in-memory store alike.

// flowClock is the wall clock of the beats: it moves only when a step
// says so.
type flowClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *flowClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *flowClock) advance(seconds float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Duration(seconds * float64(time.Second)))
}

// beatStep is one beat of a scenario: after some wall time, what the
// player reports, and what the progress must be afterwards (or the code
// the beat is refused with).
type beatStep struct {
	after    float64 // seconds of wall time since the step before
	user     string  // "" is the enrolled student
	position float64
	played   [][2]float64
	rate     float64 // 0 is 1
	session  string  // "" is "tab-1"
	// replay sends the beat of step replay-1 again, as it was sent.
	replay int

	wantCode      string
	wantWatched   float64
	wantPosition  float64
	wantCompleted bool
}

func testProgressFlow(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	other := f.User(t, "other", edustream.RoleInstructor)
	admin := f.User(t, "admin", edustream.RoleAdmin)
	sam := f.User(t, "sam", edustream.RoleStudent)
	stranger := f.User(t, "stranger", edustream.RoleStudent)
	course := f.Course(t, inst.ID, "c", true)
	draft := f.Course(t, inst.ID, "draft", false)
	f.enroll(t, sam.ID, course.ID)
	users := map[string]*edustream.User{"": sam, "inst": inst, "other": other, "admin": admin, "stranger": stranger, "anonymous": nil}

	tests := []struct {
		name     string
		duration float64
		steps    []beatStep
	}{
		{"resume where the last beat left", 100, []beatStep{
			{after: 10, position: 10, played: [][2]float64{{0, 10}}, wantWatched: 10, wantPosition: 10},
			{after: 10, position: 20.4, played: [][2]float64{{10, 20.4}}, wantWatched: 20, wantPosition: 20.4},
			{after: 3, position: 20.4, wantWatched: 20, wantPosition: 20.4}, // paused
			{after: 600, position: 62, wantWatched: 20, wantPosition: 62},   // sought
		}},
		{"overlapping and out-of-order intervals count once", 100, []beatStep{
			{after: 10, position: 10, played: [][2]float64{{0, 10}}, wantWatched: 10, wantPosition: 10},
			{after: 10, position: 30, played: [][2]float64{{20, 30}}, wantWatched: 20, wantPosition: 30},
			{after: 10, position: 25, played: [][2]float64{{5, 15}, {15, 25}, {12, 18}}, wantWatched: 30, wantPosition: 25},
			{after: 10, position: 5, played: [][2]float64{{0, 5}}, wantWatched: 30, wantPosition: 5},
			{after: 10, position: 9.9, played: [][2]float64{{0.1, 9.9}}, wantWatched: 30, wantPosition: 9.9},
		}},
		{"complete at the threshold", 100, append(tenSecondBeats(0, 8), []beatStep{
			{after: 10, position: 89, played: [][2]float64{{80, 89}}, wantWatched: 89, wantPosition: 89},
			{after: 1, position: 90, played: [][2]float64{{89, 90}}, wantWatched: 90, wantPosition: 90, wantCompleted: true},
			// Rewinding keeps the completion.
			{after: 10, position: 0, wantWatched: 90, wantPosition: 0, wantCompleted: true},
		}...)},
		{"scrubbing to the end completes nothing", 100, []beatStep{
			{after: 5, position: 5, played: [][2]float64{{0, 5}}, wantWatched: 5, wantPosition: 5},
			{after: 1, position: 99, wantWatched: 5, wantPosition: 99},
			{after: 1, position: 100, played: [][2]float64{{99, 100}}, wantWatched: 6, wantPosition: 100},
			{after: 1, position: 100, wantWatched: 6, wantPosition: 100},
		}},
		{"2× playback", 100, []beatStep{
			{after: 10, position: 20, played: [][2]float64{{0, 20}}, rate: 2, wantWatched: 20, wantPosition: 20},
			{after: 10, position: 40, played: [][2]float64{{20, 40}}, rate: 2, wantWatched: 40, wantPosition: 40},
			{after: 10, position: 60, played: [][2]float64{{40, 60}}, rate: 2, wantWatched: 60, wantPosition: 60},
			{after: 10, position: 80, played: [][2]float64{{60, 80}}, rate: 2, wantWatched: 80, wantPosition: 80},
			{after: 10, position: 100, played: [][2]float64{{80, 100}}, rate: 2, wantWatched: 100, wantPosition: 100, wantCompleted: true},
		}},
		{"times are clipped to the video", 100, []beatStep{
			{after: 10, position: 120, played: [][2]float64{{95, 130}}, wantWatched: 5, wantPosition: 100},
		}},
		{"a beat faster than wall time is refused", 7200, []beatStep{
			// A script claiming the whole lecture in one call, at any rate.
			{after: 10, position: 7200, played: [][2]float64{{0, 7200}}, rate: 16, wantCode: edustream.EINVALID},
			{after: 0, position: 1200, played: [][2]float64{{0, 1200}}, rate: 16, wantCode: edustream.EINVALID},
			// A minute of video in ten seconds at 1×.
			{after: 0, position: 60, played: [][2]float64{{0, 60}}, wantCode: edustream.EINVALID},
			// Refusals spent nothing: a real beat passes.
			{after: 0, position: 10, played: [][2]float64{{0, 10}}, wantWatched: 10, wantPosition: 10},
			// Many calls cannot add up to more than wall time either: the
			// saved-up half minute goes, then each call owes the next.
			{after: 0, position: 30, played: [][2]float64{{10, 30}}, wantWatched: 30, wantPosition: 30},
			{after: 0, position: 40, played: [][2]float64{{30, 40}}, wantCode: edustream.EINVALID},
			{after: 10, position: 40, played: [][2]float64{{30, 40}}, wantWatched: 40, wantPosition: 40},
			// Another session of the same viewer shares the budget.
			{after: 0, position: 60, played: [][2]float64{{40, 60}}, session: "tab-2", wantCode: edustream.EINVALID},
		}},
		{"a replayed beat changes nothing", 100, []beatStep{
			{after: 10, position: 10, played: [][2]float64{{0, 10}}, wantWatched: 10, wantPosition: 10},
			{after: 0, replay: 1, wantWatched: 10, wantPosition: 10},
			{after: 10, position: 40, played: [][2]float64{{30, 40}}, wantWatched: 20, wantPosition: 40},
			{after: 1, replay: 1, wantWatched: 20, wantPosition: 40},
			{after: 1, replay: 3, wantWatched: 20, wantPosition: 40},
		}},
		{"who may record", 100, []beatStep{
			{user: "anonymous", position: 1, wantCode: edustream.EUNAUTHENTICATED},
			{user: "stranger", position: 1, wantCode: edustream.EFORBIDDEN},
			{user: "other", position: 1, wantCode: edustream.EFORBIDDEN},
			{user: "inst", after: 10, position: 10, played: [][2]float64{{0, 10}}, wantWatched: 10, wantPosition: 10},
			{user: "admin", after: 10, position: 5, played: [][2]float64{{0, 5}}, wantWatched: 5, wantPosition: 5},
			{after: 10, position: 3, played: [][2]float64{{0, 3}}, wantWatched: 3, wantPosition: 3},
		}},
		{"absurd beats", 100, []beatStep{
			{position: math.NaN(), wantCode: edustream.EINVALID},
			{position: -1, wantCode: edustream.EINVALID},
			{position: 1e12, wantCode: edustream.EINVALID},
			{position: 1, played: [][2]float64{{10, 5}}, wantCode: edustream.EINVALID},
			{position: 1, played: [][2]float64{{-3, 5}}, wantCode: edustream.EINVALID},
			{position: 1, played: [][2]float64{{0, math.Inf(1)}}, wantCode: edustream.EINVALID},
			{position: 1, rate: 17, wantCode: edustream.EINVALID},
			{position: 1, rate: -1, wantCode: edustream.EINVALID},
			{position: 1, session: "a session id with spaces", wantCode: edustream.EINVALID},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &flowClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
			events := &edustreamtest.Events{}
			flow := &edustream.Progress{Store: f.Progress, Events: events, Now: clock.Now}
			lecture := f.Lecture(t, course.ID, tt.name, 0)
			f.readyVideo(t, lecture.ID, inst.ID, tt.duration)
			var sent []edustream.WatchBeat
			var lastVersion int64
			for i, s := range tt.steps {
				clock.advance(s.after)
				b := edustream.WatchBeat{LectureID: lecture.ID, PositionSeconds: s.position, PlaybackRate: cmpOr(s.rate, 1), SessionID: s.session}
				if b.SessionID == "" {
					b.SessionID = "tab-1"
				}
				for _, iv := range s.played {
					b.Played = append(b.Played, edustream.PlayedInterval{Start: iv[0], End: iv[1]})
				}
				if s.replay > 0 {
					b = sent[s.replay-1]
				}
				sent = append(sent, b)
				got, err := flow.RecordWatch(ctx, users[s.user], b)
				if s.wantCode != "" {
					if edustream.ErrorCode(err) != s.wantCode {
						t.Fatalf("step %d: error %v, want code %s", i+1, err, s.wantCode)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i+1, err)
				}
				if got.WatchedSeconds != s.wantWatched || got.PositionSeconds != s.wantPosition || got.Completed() != s.wantCompleted {
					t.Errorf("step %d: watched %v, position %v, completed %v; want %v, %v, %v",
						i+1, got.WatchedSeconds, got.PositionSeconds, got.Completed(), s.wantWatched, s.wantPosition, s.wantCompleted)
				}
				if s.replay > 0 && got.Version != lastVersion {
					t.Errorf("step %d: a replay wrote version %d over %d", i+1, got.Version, lastVersion)
				}
				lastVersion = got.Version
				// What a beat returns is what is stored.
				stored, err := f.Progress.FindLectureProgress(ctx, users[s.user].ID, []int64{lecture.ID})
				if err != nil {
					t.Fatal(err)
				}
				if st := stored[lecture.ID]; st == nil || st.WatchedSeconds != got.WatchedSeconds || st.PositionSeconds != got.PositionSeconds ||
					st.Version != got.Version || !st.Watched.Equal(got.Watched) {
					t.Errorf("step %d: stored %+v, returned %+v", i+1, st, got)
				}
			}
		})
	}

	t.Run("no video yet", func(t *testing.T) {
		flow := &edustream.Progress{Store: f.Progress}
		l := f.Lecture(t, course.ID, "empty", 0)
		_, err := flow.RecordWatch(ctx, sam, edustream.WatchBeat{LectureID: l.ID, PlaybackRate: 1, SessionID: "s"})
		WantCode(t, err, edustream.ECONFLICT, "")
		dl := f.Lecture(t, draft.ID, "draft lecture", 0)
		_, err = flow.RecordWatch(ctx, sam, edustream.WatchBeat{LectureID: dl.ID, PlaybackRate: 1, SessionID: "s"})
		WantCode(t, err, edustream.ENOTFOUND, "")
	})
	t.Run("completions are announced", func(t *testing.T) {
		c := f.Course(t, inst.ID, "announced", true)
		f.enroll(t, sam.ID, c.ID)
		l1, l2 := f.Lecture(t, c.ID, "one", 0), f.Lecture(t, c.ID, "two", 0)
		f.readyVideo(t, l1.ID, inst.ID, 10)
		f.readyVideo(t, l2.ID, inst.ID, 10)
		clock := &flowClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
		events := &edustreamtest.Events{}
		flow := &edustream.Progress{Store: f.Progress, Events: events, Now: clock.Now}
		for _, l := range []*edustream.Lecture{l1, l2} {
			clock.advance(10)
			if _, err := flow.RecordWatch(ctx, sam, edustream.WatchBeat{LectureID: l.ID, PositionSeconds: 10,
				Played: []edustream.PlayedInterval{{Start: 0, End: 10}}, PlaybackRate: 1, SessionID: "s"}); err != nil {
				t.Fatal(err)
			}
		}
		var kinds []edustream.ProgressEventKind
		for _, e := range events.Published() {
			if e.Topic != edustream.ProgressTopic(sam.ID, c.ID) || e.Progress == nil {
				t.Fatalf("event %+v", e)
			}
			kinds = append(kinds, e.Progress.Kind)
		}
		want := []edustream.ProgressEventKind{edustream.LectureCompleted, edustream.LectureCompleted, edustream.CourseCompleted}
		if len(kinds) != 3 || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
			t.Fatalf("published %v, want %v", kinds, want)
		}
		last := events.Published()[2].Progress
		if last.CourseProgress.CompletedLectures != 2 || last.CourseProgress.TotalLectures != 2 || last.CourseProgress.CompletedAt == nil ||
			last.LectureProgress.LectureID != l2.ID || !last.LectureProgress.Completed() {
			t.Errorf("course completed with %+v, %+v", last.CourseProgress, last.LectureProgress)
		}
	})
	t.Run("re-upload", func(t *testing.T) {
		testReupload(t, f, inst, sam, course)
	})
}

// testReupload completes new videos of lectures through the lifecycle:
// the same recording keeps the viewer's progress, a new take starts it
// over, and completions stay.
func testReupload(t *testing.T, f *Fixture, inst, sam *edustream.User, course *edustream.Course) {
	ctx := context.Background()
	clock := &flowClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	flow := &edustream.Progress{Store: f.Progress, Now: clock.Now}
	life := &edustream.VideoLifecycle{Videos: f.Videos, Jobs: &edustreamtest.Jobs{}, ViewerProgress: f.Progress}
	watch := func(t *testing.T, l *edustream.Lecture, from, to float64) *edustream.LectureProgress {
		t.Helper()
		clock.advance(to - from)
		p, err := flow.RecordWatch(ctx, sam, edustream.WatchBeat{LectureID: l.ID, PositionSeconds: to,
			Played: []edustream.PlayedInterval{{Start: from, End: to}}, PlaybackRate: 1, SessionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	reupload := func(t *testing.T, l *edustream.Lecture, duration float64) *edustream.Video {
		t.Helper()
		v := f.video(t, l.ID, inst.ID)
		v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoUploaded), Stage: ptr(edustream.StageProbe)})
		v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoProcessing), Media: &edustream.MediaInfo{DurationSeconds: duration, Width: 640, Height: 360}})
		for v.Stage != edustream.StageComplete {
			next, _ := v.Stage.Next()
			v = f.move(t, v, edustream.VideoUpdate{Stage: &next})
		}
		ready, err := life.Complete(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		return ready
	}
	read := func(t *testing.T, l *edustream.Lecture) *edustream.LectureProgress {
		t.Helper()
		m, err := f.Progress.FindLectureProgress(ctx, sam.ID, []int64{l.ID})
		if err != nil {
			t.Fatal(err)
		}
		return m[l.ID]
	}

	t.Run("same recording", func(t *testing.T) {
		l := f.Lecture(t, course.ID, "re-encoded", 0)
		f.readyVideo(t, l.ID, inst.ID, 100)
		watch(t, l, 0, 20)
		watch(t, l, 20, 30)
		v := reupload(t, l, 99)
		p := read(t, l)
		if p.VideoID != v.ID || p.VideoDuration != 99 || p.WatchedSeconds != 30 || p.PositionSeconds != 30 {
			t.Errorf("kept: %+v", p)
		}
		// Watching on goes on from there.
		if p := watch(t, l, 30, 40); p.WatchedSeconds != 40 || p.VideoID != v.ID {
			t.Errorf("after: %+v", p)
		}
	})
	t.Run("new take", func(t *testing.T) {
		l := f.Lecture(t, course.ID, "re-recorded", 0)
		f.readyVideo(t, l.ID, inst.ID, 30)
		watch(t, l, 0, 10)
		watch(t, l, 10, 20)
		done := watch(t, l, 20, 30)
		if !done.Completed() {
			t.Fatalf("not completed: %+v", done)
		}
		v := reupload(t, l, 300)
		p := read(t, l)
		if p.VideoID != v.ID || p.VideoDuration != 300 || p.WatchedSeconds != 0 || p.PositionSeconds != 0 || !p.Completed() {
			t.Errorf("started over, completion kept: %+v", p)
		}
		if p := watch(t, l, 0, 10); p.WatchedSeconds != 10 || !p.Completed() {
			t.Errorf("after: %+v", p)
		}
	})
	t.Run("a row the swap missed is carried over when read", func(t *testing.T) {
		l := f.Lecture(t, course.ID, "missed", 0)
		f.readyVideo(t, l.ID, inst.ID, 100)
		watch(t, l, 0, 10)
		// The swap without the lifecycle's carry-over: as if its write
		// had failed.
		bare := &edustream.VideoLifecycle{Videos: f.Videos, Jobs: &edustreamtest.Jobs{}}
		v := f.video(t, l.ID, inst.ID)
		v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoUploaded), Stage: ptr(edustream.StageProbe)})
		v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoProcessing), Media: &edustream.MediaInfo{DurationSeconds: 500, Width: 640, Height: 360}})
		for v.Stage != edustream.StageComplete {
			next, _ := v.Stage.Next()
			v = f.move(t, v, edustream.VideoUpdate{Stage: &next})
		}
		if _, err := bare.Complete(ctx, v); err != nil {
			t.Fatal(err)
		}
		if p := watch(t, l, 100, 110); p.VideoID != v.ID || p.WatchedSeconds != 10 || p.PositionSeconds != 110 {
			t.Errorf("the next beat starts over on the new take: %+v", p)
		}
	})
}

// tenSecondBeats returns n beats of ten seconds from from seconds on.
func tenSecondBeats(from float64, n int) []beatStep {
	var steps []beatStep
	for i := range n {
		start := from + float64(10*i)
		steps = append(steps, beatStep{after: 10, position: start + 10, played: [][2]float64{{start, start + 10}},
			wantWatched: start + 10, wantPosition: start + 10})
	}
	return steps
}

func cmpOr(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
