package graph_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
)

// failingCourses is a course store whose reads of courses by id fail
// with err while failures is above 0, each read taking one off: a
// database that is down for a while (err an EUNAVAILABLE, as storage
// reports an outage) or broken (any other error).
type failingCourses struct {
	edustream.CourseService
	err      error
	failures atomic.Int64
}

func (f *failingCourses) fail() bool { return f.failures.Add(-1) >= 0 }

func (f *failingCourses) FindCourseByID(ctx context.Context, id int64) (*edustream.Course, error) {
	if f.fail() {
		return nil, f.err
	}
	return f.CourseService.FindCourseByID(ctx, id)
}

func (f *failingCourses) FindCoursesByIDs(ctx context.Context, ids []int64) (map[int64]*edustream.Course, error) {
	if f.fail() {
		return nil, f.err
	}
	return f.CourseService.FindCoursesByIDs(ctx, ids)
}

func (f *failingCourses) FindCourses(ctx context.Context, filter edustream.CourseFilter) ([]*edustream.Course, bool, error) {
	if f.fail() {
		return nil, false, f.err
	}
	return f.CourseService.FindCourses(ctx, filter)
}

// withFailingCourses makes the resolver's course reads fail as f says.
func withFailingCourses(f *failingCourses) option {
	return func(_ *graph.Config, r *graph.Resolver) {
		f.CourseService = r.CourseService
		r.CourseService = f
	}
}

// A database outage reaches the client as UNAVAILABLE with Retry-After;
// a response with nothing else and no data is 503 in
// application/graphql-response+json. Anything else stays INTERNAL.
func TestUnavailableBackend(t *testing.T) {
	t.Parallel()
	down := &failingCourses{err: edustream.Errorf(edustream.EUNAVAILABLE, "the database is unavailable; retry shortly")}
	broken := &failingCourses{err: errors.New("disk on fire")}
	tests := []struct {
		name   string
		store  *failingCourses
		accept string
		// status is that of a response without data.
		status int
		code   string
	}{
		{"outage, graphql-response+json", down, "application/graphql-response+json", 503, "UNAVAILABLE"},
		{"outage, json", down, "application/json", 200, "UNAVAILABLE"},
		{"a fault", broken, "application/graphql-response+json", 200, "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, withFailingCourses(tt.store))
			c := b.seedCourse(t, b.instructor, "Course", 1, true)
			tt.store.failures.Store(1 << 30)
			defer tt.store.failures.Store(0)
			// course is nullable: data is {"course": null}, which is data.
			for _, q := range []struct {
				query  string
				status int
			}{
				{`{"query":"{ course(id: ` + idOf(c) + `) { id } }"}`, 200},
				// A non-null root field: data is null.
				{`{"query":"{ courses { edges { node { id } } } }"}`, tt.status},
			} {
				req := httptest.NewRequest("POST", "/query", strings.NewReader(q.query))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", tt.accept)
				req = req.WithContext(edustream.NewContextWithUser(req.Context(), b.student))
				rec := httptest.NewRecorder()
				b.handler.ServeHTTP(rec, req)
				if rec.Code != q.status || !strings.Contains(rec.Body.String(), `"code":"`+tt.code+`"`) {
					t.Errorf("%s: status %d, body %s; want %d and code %s", q.query, rec.Code, rec.Body, q.status, tt.code)
				}
				if retry := rec.Header().Get("Retry-After") != ""; retry != (tt.code == "UNAVAILABLE") {
					t.Errorf("Retry-After %q on %s", rec.Header().Get("Retry-After"), tt.code)
				}
			}
		})
	}
}
