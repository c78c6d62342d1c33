package graph_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/storage/sqldb"
)

// setupWatching is setup with progress on, its events recorded, and
// more options.
func setupWatching(t *testing.T, events *edustreamtest.Events, opts ...option) *bundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	progress := &edustream.Progress{Store: sqldb.NewProgressService(db), Events: events}
	return newBundle(t, db, append([]option{func(_ *graph.Config, r *graph.Resolver) {
		r.Progress, r.Events = progress, events
	}}, opts...)...)
}

const recordWatch = `mutation($in: RecordWatchInput!) { recordWatch(input: $in) { positionSeconds watchedSeconds fraction completed completedAt lastWatchedAt } }`

func beat(lectureID int64, position float64, played ...[2]float64) map[string]any {
	intervals := []any{}
	for _, p := range played {
		intervals = append(intervals, map[string]any{"start": p[0], "end": p[1]})
	}
	return map[string]any{"in": map[string]any{"lectureId": strconv.FormatInt(lectureID, 10), "positionSeconds": position,
		"played": intervals, "playbackRate": 1, "sessionId": "tab-1"}}
}

func TestRecordWatchAccess(t *testing.T) {
	t.Parallel()
	b := setupWatching(t, &edustreamtest.Events{})
	published := b.seedCourse(t, b.instructor, "Published", 2, true)
	draft := b.seedCourse(t, b.instructor, "Draft", 1, false)
	lecture := b.firstLecture(t, published)
	b.seedReadyVideo(t, lecture)
	b.seedReadyVideo(t, b.firstLecture(t, draft))
	b.post(t, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(published)}).NoErrors(t)
	stranger := b.upsertStudent(t, "kim")

	tests := []struct {
		name string
		user *edustream.User
		vars map[string]any
		code string
	}{
		{"anonymous", nil, beat(lecture.ID, 1), graph.CodeUnauthenticated},
		{"a student not enrolled", stranger, beat(lecture.ID, 1), graph.CodeForbidden},
		{"another instructor", b.otherInstructor, beat(lecture.ID, 1), graph.CodeForbidden},
		{"a draft's lecture", b.student, beat(b.firstLecture(t, draft).ID, 1), graph.CodeNotFound},
		{"a missing lecture", b.student, beat(424242, 1), graph.CodeNotFound},
		{"a lecture without a video", b.student, beat(b.secondLecture(t, published).ID, 1), graph.CodeConflict},
		{"an inverted interval", b.student, beat(lecture.ID, 1, [2]float64{5, 1}), graph.CodeBadUserInput},
		{"a negative position", b.student, beat(lecture.ID, -1), graph.CodeBadUserInput},
		{"the enrolled student", b.student, beat(lecture.ID, 4, [2]float64{0, 4}), ""},
		{"the instructor", b.instructor, beat(lecture.ID, 2, [2]float64{0, 2}), ""},
		{"an admin", b.admin, beat(lecture.ID, 3, [2]float64{0, 3}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(t, tt.user, recordWatch, tt.vars)
			if tt.code == "" {
				r.NoErrors(t)
				if got := r.Data["recordWatch"].(map[string]any)["positionSeconds"]; got != tt.vars["in"].(map[string]any)["positionSeconds"] {
					t.Errorf("positionSeconds = %v", got)
				}
				return
			}
			if got := r.Code(t); got != tt.code {
				t.Errorf("code = %s, want %s: %s", got, tt.code, r.Raw)
			}
		})
	}
}

