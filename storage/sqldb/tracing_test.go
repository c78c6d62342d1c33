package sqldb

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/edustream/edustream"
)

// testTracing: under a recording span, every round trip the query hook
// counts is a client span under it, named after its verb, with the
// statement's text and not its arguments; a failed statement marks its
// span, a row not found does not; outside a trace there are no spans.
func testTracing(t *testing.T, e engine) {
	f := newFixture(t, e)
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	f.Lecture(t, course.ID, "outside any trace", 0)
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans outside a trace", n)
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "resolver")
	queries := recordQueries(t, f.db)
	const secret = "a title only the database may see"
	if err := f.Lectures.CreateLecture(ctx, &edustream.Lecture{CourseID: course.ID, Title: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Courses.FindCourseByID(ctx, 424242); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Fatalf("FindCourseByID of a missing course: %v", err)
	}
	// A lecture of a course that does not exist: the transaction rolls back.
	if err := f.Lectures.CreateLecture(ctx, &edustream.Lecture{CourseID: 424242, Title: "x"}); err == nil {
		t.Fatal("CreateLecture in a missing course succeeded")
	}
	if _, err := f.db.writer().exec(ctx, "UPDATE no_such_table SET x = 1"); err == nil {
		t.Fatal("an UPDATE of a missing table succeeded")
	}
	parent.End()

	system := map[string]string{EngineSQLite: "sqlite", EngineMySQL: "mysql"}[f.db.Engine()]
	var texts []string
	inTx := false
	for _, s := range rec.Ended() {
		if s.Name() == "resolver" {
			continue
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
			if strings.Contains(kv.Value.Emit(), secret) {
				t.Errorf("span %s holds an argument: %s=%s", s.Name(), kv.Key, kv.Value.Emit())
			}
		}
		text := attrs["db.query.text"]
		texts = append(texts, text)
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || attrs["db.system.name"] != system || s.Name() != verb(text) {
			t.Errorf("span %s (parent %v, %v) is not a %s statement under the resolver", s.Name(), s.Parent().SpanID(), attrs, system)
		}
		// The transaction's own statements are the primary's; those
		// between them the transaction's.
		wantPool := "primary"
		switch text {
		case "BEGIN":
			inTx = true
		case "COMMIT", "ROLLBACK":
			inTx = false
		default:
			if inTx {
				wantPool = "tx"
			}
		}
		if pool := attrs["edustream.db.pool"]; pool != wantPool {
			t.Errorf("%s ran on pool %q, want %q", text, pool, wantPool)
		}
		failed := s.Status().Code == codes.Error
		if wantFailed := strings.Contains(text, "no_such_table"); failed != wantFailed {
			t.Errorf("%s: failed %v, want %v (%s)", text, failed, wantFailed, s.Status().Description)
		}
	}
	if got := queries(); !slices.Equal(texts, got) {
		t.Errorf("the spans' statements:\n%q\nthe round trips:\n%q", texts, got)
	}
}

// TestSpanCoversRows: a query's span ends once its rows are read (or
// closed), a row's once it is scanned, so the time spent streaming results
// is in the trace; a query that failed ends its span at once.
func TestSpanCoversRows(t *testing.T) {
	db, err := OpenSQLite(context.Background(), t.TempDir()+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, parent := tp.Tracer("test").Start(context.Background(), "resolver")
	defer parent.End()
	h := db.writer()

	rows, err := h.query(ctx, "SELECT 1 UNION ALL SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans ended before the rows were read", n)
	}
	for rows.Next() {
		if n := len(rec.Ended()); n != 0 {
			t.Fatalf("%d spans ended while rows were read", n)
		}
	}
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("%d spans ended after the last row, want 1", n)
	}
	rows.Close() // again: no second end
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("%d spans ended after Close, want 1", n)
	}

	rows, err = h.query(ctx, "SELECT 1 UNION ALL SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close() // before the end
	if n := len(rec.Ended()); n != 2 {
		t.Fatalf("%d spans ended after an early Close, want 2", n)
	}

	row := h.queryRow(ctx, "SELECT 1")
	if n := len(rec.Ended()); n != 2 {
		t.Fatalf("a row's span ended before Scan")
	}
	var x int
	if err := row.Scan(&x); err != nil || x != 1 {
		t.Fatalf("Scan: %v, %d", err, x)
	}
	if n := len(rec.Ended()); n != 3 {
		t.Fatalf("%d spans ended after Scan, want 3", n)
	}

	if _, err := h.query(ctx, "SELECT * FROM no_such_table"); err == nil {
		t.Fatal("a query of a missing table succeeded")
	}
	ended := rec.Ended()
	if len(ended) != 4 || ended[3].Status().Code != codes.Error {
		t.Fatalf("the failed query's span: %d ended, last %v", len(ended), ended[len(ended)-1].Status())
	}
	// Every slot is back: the pool serves MaxOpenConns statements at once.
	for range cap(db.primary.slots) + 1 {
		if err := h.queryRow(context.Background(), "SELECT 1").Scan(&x); err != nil {
			t.Fatalf("a slot leaked: %v", err)
		}
	}
	if n := len(db.primary.slots); n != 0 {
		t.Errorf("%d slots still held", n)
	}
}
