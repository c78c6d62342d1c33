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
