package graph_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

// A failing backend reaches the caller as INTERNAL, without its details.
func TestInternalErrorsAreHidden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Close()
	r := b.post(t, b.student, `{ courses { edges { node { title } } } }`, nil)
	if r.Code(t) != "INTERNAL" || r.Errors[0].Message != "internal error" {
		t.Errorf("got %s, want a bare internal error", r.Raw)
	}
	if strings.Contains(strings.ToLower(r.Raw), "sql") || strings.Contains(r.Raw, "closed") {
		t.Errorf("the response leaks the cause: %s", r.Raw)
	}
}

type panickingCourses struct{ edustream.CourseService }

func (panickingCourses) FindCourses(context.Context, edustream.CourseFilter) ([]*edustream.Course, bool, error) {
	panic("boom")
}

// A panicking resolver costs the request its field, not the process: the
// caller gets a bare internal error and the next request is served.
func TestPanicsAreRecovered(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *graph.Config, r *graph.Resolver) { r.CourseService = panickingCourses{r.CourseService} })
	r := b.post(t, b.student, `{ courses { edges { node { title } } } }`, nil)
	if r.Code(t) != "INTERNAL" || r.Errors[0].Message != "internal error" || strings.Contains(r.Raw, "boom") {
		t.Errorf("got %s, want one bare internal error", r.Raw)
	}
	b.post(t, b.student, `{ me { name } }`, nil).NoErrors(t)
}

func TestPrivateCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *graph.Config, r *graph.Resolver) { r.PublicCatalog = false })
	c := b.seedCourse(t, b.instructor, "Members only", 1, true)
	if r := b.post(t, nil, `{ courses { edges { cursor } } }`, nil); r.Code(t) != "UNAUTHENTICATED" {
		t.Errorf("anonymous catalog: %s", r.Raw)
	}
	if r := b.post(t, nil, `query($id: ID!) { course(id: $id) { title } }`, map[string]any{"id": idOf(c)}); r.Code(t) != "UNAUTHENTICATED" {
		t.Errorf("anonymous course: %s", r.Raw)
	}
	b.post(t, b.student, `query($id: ID!) { course(id: $id) { title } }`, map[string]any{"id": idOf(c)}).NoErrors(t)
}

// replicaThatNeverCatchesUp returns a database whose replica is a copy of
// the primary taken once the bundle's users existed, and never updated.
func replicaThatNeverCatchesUp(t *testing.T) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	primaryPath, replicaPath := filepath.Join(dir, "primary.db"), filepath.Join(dir, "replica.db")
	db, err := sqldb.OpenSQLite(ctx, primaryPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	newBundle(t, db) // creates the users, so the replica knows them
	db.Close()
	testenv.CopyFile(t, primaryPath, replicaPath)

	db, err = sqldb.OpenSQLiteWithReplica(ctx, primaryPath, replicaPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The read-your-writes rule of edustream.ReadsPrimary, on a primary and a
// replica that never catches up: mutations read the primary, the writer's
// next reads do too (write marks), everyone else reads the replica.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	db := replicaThatNeverCatchesUp(t)
	marks := redis.NewWriteMarks(testenv.RedisClient(t, testenv.RedisURL(t)), time.Minute)
	withMarks := newBundle(t, db, func(c *graph.Config, _ *graph.Resolver) { c.WriteMarks = marks })
	withoutMarks := newBundle(t, db)

	r := withMarks.post(t, withMarks.instructor, `mutation { createCourse(input: {title: "Fresh"}) { id } }`, nil).NoErrors(t)
	id := r.Data["createCourse"].(map[string]any)["id"]
	// Rule 1: the nested course of the new lecture exists only on the primary.
	r = withMarks.post(t, withMarks.instructor, `mutation($id: ID!) { createLecture(input: {courseId: $id, title: "L"}) { course { title } } }`, map[string]any{"id": id}).NoErrors(t)
	withMarks.post(t, withMarks.instructor, `mutation($id: ID!) { publishCourse(id: $id) { published } }`, map[string]any{"id": id}).NoErrors(t)

	read := `query($id: ID!) { course(id: $id) { title lectures { title } } }`
	// Rule 2: the writer sees the write on the next page load.
	withMarks.post(t, withMarks.instructor, read, map[string]any{"id": id}).NoErrors(t)
	// Rule 3: everyone else reads the (here, forever stale) replica.
	if r := withMarks.post(t, withMarks.student, read, map[string]any{"id": id}); r.Code(t) != "NOT_FOUND" {
		t.Errorf("a student read the primary: %s", r.Raw)
	}
	// And without write marks the writer would read the replica too.
	if r := withoutMarks.post(t, withoutMarks.instructor, read, map[string]any{"id": id}); r.Code(t) != "NOT_FOUND" {
		t.Errorf("without write marks the writer read the primary: %s", r.Raw)
	}
}
