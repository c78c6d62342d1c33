package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/local"
	"github.com/edustream/edustream/storage/sqldb"
)

// bundle is one test's GraphQL endpoint over a real SQLite database, with
// its users and a count of SQL round trips.
type bundle struct {
	db      *sqldb.DB
	handler http.Handler
	queries atomic.Int64
	// jobs records what the API enqueued; the real queue and worker are
	// exercised end to end in cmd/edustream.
	jobs *edustreamtest.Jobs

	admin, instructor, otherInstructor, student *edustream.User
	courses                                     edustream.CourseService
	lectures                                    edustream.LectureService
	videos                                      *sqldb.VideoService
	blobs                                       *local.Store
	// cache is the handler's response cache, if an option gave it one.
	cache *gqlhttp.ResponseCache
}

type option func(*graph.Config, *graph.Resolver)

func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	return newBundle(t, openDB(t), opts...)
}

// openDB returns a migrated SQLite database of the test's own, closed when
// the test ends.
func openDB(t testing.TB) *sqldb.DB {
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
	return db
}

func newBundle(t testing.TB, db *sqldb.DB, opts ...option) *bundle {
	t.Helper()
	b := &bundle{db: db, jobs: &edustreamtest.Jobs{}}
	db.SetQueryHook(func(string) { b.queries.Add(1) })
	users := sqldb.NewUserService(db)
	b.courses = sqldb.NewCourseService(db, nil)
	b.lectures = sqldb.NewLectureService(db, nil)
	b.videos = sqldb.NewVideoService(db, nil)
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: "http://edustream.test", SigningKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	b.blobs = blobs
	playback, err := server.NewPlayback(server.PlaybackConfig{BaseURL: "http://edustream.test", Key: []byte(strings.Repeat("p", 32)), Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	cfg := graph.Config{Config: gqlhttp.Config{Introspection: true}}
	r := &graph.Resolver{
		UserService:       users,
		CourseService:     b.courses,
		LectureService:    b.lectures,
		EnrollmentService: sqldb.NewEnrollmentService(db, nil),
		JobQueue:          b.jobs,
		VideoService:      b.videos,
		Uploads:           &edustream.Uploads{Life: &edustream.VideoLifecycle{Videos: b.videos, Jobs: b.jobs, Blobs: blobs}, Blobs: blobs},
		Playback:          playback,
		PublicCatalog:     true,
	}
	for _, o := range opts {
		o(&cfg, r)
	}
	b.handler = graph.NewHandler(cfg, r)
	b.cache = cfg.ResponseCache
	upsert := func(sub string, role edustream.Role) *edustream.User {
		u, err := users.UpsertUser(context.Background(), edustream.Claims{Subject: sub, Role: role, Email: sub + "@example.test", Name: sub})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	b.admin = upsert("admin", edustream.RoleAdmin)
	b.instructor = upsert("ada", edustream.RoleInstructor)
	b.otherInstructor = upsert("grace", edustream.RoleInstructor)
	b.student = upsert("sam", edustream.RoleStudent)
	return b
}

// post sends a GraphQL POST as user (nil: anonymous).
func (b *bundle) post(t testing.TB, user *edustream.User, query string, vars map[string]any) gqlhttptest.Response {
	t.Helper()
	return gqlhttptest.Post(t, b.handler, user, query, vars)
}

func (b *bundle) raw(t *testing.T, user *edustream.User, method, target, contentType string, body []byte) gqlhttptest.Response {
	t.Helper()
	return gqlhttptest.Do(t, b.handler, user, method, target, contentType, body)
}

// seedCourse creates a course of instructor with n lectures, published or
// not, straight through sqldb.
func (b *bundle) seedCourse(t testing.TB, instructor *edustream.User, title string, lectures int, published bool) *edustream.Course {
	t.Helper()
	ctx := context.Background()
	c := &edustream.Course{InstructorID: instructor.ID, Title: title}
	if err := b.courses.CreateCourse(ctx, c); err != nil {
		t.Fatal(err)
	}
	for i := range lectures {
		if err := b.lectures.CreateLecture(ctx, &edustream.Lecture{CourseID: c.ID, Title: title + " lecture " + string(rune('A'+i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	if published {
		p := true
		var err error
		if c, err = b.courses.UpdateCourse(ctx, c.ID, edustream.CourseUpdate{Published: &p}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// snapshot returns everything an admin can see, to prove a refused request
// changed nothing.
func (b *bundle) snapshot(t *testing.T) string {
	t.Helper()
	r := b.post(t, b.admin, `{ courses(first: 100) { edges { node { id title description published updatedAt enrolled
		lectures { id position title description updatedAt } } } } }`, nil).NoErrors(t)
	out, _ := json.Marshal(r.Data)
	return string(out)
}

func idOf(c *edustream.Course) string { return strconv.FormatInt(c.ID, 10) }

func TestMain(m *testing.M) {
	// Resolvers log through slog's default; keep test output readable.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
