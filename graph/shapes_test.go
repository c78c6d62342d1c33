package graph_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/sqldb"
)

// The loader shapes: the pages that stall when a loader-backed field waits
// a batch window per element, or when batching breaks and a field queries
// per element (issue 16). Each costs a fixed number of SQL round trips,
// written down here, whatever the number of elements; TestLoaderShapes
// guards the count and BenchmarkLoaderShapes the CPU time.
type loaderShape struct {
	name  string
	query string
	// queries is the shape's SQL round trips, for any number of elements.
	queries int64
	// seed builds the shape with n elements for the enrolled student and
	// returns the document's variables.
	seed func(tb testing.TB, b *shapeBundle, n int) map[string]any
	// elements counts the elements in a response, to prove the n were
	// there; want is how many n elements make.
	elements func(data map[string]any) int
	want     func(n int) int
}

var loaderShapes = []loaderShape{
	{
		name: "course page",
		query: `query($c: ID!) { course(id: $c) { title enrolled myProgress { completedLectures totalLectures }
			lectures { id title video { status playbackUrl thumbnailUrl } nextVideo { id status } myProgress { positionSeconds watchedSeconds } } } }`,
		// the course, its lectures (outlines: no description selected),
		// the enrollment, the lectures' playing and newest videos (batch
		// resolvers, which also hand the lectures to the videos' access
		// checks), the course's and the lectures' progress.
		queries: 7,
		seed: func(tb testing.TB, b *shapeBundle, n int) map[string]any {
			c := b.seedCourse(tb, b.instructor, "Course", n, true)
			b.enroll(tb, c)
			b.seedVideos(tb, c)
			return map[string]any{"c": idOf(c)}
		},
		elements: func(data map[string]any) int {
			return len(data["course"].(map[string]any)["lectures"].([]any))
		},
		want: func(n int) int { return n },
	},
	{
		// The course page of a student who only sees where each video is:
		// no field that decides access, so no enrollment is read.
		name:  "course outline",
		query: `query($c: ID!) { course(id: $c) { title lectures { title video { status } } } }`,
		// the course, its lectures, their playing videos.
		queries: 3,
		seed: func(tb testing.TB, b *shapeBundle, n int) map[string]any {
			c := b.seedCourse(tb, b.instructor, "Course", n, true)
			b.enroll(tb, c)
			b.seedVideos(tb, c)
			return map[string]any{"c": idOf(c)}
		},
		elements: func(data map[string]any) int {
			ready := 0
			for _, l := range data["course"].(map[string]any)["lectures"].([]any) {
				if l.(map[string]any)["video"].(map[string]any)["status"] == "READY" {
					ready++
				}
			}
			return ready
		},
		want: func(n int) int { return n },
	},
	{
		name: "catalog",
		query: `query($n: Int) { courses(first: $n) { edges { node { id title enrolled
			liveSessions { id title status startsAt joinUrl } } } } }`,
		// the page, the enrollments and the live sessions, all three
		// queued by the prefetch for the whole page (which also primes
		// the courses the sessions' access checks read).
		queries: 3,
		seed: func(tb testing.TB, b *shapeBundle, n int) map[string]any {
			for i := range n {
				c := b.seedCourse(tb, b.instructor, fmt.Sprintf("Course %d", i), 0, true)
				b.enroll(tb, c)
				b.seedLiveSession(tb, c)
			}
			return map[string]any{"n": n}
		},
		elements: func(data map[string]any) int {
			return len(data["courses"].(map[string]any)["edges"].([]any))
		},
		want: func(n int) int { return n },
	},
	{
		// The catalog's sessions with arguments from variables: the
		// prefetch must queue them under the same filter the field asks.
		name: "catalog, sessions by variables",
		query: `query($n: Int, $f: Int, $p: Boolean) { courses(first: $n) { edges { node { id
			liveSessions(first: $f, past: $p) { id joinUrl } } } } }`,
		// the page, the enrollments (the join checks) and the sessions.
		queries: 3,
		seed: func(tb testing.TB, b *shapeBundle, n int) map[string]any {
			for i := range n {
				c := b.seedCourse(tb, b.instructor, fmt.Sprintf("Course %d", i), 0, true)
				b.enroll(tb, c)
				b.seedLiveSession(tb, c)
			}
			return map[string]any{"n": n, "f": 2, "p": false}
		},
		elements: func(data map[string]any) int {
			joinable := 0
			for _, e := range data["courses"].(map[string]any)["edges"].([]any) {
				for _, s := range e.(map[string]any)["node"].(map[string]any)["liveSessions"].([]any) {
					if s.(map[string]any)["joinUrl"] != nil {
						joinable++
					}
				}
			}
			return joinable
		},
		want: func(n int) int { return n },
	},
	{
		// Search hits, each a course and a lecture of its own under the
		// connection's edges, where no batch resolver groups them.
		name: "search",
		query: `query($q: String!) { search(query: $q, first: 50) { edges { node {
			course { title enrolled } lecture { title video { status playbackUrl } } } } } }`,
		// the search, the hits' courses and lectures, the lectures' videos
		// and the enrollments, queued for the page by queueSearchHits.
		queries: 5,
		seed: func(tb testing.TB, b *shapeBundle, n int) map[string]any {
			c := b.seedCourse(tb, b.instructor, "Course", n, true)
			b.enroll(tb, c)
			b.seedVideos(tb, c)
			return map[string]any{"q": "lecture"}
		},
		elements: func(data map[string]any) int {
			playable := 0
			for _, e := range data["search"].(map[string]any)["edges"].([]any) {
				l, _ := e.(map[string]any)["node"].(map[string]any)["lecture"].(map[string]any)
				if l != nil && l["video"].(map[string]any)["playbackUrl"] != nil {
					playable++
				}
			}
			return playable
		},
		want: func(n int) int { return n },
	},
	{
		name: "lecture page",
		query: `query($l: ID!) { lecture(id: $l) { title course { title enrolled }
			video { status playbackUrl thumbnailUrl storyboardUrl renditions { name width height } }
			nextVideo { id } myProgress { positionSeconds } } }`,
		queries: 7,
		// n is the course's lectures, each with a video: the page of one
		// lecture must not read its siblings one by one.
		seed: func(tb testing.TB, b *shapeBundle, n int) map[string]any {
			c := b.seedCourse(tb, b.instructor, "Course", n, true)
			b.enroll(tb, c)
			lectures := b.seedVideos(tb, c)
			return map[string]any{"l": strconv.FormatInt(lectures[len(lectures)-1].ID, 10)}
		},
		// The one lecture, if its video plays for the student.
		want: func(int) int { return 1 },
		elements: func(data map[string]any) int {
			if data["lecture"].(map[string]any)["video"].(map[string]any)["playbackUrl"] == nil {
				return 0
			}
			return 1
		},
	},
}

