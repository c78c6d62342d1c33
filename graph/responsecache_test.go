package graph_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

// withCache makes the bundle's handler answer shared reads from c.
func withCache(c *gqlhttp.ResponseCache) option {
	return func(cfg *graph.Config, _ *graph.Resolver) { cfg.ResponseCache = c }
}

// newEvents is one process's event service on the Redis at url.
func newEvents(t *testing.T, url string) *redis.Events {
	t.Helper()
	events := redis.NewEvents(testenv.RedisClient(t, url), nil)
	t.Cleanup(func() { events.Close() })
	return events
}

// signatures are the per-request parts of signed URLs: two requests a
// second apart get different ones.
var signatures = regexp.MustCompile(`(https?://[^"?]*)\?[^"]*`)

// viewer is a caller of the policy test: a user, or anonymous (nil).
type viewer struct {
	name string
	user *edustream.User
}

// A response held for one caller reaches another only if the uncached
// handler would have given that caller the same bytes. Every document is
// asked by every kind of caller, from the most rights to the fewest and
// back, over GET and POST, and each answer is compared with a handler
// without a cache on the same database: drafts, emails, signed video URLs,
// the uploader's fields, enrollment flags and the caller's own courses
// never travel to anyone the policy hides them from.
func TestCachedResponsesFollowThePolicy(t *testing.T) {
	t.Parallel()
	cache := gqlhttptest.NewCache(nil)
	b := setup(t, withCache(cache))
	uncached := newBundle(t, b.db)
	ctx := context.Background()

	published := b.seedCourse(t, b.instructor, "Published", 2, true)
	draft := b.seedCourse(t, b.instructor, "Secret draft", 1, false)
	lecture := b.firstLecture(t, published)
	b.seedReadyVideo(t, lecture)
	b.post(t, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(published)}).NoErrors(t)
	otherStudent, err := sqldb.NewUserService(b.db).UpsertUser(ctx, edustream.Claims{Subject: "kim", Role: edustream.RoleStudent, Email: "kim@example.test", Name: "kim"})
	if err != nil {
		t.Fatal(err)
	}
	// Roles come from the token: the other instructor, signed in as a
	// student, still sees her own email on her course.
	b.seedCourse(t, b.otherInstructor, "Grace's", 0, true)
	teachingStudent := *b.otherInstructor
	teachingStudent.Role = edustream.RoleStudent
	viewers := []viewer{
		{"admin", b.admin},
		{"instructor", b.instructor},
		{"other instructor", b.otherInstructor},
		{"enrolled student", b.student},
		{"student who teaches", &teachingStudent},
		{"other student", otherStudent},
		{"anonymous", nil},
	}

	lectureVideo := `video { id status stage durationSeconds renditions { name } playbackUrl thumbnailUrl storyboardUrl error fileName }`
	documents := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"catalog", `query Catalog($first: Int) { courses(first: $first) { edges { cursor node { id title published enrolled
			instructor { id name email role } lectures { id title ` + lectureVideo + ` } } } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"first": 10}},
		{"drafts", `{ courses(filter: {published: false}) { edges { node { id title } } } }`, nil},
		{"mine", `{ courses(filter: {mine: true}) { edges { node { id } } } }`, nil},
		{"mine as a variable", `query($f: CourseFilter) { courses(filter: $f) { edges { node { id } } } }`, map[string]any{"f": map[string]any{"mine": true}}},
		{"me", `{ me { id name email role } }`, nil},
		{"a draft", `query($id: ID!) { course(id: $id) { id title lectures { id title } } }`, map[string]any{"id": idOf(draft)}},
		{"a published course", `query($id: ID!) { course(id: $id) { id enrolled lectures { id ` + lectureVideo + ` nextVideo { id } } } }`,
			map[string]any{"id": idOf(published)}},
		{"a lecture", `query($id: ID!) { lecture(id: $id) { id title course { id title instructor { name email } } ` + lectureVideo + ` } }`,
			map[string]any{"id": strconv.FormatInt(lecture.ID, 10)}},
		{"fragments", `{ courses { edges { node { ...C } } } } fragment C on Course { id enrolled instructor { ...U } } fragment U on User { email }`, nil},
		// One viewer-dependent field at a time, so that none hides behind
		// another.
		{"enrolled", `{ courses { edges { node { id enrolled } } } }`, nil},
		{"email", `{ courses { edges { node { instructor { email } } } } }`, nil},
		{"me alone", `{ me { id } }`, nil},
		{"playbackUrl", `query($id: ID!) { lecture(id: $id) { video { playbackUrl } } }`, map[string]any{"id": strconv.FormatInt(lecture.ID, 10)}},
		{"thumbnailUrl", `query($id: ID!) { course(id: $id) { lectures { video { thumbnailUrl } } } }`, map[string]any{"id": idOf(published)}},
		{"storyboardUrl", `query($id: ID!) { lecture(id: $id) { video { storyboardUrl } } }`, map[string]any{"id": strconv.FormatInt(lecture.ID, 10)}},
		{"uploader's fields", `query($id: ID!) { lecture(id: $id) { video { error fileName } } }`, map[string]any{"id": strconv.FormatInt(lecture.ID, 10)}},
	}
	ask := func(t *testing.T, h *bundle, v viewer, method, query string, vars map[string]any) string {
		t.Helper()
		r := gqlhttptest.Query(t, h.handler, v.user, method, query, vars)
		return signatures.ReplaceAllString(r.Raw, "$1")
	}
	reversed := make([]viewer, len(viewers))
	for i, v := range viewers {
		reversed[len(viewers)-1-i] = v
	}
	for _, doc := range documents {
		t.Run(doc.name, func(t *testing.T) {
			for _, order := range [][]viewer{viewers, reversed, viewers} {
				for _, v := range order {
					for _, method := range []string{http.MethodPost, http.MethodGet} {
						got := ask(t, b, v, method, doc.query, doc.vars)
						want := ask(t, uncached, v, method, doc.query, doc.vars)
						if got != want {
							t.Fatalf("%s by %s:\n got %s\nwant %s", method, v.name, got, want)
						}
					}
				}
			}
		})
	}
	// Else the test above proves nothing.
	if s := cache.Stats(); s.Hits < int64(len(documents)) {
		t.Errorf("the cache served %d responses; the test needs it to serve some: %+v", s.Hits, s)
	}
	anonymous := ask(t, b, viewer{"anonymous", nil}, http.MethodGet, documents[0].query, documents[0].vars)
	for _, secret := range []string{"Secret draft", "@example.test", "/play/", "secret-name.mp4", `"enrolled":true`} {
		if strings.Contains(anonymous, secret) {
			t.Errorf("the anonymous catalog shows %q: %s", secret, anonymous)
		}
	}
}

// The GET responses every anonymous caller shares, by EduStream's rule,
// are public over HTTP; the rest are private.
func TestCacheHeadersFollowThePolicy(t *testing.T) {
	t.Parallel()
	b := setup(t, withCache(gqlhttptest.NewCache(nil)))
	b.seedCourse(t, b.instructor, "Course", 2, true)
	const (
		catalog  = `{ courses { edges { node { id title lectures { title } } } } }`
		progress = `{ courses { edges { node { lectures { video { progress } } } } } }`
		enrolled = `{ courses { edges { node { id enrolled } } } }`
		public   = "public, max-age=10"
		private  = "private, no-store"
	)
	tests := []struct {
		name         string
		user         *edustream.User
		query        string
		cacheControl string
	}{
		{"anonymous catalog", nil, catalog, public},
		{"anonymous, a field anonymous callers share", nil, enrolled, public},
		{"student catalog", b.student, catalog, private},
		{"instructor catalog", b.instructor, catalog, private},
		{"anonymous, a field nobody shares", nil, progress, private},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, gqlhttptest.GetTarget(tt.query, nil), nil)
		if tt.user != nil {
			req = req.WithContext(edustream.NewContextWithUser(req.Context(), tt.user))
		}
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") != tt.cacheControl {
			t.Errorf("%s: status %d, ETag %q, Cache-Control %q; want 200, an ETag, %q", tt.name, rec.Code, rec.Header().Get("ETag"),
				rec.Header().Get("Cache-Control"), tt.cacheControl)
		}
	}
}

// A write is visible on the very next read, on the instance that took it
// and on another one sharing Redis, whichever was holding the read: the
// mutation answers only once every instance dropped its cache. The
// workers' writes (a video's steps, a user's name from their token) reach
// the caches through the same topic, a moment later.
func TestWritesReachTheNextRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redisURL := testenv.RedisURL(t)
	eventsA, eventsB, worker := newEvents(t, redisURL), newEvents(t, redisURL), newEvents(t, redisURL)
	// Instance b takes its time to drop its cache, as a busy instance
	// may: the mutation must wait for it.
	cacheA, cacheB := gqlhttptest.NewCache(eventsA), gqlhttptest.NewCache(gqlhttptest.SlowDelivery{EventService: eventsB, Delay: 30 * time.Millisecond})
	for _, c := range []*gqlhttp.ResponseCache{cacheA, cacheB} {
		if err := c.Listen(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a := setup(t, withCache(cacheA))
	b := newBundle(t, a.db, withCache(cacheB))
	uncached := newBundle(t, a.db)
	workerLife := &edustream.VideoLifecycle{Videos: a.videos, Jobs: &edustreamtest.Jobs{}, Events: worker}
	workerUsers := sqldb.NewUserService(a.db)

	course := a.seedCourse(t, a.instructor, "Course", 3, true)
	lectures, err := a.lectures.FindLecturesByCourseIDs(ctx, []int64{course.ID})
	if err != nil {
		t.Fatal(err)
	}
	first := lectures[course.ID][0]
	courseVars := map[string]any{"id": idOf(course)}
	lectureVars := func(l *edustream.Lecture) map[string]any {
		return map[string]any{"id": strconv.FormatInt(l.ID, 10), "c": idOf(course)}
	}
	const catalog = `{ courses { edges { node { id title instructor { name } lectures { id position title video { status } } } } } }`

	mutate := func(query string, vars func() map[string]any) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			a.post(t, a.instructor, query, vars()).NoErrors(t)
		}
	}
	tests := []struct {
		name string
		// write changes something on instance a, or in a worker.
		write func(t *testing.T)
		// announced writes reach the caches a moment later; mutations,
		// before they answer.
		announced bool
	}{
		{name: "updateCourse", write: mutate(`mutation($id: ID!) { updateCourse(id: $id, input: {title: "Renamed"}) { id } }`,
			func() map[string]any { return courseVars })},
		{name: "createLecture", write: mutate(`mutation($id: ID!) { createLecture(input: {courseId: $id, title: "Added", position: 1}) { id } }`,
			func() map[string]any { return courseVars })},
		{name: "updateLecture", write: mutate(`mutation($id: ID!) { updateLecture(id: $id, input: {title: "Retitled"}) { id } }`,
			func() map[string]any { return lectureVars(first) })},
		{name: "moveLecture", write: mutate(`mutation($id: ID!) { moveLecture(id: $id, position: 3) { id } }`,
			func() map[string]any { return lectureVars(first) })},
		{name: "a video made READY by a worker", announced: true, write: func(t *testing.T) {
			v := &edustream.Video{LectureID: first.ID, UploaderID: a.instructor.ID, FileName: "v.mp4", ContentType: "video/mp4", SizeBytes: 1}
			if err := workerLife.Create(ctx, v); err != nil {
				t.Fatal(err)
			}
			if _, err := workerLife.Stored(ctx, v); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "the instructor's name from a new token", announced: true, write: func(t *testing.T) {
			if _, err := edustream.SignIn(ctx, workerUsers, worker, edustream.Claims{Subject: "ada", Role: edustream.RoleInstructor, Email: "ada@example.test", Name: "Ada L."}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "deleteLecture", write: mutate(`mutation($id: ID!) { deleteLecture(id: $id) }`,
			func() map[string]any { return lectureVars(first) })},
		{name: "publishCourse false", write: mutate(`mutation($id: ID!) { publishCourse(id: $id, published: false) { id } }`,
			func() map[string]any { return courseVars })},
		{name: "publishCourse", write: mutate(`mutation($id: ID!) { publishCourse(id: $id) { id } }`,
			func() map[string]any { return courseVars })},
		{name: "deleteCourse", write: mutate(`mutation($id: ID!) { deleteCourse(id: $id) }`,
			func() map[string]any { return courseVars })},
	}
	readers := []*edustream.User{nil, a.student}
	read := func(t *testing.T, h *bundle, u *edustream.User) string {
		t.Helper()
		return h.post(t, u, catalog, nil).Raw
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Both instances hold the catalog for both classes.
			for _, h := range []*bundle{a, b} {
				for _, u := range readers {
					read(t, h, u)
					before := h.cacheStats(t)
					read(t, h, u)
					if h.cacheStats(t).Hits != before.Hits+1 {
						t.Fatal("the catalog was not served from the cache")
					}
				}
			}
			old := read(t, uncached, nil)
			tt.write(t)
			want := map[*edustream.User]string{nil: read(t, uncached, nil), a.student: read(t, uncached, a.student)}
			if want[nil] == old {
				t.Fatal("the write changed nothing the catalog shows")
			}
			for _, h := range []*bundle{b, a} {
				for _, u := range readers {
					if tt.announced {
						testenv.Eventually(t, "the announced write in the cached catalog", func() bool { return read(t, h, u) == want[u] })
					} else if got := read(t, h, u); got != want[u] {
						t.Errorf("the next read shows\n%s\nwant\n%s", got, want[u])
					}
				}
			}
		})
	}
}

func (b *bundle) cacheStats(t *testing.T) gqlhttp.ResponseCacheStats {
	t.Helper()
	return b.cache.Stats()
}

// A mutation that changed nothing (refused, or one whose result no shared
// read shows) leaves every cache as it was: anyone could otherwise empty
// the fleet's caches at will.
func TestRefusedMutationsKeepTheCache(t *testing.T) {
	t.Parallel()
	cache := gqlhttptest.NewCache(nil)
	b := setup(t, withCache(cache))
	course := b.seedCourse(t, b.instructor, "Course", 1, true)
	vars := map[string]any{"id": idOf(course)}
	tests := []struct {
		name  string
		user  *edustream.User
		query string
	}{
		{"anonymous", nil, `mutation($id: ID!) { updateCourse(id: $id, input: {title: "Mine now"}) { id } }`},
		{"another instructor", b.otherInstructor, `mutation($id: ID!) { updateCourse(id: $id, input: {title: "Mine now"}) { id } }`},
		{"invalid input", b.instructor, `mutation($id: ID!) { updateCourse(id: $id, input: {title: ""}) { id } }`},
		{"enroll", b.student, `mutation($id: ID!) { enroll(courseId: $id) { enrolledAt } }`},
		{"a new draft", b.instructor, `mutation { createCourse(input: {title: "Draft"}) { id } }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cache.Stats().Purges
			b.post(t, tt.user, tt.query, vars)
			if after := cache.Stats().Purges; after != before {
				t.Errorf("the mutation emptied the cache (%d purges, was %d)", after, before)
			}
		})
	}
	// And one that changed something does.
	before := cache.Stats().Purges
	b.post(t, b.instructor, `mutation($id: ID!) { updateCourse(id: $id, input: {title: "Renamed"}) { id } }`, vars).NoErrors(t)
	if cache.Stats().Purges == before {
		t.Error("updateCourse kept the cache")
	}
}

