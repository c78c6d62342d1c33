package graph_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

func TestHTTPRefusals(t *testing.T) {
	b := setup(t)
	b.seedCourse(t, b.instructor, "Existing", 1, true)
	before := b.snapshot(t)
	huge := `{"query":"mutation { createCourse(input: {title: \"` + strings.Repeat("x", 5<<20) + `\"}) { id } }"}`

	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		status      int
		message     string
	}{
		{"5 MB body", http.MethodPost, "/query", "application/json", huge, http.StatusRequestEntityTooLarge, "larger than"},
		{"malformed JSON", http.MethodPost, "/query", "application/json", `{"query": "{ me { id } }"`, http.StatusBadRequest, "not valid JSON"},
		{"JSON that is not an object", http.MethodPost, "/query", "application/json", `"{ me { id } }"`, http.StatusBadRequest, "must be a JSON object"},
		{"mutation over GET", http.MethodGet, "/query?query=" + url.QueryEscape(`mutation { createCourse(input: {title: "x"}) { id } }`), "", "", http.StatusMethodNotAllowed, "queries only"},
		{"form body", http.MethodPost, "/query", "application/x-www-form-urlencoded", `query=mutation+{+deleteCourse(id:+1)+}`, http.StatusUnsupportedMediaType, "application/json"},
		{"no content type", http.MethodPost, "/query", "", `{"query": "{ me { id } }"}`, http.StatusUnsupportedMediaType, "application/json"},
		{"PUT", http.MethodPut, "/query", "application/json", `{"query": "{ me { id } }"}`, http.StatusMethodNotAllowed, "use POST"},
		{"GET with malformed variables", http.MethodGet, "/query?variables=%7Bnope&query=" + url.QueryEscape(`{ me { id } }`), "", "", http.StatusBadRequest, "variables is not valid JSON"},
		{"GET with a syntax error", http.MethodGet, "/query?query=" + url.QueryEscape(`{ me { id }`), "", "", http.StatusOK, "Expected"},
		{"named mutation over GET", http.MethodGet, "/query?operationName=M&query=" + url.QueryEscape(`query Q { me { id } } mutation M { deleteCourse(id: 1) }`), "", "", http.StatusMethodNotAllowed, "queries only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.raw(t, b.admin, tt.method, tt.target, tt.contentType, []byte(tt.body))
			if r.Status != tt.status {
				t.Errorf("status = %d, want %d: %.300s", r.Status, tt.status, r.Raw)
			}
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tt.message) {
				t.Fatalf("errors = %.300s, want one mentioning %q", r.Raw, tt.message)
			}
			if len(r.Raw) > 10000 {
				t.Errorf("the error echoes the request back: %d bytes", len(r.Raw))
			}
		})
	}
	if after := b.snapshot(t); after != before {
		t.Errorf("refused requests changed the database")
	}

	r := b.get(t, b.student, `{ courses { edges { node { title } } } }`).noErrors(t)
	if !strings.Contains(r.Raw, "Existing") {
		t.Errorf("a query over GET: %s", r.Raw)
	}
}

// A failing backend reaches the caller as INTERNAL, without its details.
func TestInternalErrorsAreHidden(t *testing.T) {
	b := setup(t)
	b.db.Close()
	r := b.post(t, b.student, `{ courses { edges { node { title } } } }`, nil)
	if r.code(t) != "INTERNAL" || r.Errors[0].Message != "internal error" {
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
	b := setup(t, func(_ *graph.Config, r *graph.Resolver) { r.CourseService = panickingCourses{r.CourseService} })
	r := b.post(t, b.student, `{ courses { edges { node { title } } } }`, nil)
	if r.code(t) != "INTERNAL" || r.Errors[0].Message != "internal error" || strings.Contains(r.Raw, "boom") {
		t.Errorf("got %s, want one bare internal error", r.Raw)
	}
	b.post(t, b.student, `{ me { name } }`, nil).noErrors(t)
}

func TestIntrospectionSwitch(t *testing.T) {
	const query = `{ __schema { queryType { name } } }`
	on := setup(t)
	on.post(t, nil, query, nil).noErrors(t)
	off := setup(t, func(c *graph.Config, _ *graph.Resolver) { c.Introspection = false })
	if r := off.post(t, nil, query, nil); r.code(t) != "BAD_USER_INPUT" {
		t.Errorf("introspection while disabled: %s", r.Raw)
	}
}

func TestPrivateCatalog(t *testing.T) {
	b := setup(t, func(_ *graph.Config, r *graph.Resolver) { r.PublicCatalog = false })
	c := b.seedCourse(t, b.instructor, "Members only", 1, true)
	if r := b.post(t, nil, `{ courses { edges { cursor } } }`, nil); r.code(t) != "UNAUTHENTICATED" {
		t.Errorf("anonymous catalog: %s", r.Raw)
	}
	if r := b.post(t, nil, `query($id: ID!) { course(id: $id) { title } }`, map[string]any{"id": idOf(c)}); r.code(t) != "UNAUTHENTICATED" {
		t.Errorf("anonymous course: %s", r.Raw)
	}
	b.post(t, b.student, `query($id: ID!) { course(id: $id) { title } }`, map[string]any{"id": idOf(c)}).noErrors(t)
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
	db := replicaThatNeverCatchesUp(t)
	opts, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	marks := redis.NewWriteMarks(rdb, time.Minute)
	withMarks := newBundle(t, db, func(c *graph.Config, _ *graph.Resolver) { c.WriteMarks = marks })
	withoutMarks := newBundle(t, db)

	r := withMarks.post(t, withMarks.instructor, `mutation { createCourse(input: {title: "Fresh"}) { id } }`, nil).noErrors(t)
	id := r.Data["createCourse"].(map[string]any)["id"]
	// Rule 1: the nested course of the new lecture exists only on the primary.
	r = withMarks.post(t, withMarks.instructor, `mutation($id: ID!) { createLecture(input: {courseId: $id, title: "L"}) { course { title } } }`, map[string]any{"id": id}).noErrors(t)
	withMarks.post(t, withMarks.instructor, `mutation($id: ID!) { publishCourse(id: $id) { published } }`, map[string]any{"id": id}).noErrors(t)

	read := `query($id: ID!) { course(id: $id) { title lectures { title } } }`
	// Rule 2: the writer sees the write on the next page load.
	withMarks.post(t, withMarks.instructor, read, map[string]any{"id": id}).noErrors(t)
	// Rule 3: everyone else reads the (here, forever stale) replica.
	if r := withMarks.post(t, withMarks.student, read, map[string]any{"id": id}); r.code(t) != "NOT_FOUND" {
		t.Errorf("a student read the primary: %s", r.Raw)
	}
	// And without write marks the writer would read the replica too.
	if r := withoutMarks.post(t, withoutMarks.instructor, read, map[string]any{"id": id}); r.code(t) != "NOT_FOUND" {
		t.Errorf("without write marks the writer read the primary: %s", r.Raw)
	}
}