// shapeBundle is a bundle with progress and live classes, whose shapes
// the student asks for.
type shapeBundle struct {
	*bundle
	sessions *sqldb.LiveSessionService
}

func setupShapes(tb testing.TB) *shapeBundle {
	tb.Helper()
	db := openDB(tb)
	sb := &shapeBundle{sessions: sqldb.NewLiveSessionService(db, nil)}
	sb.bundle = newBundle(tb, db, func(_ *graph.Config, r *graph.Resolver) {
		r.SearchService = sqldb.NewSearchService(db)
		events := &edustreamtest.Events{}
		r.Progress, r.Events = &edustream.Progress{Store: sqldb.NewProgressService(db), Events: events}, events
		r.LiveSessionService = sb.sessions
	})
	return sb
}

func (b *shapeBundle) enroll(tb testing.TB, c *edustream.Course) {
	tb.Helper()
	b.post(tb, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(c)}).NoErrors(tb)
}

// seedVideos gives every lecture of c a READY video and returns them in
// position order.
func (b *shapeBundle) seedVideos(tb testing.TB, c *edustream.Course) []*edustream.Lecture {
	tb.Helper()
	ls, err := b.lectures.FindLecturesByCourseIDs(context.Background(), []int64{c.ID})
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range ls[c.ID] {
		b.seedReadyVideo(tb, l)
	}
	return ls[c.ID]
}

// seedLiveSession schedules a class of c tomorrow, straight through
// sqldb: the catalog reads it, Webex is not involved.
func (b *shapeBundle) seedLiveSession(tb testing.TB, c *edustream.Course) {
	tb.Helper()
	start := time.Now().Add(24 * time.Hour).Truncate(time.Minute)
	s := &edustream.LiveSession{CourseID: c.ID, CreatorID: b.instructor.ID, Title: "Office hours", StartsAt: start, EndsAt: start.Add(time.Hour),
		MeetingID: "meeting-" + idOf(c), MeetingNumber: "123", JoinURL: "https://webex.test/j/" + idOf(c)}
	if err := b.sessions.CreateLiveSession(context.Background(), s); err != nil {
		tb.Fatal(err)
	}
}

