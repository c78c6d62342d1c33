package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
)

// logRecords is a slog handler that keeps what is logged, for tests of
// what is logged at which level.
type logRecords struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// at returns the messages logged at level.
func (l *logRecords) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level == level {
			out = append(out, r.Message)
		}
	}
	return out
}

// logTo serves h with every request's logger writing to l, as the
// server's middleware gives each request a logger of its own.
func logTo(l *logRecords, h http.Handler) http.Handler {
	logger := slog.New(l)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(edustream.NewContextWithLogger(r.Context(), logger)))
	})
}

// cancellingCourses is a course store whose client goes away during
// each read of a course: the read returns the context's error, as a
// driver does.
type cancellingCourses struct {
	edustream.CourseService
	cancel context.CancelFunc
}

func (c *cancellingCourses) FindCourseByID(ctx context.Context, id int64) (*edustream.Course, error) {
	c.cancel()
	return nil, fmt.Errorf("find course %d: %w", id, ctx.Err())
}

func (c *cancellingCourses) FindCoursesByIDs(ctx context.Context, ids []int64) (map[int64]*edustream.Course, error) {
	c.cancel()
	return nil, fmt.Errorf("find courses: %w", ctx.Err())
}

// A client that goes away, before or while its operation runs, is
// logged at INFO, not ERROR: there is nothing for an operator to do.
func TestAbandonedOperationIsNotAnError(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"before", "while"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var opts []option
			if when == "while" {
				opts = append(opts, func(_ *graph.Config, r *graph.Resolver) {
					r.CourseService = &cancellingCourses{CourseService: r.CourseService, cancel: cancel}
				})
			} else {
				cancel()
			}
			b := setup(t, opts...)
			logs := &logRecords{}
			req, _ := http.NewRequestWithContext(ctx, "POST", "/query", strings.NewReader(`{"query":"{ course(id: 1) { title } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req = req.WithContext(edustream.NewContextWithUser(req.Context(), b.student))
			logTo(logs, b.handler).ServeHTTP(httptest.NewRecorder(), req)
			if errs := logs.at(slog.LevelError); len(errs) > 0 {
				t.Errorf("logged at ERROR: %q", errs)
			}
			infos := logs.at(slog.LevelInfo)
			t.Logf("INFO: %q", infos)
			if !slices.ContainsFunc(infos, func(m string) bool { return strings.Contains(m, "abandoned by its client") }) {
				t.Errorf("INFO lines %q lack the abandoned operation", infos)
			}
		})
	}
}