// failingUsers is a user store whose lookups fail, so a payload field
// resolved after a write errs.
type failingUsers struct{ edustream.UserService }

func (failingUsers) FindUsersByIDs(context.Context, []int64) (map[int64]*edustream.User, error) {
	return nil, errors.New("users are down")
}

// A mutation that wrote, with an error only in its payload's fields, still
// empties the cache: the write happened.
func TestWritesWithPayloadErrorsEmptyTheCache(t *testing.T) {
	t.Parallel()
	cache := gqlhttptest.NewCache(nil)
	b := setup(t, withCache(cache), func(_ *graph.Config, r *graph.Resolver) { r.UserService = failingUsers{r.UserService} })
	course := b.seedCourse(t, b.instructor, "Old title", 1, true)
	const catalog = `{ courses { edges { node { title } } } }`
	b.post(t, nil, catalog, nil).NoErrors(t)
	r := b.post(t, b.instructor, `mutation($id: ID!) { updateCourse(id: $id, input: {title: "New title"}) { id instructor { name } } }`,
		map[string]any{"id": idOf(course)})
	if len(r.Errors) == 0 || r.Data["updateCourse"] == nil && len(r.Errors[0].Path) < 2 {
		t.Fatalf("want the write to succeed with an error under its payload: %s", r.Raw)
	}
	if got := b.post(t, nil, catalog, nil).NoErrors(t).Raw; !strings.Contains(got, "New title") {
		t.Errorf("after the write the catalog still reads %s", got)
	}
}

// A response kept in the cache is read from the primary: the write that
// emptied the cache may not have reached a replica yet, and what is kept
// is served until the next write.
func TestKeptResponsesReadThePrimary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := replicaThatNeverCatchesUp(t)
	b := newBundle(t, db, withCache(gqlhttptest.NewCache(nil)))
	uncached := newBundle(t, db)
	c := &edustream.Course{InstructorID: b.instructor.ID, Title: "Fresh"}
	if err := b.courses.CreateCourse(ctx, c); err != nil {
		t.Fatal(err)
	}
	p := true
	if _, err := b.courses.UpdateCourse(ctx, c.ID, edustream.CourseUpdate{Published: &p}); err != nil {
		t.Fatal(err)
	}
	const catalog = `{ courses { edges { node { title } } } }`
	if r := uncached.post(t, nil, catalog, nil).NoErrors(t); strings.Contains(r.Raw, "Fresh") {
		t.Fatalf("the replica caught up; the test needs it behind: %s", r.Raw)
	}
	for range 2 {
		if r := b.post(t, nil, catalog, nil).NoErrors(t); !strings.Contains(r.Raw, "Fresh") {
			t.Errorf("the cached catalog came from the replica: %s", r.Raw)
		}
	}
}