// Each loader shape costs its written-down number of SQL round trips for
// few elements and for many: a field that queries per element, or a batch
// that splits, fails it.
func TestLoaderShapes(t *testing.T) {
	t.Parallel()
	for _, shape := range loaderShapes {
		t.Run(shape.name, func(t *testing.T) {
			t.Parallel()
			for _, n := range []int{fewElements, manyElements} {
				b := setupShapes(t)
				vars := shape.seed(t, b, n)
				b.queries.Store(0)
				r := b.post(t, b.student, shape.query, vars).NoErrors(t)
				got := b.queries.Load()
				if e, want := shape.elements(r.Data), shape.want(n); e != want {
					t.Fatalf("%d elements: the response has %d, want %d: %.400s", n, e, want, r.Raw)
				}
				if got != shape.queries {
					t.Errorf("%d elements cost %d SQL round trips, want %d", n, got, shape.queries)
				}
			}
		})
	}
}

// fewElements and manyElements are the sizes TestLoaderShapes compares;
// the benchmark measures manyElements.
const fewElements, manyElements = 5, 40

// BenchmarkLoaderShapes measures each loader shape over SQLite with 40
// elements, as the enrolled student, without the response cache: CPU time
// and allocations per request, and SQL round trips per request. Cheap
// enough for CI with -benchtime 1x.
func BenchmarkLoaderShapes(b *testing.B) {
	for _, shape := range loaderShapes {
		b.Run(shape.name, func(b *testing.B) {
			sb := setupShapes(b)
			vars := shape.seed(b, sb, manyElements)
			sb.post(b, sb.student, shape.query, vars).NoErrors(b)
			sb.queries.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			stop := testenv.ReportCPU(b)
			for range b.N {
				sb.post(b, sb.student, shape.query, vars).NoErrors(b)
			}
			stop()
			b.ReportMetric(float64(sb.queries.Load())/float64(b.N), "queries/op")
		})
	}
}

// The catalog reads lectures without their descriptions when a list does
// not select them, and a lecture read so never reaches a field that
// selects the description: not in another list of the same courses, not
// through a video's lecture, not through a fragment.
func TestLectureDescriptionsFollowTheSelection(t *testing.T) {
	t.Parallel()
	b := setupShapes(t)
	c := b.seedCourse(t, b.instructor, "Course", 3, true)
	b.enroll(t, c)
	lectures := b.seedVideos(t, c)
	for _, l := range lectures {
		d := "about " + l.Title
		if _, err := b.lectures.UpdateLecture(context.Background(), l.ID, edustream.LectureUpdate{Description: &d}); err != nil {
			t.Fatal(err)
		}
	}
	for name, query := range map[string]string{
		"video's lecture": `{ courses { edges { node { lectures { id video { lecture { id description } } } } } } }`,
		"aliased lists":   `{ courses { edges { node { brief: lectures { id } full: lectures { id description } } } } }`,
		"another root": `query($c: ID!) { courses { edges { node { lectures { id video { status } } } } }
			course(id: $c) { lectures { id description } } }`,
		"fragment": `{ courses { edges { node { lectures { id ...text } } } } } fragment text on Lecture { description }`,
	} {
		t.Run(name, func(t *testing.T) {
			r := b.post(t, b.student, query, map[string]any{"c": idOf(c)}).NoErrors(t)
			want := map[string]bool{}
			for _, l := range lectures {
				want["about "+l.Title] = true
			}
			got := 0
			var walk func(v any)
			walk = func(v any) {
				switch v := v.(type) {
				case map[string]any:
					if d, ok := v["description"]; ok {
						if !want[d.(string)] {
							t.Errorf("a lecture's description is %q: %.600s", d, r.Raw)
						}
						got++
					}
					for _, e := range v {
						walk(e)
					}
				case []any:
					for _, e := range v {
						walk(e)
					}
				}
			}
			walk(r.Data)
			if got < len(lectures) {
				t.Errorf("%d descriptions, want at least %d: %.600s", got, len(lectures), r.Raw)
			}
		})
	}
}