func TestProgressReads(t *testing.T) {
	t.Parallel()
	events := &edustreamtest.Events{}
	b := setupWatching(t, events)
	course := b.seedCourse(t, b.instructor, "Course", 3, true)
	first, second := b.firstLecture(t, course), b.secondLecture(t, course)
	b.seedReadyVideo(t, first)
	b.seedReadyVideo(t, second)
	b.post(t, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
	other := b.upsertStudent(t, "kim")
	b.post(t, other, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)

	// The student completes the first (12 s) lecture and starts the
	// second; the other student starts the first; the instructor watches
	// the first through, which the analytics leave out.
	b.post(t, b.student, recordWatch, beat(first.ID, 6, [2]float64{0, 6})).NoErrors(t)
	r := b.post(t, b.student, recordWatch, beat(first.ID, 12, [2]float64{6, 12})).NoErrors(t)
	if p := r.Data["recordWatch"].(map[string]any); p["completed"] != true || p["fraction"] != 1.0 || p["completedAt"] == nil {
		t.Errorf("after the whole lecture: %v", p)
	}
	b.post(t, b.student, recordWatch, beat(second.ID, 3, [2]float64{0, 3})).NoErrors(t)
	b.post(t, other, recordWatch, beat(first.ID, 6, [2]float64{0, 6})).NoErrors(t)
	b.post(t, b.instructor, recordWatch, beat(first.ID, 12, [2]float64{0, 12})).NoErrors(t)

	t.Run("the student's own", func(t *testing.T) {
		r := b.post(t, b.student, `query($c: ID!) { course(id: $c) { myProgress { completedLectures totalLectures fraction completedAt }
			lectures { myProgress { positionSeconds watchedSeconds completed lastWatchedAt } } } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
		c := r.Data["course"].(map[string]any)
		if cp := c["myProgress"].(map[string]any); cp["completedLectures"] != 1.0 || cp["totalLectures"] != 2.0 || cp["fraction"] != 0.5 || cp["completedAt"] != nil {
			t.Errorf("course progress: %v", cp)
		}
		ls := c["lectures"].([]any)
		if p := ls[0].(map[string]any)["myProgress"].(map[string]any); p["completed"] != true || p["watchedSeconds"] != 12.0 {
			t.Errorf("first lecture: %v", p)
		}
		if p := ls[1].(map[string]any)["myProgress"].(map[string]any); p["positionSeconds"] != 3.0 || p["completed"] != false {
			t.Errorf("second lecture: %v", p)
		}
		if p := ls[2].(map[string]any)["myProgress"].(map[string]any); p["watchedSeconds"] != 0.0 || p["lastWatchedAt"] != nil {
			t.Errorf("third lecture, never watched: %v", p)
		}
	})
	t.Run("continue watching", func(t *testing.T) {
		r := b.post(t, b.student, `{ me { continueWatching { id myProgress { positionSeconds } } } }`, nil).NoErrors(t)
		list := r.Data["me"].(map[string]any)["continueWatching"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != strconv.FormatInt(second.ID, 10) ||
			list[0].(map[string]any)["myProgress"].(map[string]any)["positionSeconds"] != 3.0 {
			t.Errorf("continueWatching = %v, want the second lecture at 3 s", list)
		}
		r = b.post(t, b.student, `query($c: ID!) { course(id: $c) { instructor { continueWatching { id } } } }`, map[string]any{"c": idOf(course)})
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != graph.CodeForbidden {
			t.Errorf("someone else's continueWatching: %s", r.Raw)
		}
		if r := b.post(t, b.student, `{ me { continueWatching(first: 101) { id } } }`, nil); r.Code(t) != graph.CodeBadUserInput {
			t.Errorf("first: 101: %s", r.Raw)
		}
	})
	t.Run("no one else's", func(t *testing.T) {
		for name, u := range map[string]*edustream.User{"anonymous": nil, "another instructor": b.otherInstructor} {
			r := b.post(t, u, `query($c: ID!) { course(id: $c) { myProgress { completedLectures } lectures { myProgress { watchedSeconds } } } }`,
				map[string]any{"c": idOf(course)}).NoErrors(t)
			if strings.Contains(r.Raw, "completedLectures") || strings.Contains(r.Raw, "watchedSeconds") {
				t.Errorf("%s sees progress: %s", name, r.Raw)
			}
		}
	})
	t.Run("the instructor's analytics", func(t *testing.T) {
		r := b.post(t, b.instructor, `query($c: ID!) { course(id: $c) {
			analytics { enrolled started completed lectures { lecture { id } viewers completions completionRate } }
			students { edges { node { user { name } progress { completedLectures totalLectures } lastWatchedAt } } pageInfo { hasNextPage } }
			lectures { analytics { viewers completions completionRate averageWatchedFraction watchTimeSeconds retention(buckets: 4) } } } }`,
			map[string]any{"c": idOf(course)}).NoErrors(t)
		c := r.Data["course"].(map[string]any)
		a := c["analytics"].(map[string]any)
		if a["enrolled"] != 2.0 || a["started"] != 2.0 || a["completed"] != 0.0 {
			t.Errorf("course analytics: %v", a)
		}
		if l := a["lectures"].([]any)[0].(map[string]any); l["viewers"] != 2.0 || l["completions"] != 1.0 || l["completionRate"] != 0.5 {
			t.Errorf("first lecture's line: %v", l)
		}
		la := c["lectures"].([]any)[0].(map[string]any)["analytics"].(map[string]any)
		if la["viewers"] != 2.0 || la["completions"] != 1.0 || la["averageWatchedFraction"] != 0.75 || la["watchTimeSeconds"] != 18.0 {
			t.Errorf("first lecture's analytics: %v", la)
		}
		if got := la["retention"].([]any); len(got) != 4 || got[0] != 1.0 || got[3] != 0.5 {
			t.Errorf("retention = %v, want both viewers in the first half, one in the second", got)
		}
		edges := c["students"].(map[string]any)["edges"].([]any)
		if len(edges) != 2 || edges[0].(map[string]any)["node"].(map[string]any)["user"].(map[string]any)["name"] != "sam" {
			t.Errorf("students = %v", edges)
		}
	})
	t.Run("no one else sees the analytics", func(t *testing.T) {
		for name, tt := range map[string]struct {
			u    *edustream.User
			code string
		}{
			"the student":        {b.student, graph.CodeForbidden},
			"another instructor": {b.otherInstructor, graph.CodeForbidden},
			"anonymous":          {nil, graph.CodeUnauthenticated},
		} {
			for _, q := range []string{
				`query($c: ID!) { course(id: $c) { analytics { enrolled } } }`,
				`query($c: ID!) { course(id: $c) { students { edges { node { user { name } } } } } }`,
				`query($c: ID!) { course(id: $c) { lectures { analytics { viewers } } } }`,
			} {
				r := b.post(t, tt.u, q, map[string]any{"c": idOf(course)})
				if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != tt.code || strings.Contains(r.Raw, "sam") {
					t.Errorf("%s: %s: %s", name, q, r.Raw)
				}
			}
		}
	})
	t.Run("completions were announced to the student alone", func(t *testing.T) {
		var kinds []string
		for _, e := range events.Published() {
			if e.Progress != nil {
				if e.Topic != edustream.ProgressTopic(e.Progress.UserID, course.ID) {
					t.Errorf("published on %s: %+v", e.Topic, e.Progress)
				}
				kinds = append(kinds, string(e.Progress.Kind)+" by "+strconv.FormatInt(e.Progress.UserID, 10))
			}
		}
		want := []string{"LECTURE_COMPLETED by " + strconv.FormatInt(b.student.ID, 10), "LECTURE_COMPLETED by " + strconv.FormatInt(b.instructor.ID, 10)}
		if strings.Join(kinds, ", ") != strings.Join(want, ", ") {
			t.Errorf("published %v, want %v", kinds, want)
		}
	})
}

// A course's lectures with their progress cost a fixed number of
// queries, however many lectures it has.
func TestProgressRoundTripsAreConstant(t *testing.T) {
	t.Parallel()
	count := func(lectures int) int64 {
		b := setupWatching(t, &edustreamtest.Events{})
		course := b.seedCourse(t, b.instructor, "Course", lectures, true)
		b.post(t, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
		b.queries.Store(0)
		b.post(t, b.student, `query($c: ID!) { course(id: $c) { myProgress { completedLectures } lectures { myProgress { watchedSeconds } } } }`,
			map[string]any{"c": idOf(course)}).NoErrors(t)
		return b.queries.Load()
	}
	if few, many := count(2), count(20); few != many {
		t.Errorf("2 lectures cost %d queries, 20 cost %d", few, many)
	}
}

// A beat empties no response cache: no field of progress is shared, and
// at a beat every ten seconds per viewer nothing would stay cached.
func TestRecordWatchLeavesSharedReads(t *testing.T) {
	t.Parallel()
	events := &edustreamtest.Events{}
	b := setupWatching(t, events, withCache(gqlhttp.NewResponseCache(gqlhttp.ResponseCacheConfig{MaxBytes: 1 << 20, Events: events})))
	course := b.seedCourse(t, b.instructor, "Course", 1, true)
	lecture := b.firstLecture(t, course)
	b.seedReadyVideo(t, lecture)
	b.post(t, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
	before := events.Count(edustream.ContentTopic)
	b.post(t, b.student, recordWatch, beat(lecture.ID, 2, [2]float64{0, 2})).NoErrors(t)
	if n := events.Count(edustream.ContentTopic); n != before {
		t.Errorf("recordWatch announced %d content changes", n-before)
	}
	b.post(t, b.instructor, `mutation($l: ID!) { updateLecture(id: $l, input: {title: "Renamed"}) { id } }`,
		map[string]any{"l": strconv.FormatInt(lecture.ID, 10)}).NoErrors(t)
	if events.Count(edustream.ContentTopic) == before {
		t.Error("updateLecture announced no content change: the check above proves nothing")
	}
}

func (b *bundle) secondLecture(t *testing.T, c *edustream.Course) *edustream.Lecture {
	t.Helper()
	ls, err := b.lectures.FindLecturesByCourseIDs(context.Background(), []int64{c.ID})
	if err != nil || len(ls[c.ID]) < 2 {
		t.Fatalf("lectures of course %d: %v, %v", c.ID, ls, err)
	}
	return ls[c.ID][1]
}

func (b *bundle) upsertStudent(t *testing.T, name string) *edustream.User {
	t.Helper()
	u, err := sqldb.NewUserService(b.db).UpsertUser(context.Background(), edustream.Claims{Subject: name, Role: edustream.RoleStudent, Email: name + "@example.test", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A server without progress refuses the progress fields with CONFLICT:
// a state of the server, not an internal fault.
func TestProgressOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.seedCourse(t, b.instructor, "Published", 1, true)
	lecture := b.firstLecture(t, c)
	b.seedReadyVideo(t, lecture)
	r := b.post(t, b.instructor, recordWatch, beat(lecture.ID, 1, [2]float64{0, 1}))
	if r.Code(t) != graph.CodeConflict || !strings.Contains(r.Errors[0].Message, "progress is not configured") {
		t.Errorf("got %s, want CONFLICT saying progress is not configured", r.Raw)
	}
}
