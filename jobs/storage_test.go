package jobs_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/storage/sqldb"
)

// These tests run the jobs against the real storage on SQLite and a real
// Redis (miniredis unless EDUSTREAM_TEST_REDIS_URL is set).

type bundle struct {
	db          *sqldb.DB
	rdb         *redis.Client
	courses     *sqldb.CourseService
	lectures    *sqldb.LectureService
	enrollments *sqldb.EnrollmentService
	users       *sqldb.UserService
	// raw reads the tables directly, to see rows the services hide.
	raw *sql.DB
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "edustream.db")
	db, err := sqldb.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return &bundle{
		db:          db,
		rdb:         rdb,
		courses:     sqldb.NewCourseService(db, nil),
		lectures:    sqldb.NewLectureService(db, nil),
		enrollments: sqldb.NewEnrollmentService(db, nil),
		users:       sqldb.NewUserService(db),
		raw:         raw,
	}
}

// course creates a published course with two lectures and one enrolled
// student.
func (b *bundle) course(t *testing.T, title string) int64 {
	t.Helper()
	ctx := context.Background()
	teacher, err := b.users.UpsertUser(ctx, edustream.Claims{Subject: "teacher-" + title, Role: edustream.RoleInstructor, Name: "T"})
	if err != nil {
		t.Fatal(err)
	}
	student, err := b.users.UpsertUser(ctx, edustream.Claims{Subject: "student-" + title, Role: edustream.RoleStudent, Name: "S"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := &edustream.Course{InstructorID: teacher.ID, Title: title, PublishedAt: &now}
	if err := b.courses.CreateCourse(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, lt := range []string{"One", "Two"} {
		if err := b.lectures.CreateLecture(ctx, &edustream.Lecture{CourseID: c.ID, Title: lt}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.enrollments.Enroll(ctx, student.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := b.rows(t, c.ID); got != 4 {
		t.Fatalf("course %d has %d rows after setup, want 4 (course, 2 lectures, 1 enrollment)", c.ID, got)
	}
	return c.ID
}

// rows counts the course's rows in courses, lectures and enrollments.
func (b *bundle) rows(t *testing.T, courseID int64) int {
	t.Helper()
	var n int
	err := b.raw.QueryRow(`SELECT
		(SELECT COUNT(*) FROM courses WHERE id = ?) +
		(SELECT COUNT(*) FROM lectures WHERE course_id = ?) +
		(SELECT COUNT(*) FROM enrollments WHERE course_id = ?)`, courseID, courseID, courseID).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// runWorker runs a worker until the test ends.
func (b *bundle) runWorker(t *testing.T, cfg jobs.WorkerConfig) {
	t.Helper()
	cfg.PollInterval = 20 * time.Millisecond
	deps := jobs.Deps{Courses: b.courses, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	runUntilStopped(t, jobs.NewWorker(b.rdb, cfg, deps))
}

// runUntilStopped runs w until stop is called or the test ends, and checks
// that it stops cleanly.
func runUntilStopped(t testing.TB, w *jobs.Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Worker.Run: %v", err)
				}
			case <-time.After(testenv.WaitLimit):
				t.Error("Worker.Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestPurgeEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	hidden := b.course(t, "Hidden")
	visible := b.course(t, "Visible")
	if err := b.courses.HideCourse(ctx, hidden); err != nil {
		t.Fatal(err)
	}

	q := jobs.NewQueue(b.rdb)
	if err := q.EnqueueCoursePurge(ctx, hidden); err != nil {
		t.Fatal(err)
	}
	// A stray purge of a visible course must be refused and never retried.
	if err := q.EnqueueCoursePurge(ctx, visible); err != nil {
		t.Fatal(err)
	}
	// The reconciler is off, so the Queue alone brings the purge.
	b.runWorker(t, jobs.WorkerConfig{ReconcileInterval: -1})

	testenv.Eventually(t, "the hidden course to be purged", func() bool { return b.rows(t, hidden) == 0 })
	ids, err := b.courses.FindHiddenCourseIDs(ctx)
	if err != nil || slices.Contains(ids, hidden) {
		t.Errorf("FindHiddenCourseIDs = %v, %v; want no %d", ids, err, hidden)
	}

	ins := asynq.NewInspectorFromRedisClient(b.rdb)
	testenv.Eventually(t, "the stray purge to be archived", func() bool {
		info, err := ins.GetTaskInfo("default", jobs.CoursePurgeTaskID(visible))
		return err == nil && info.State == asynq.TaskStateArchived
	})
	if got := b.rows(t, visible); got != 4 {
		t.Errorf("visible course has %d rows after a stray purge, want 4", got)
	}
	if _, err := b.courses.FindCourseByID(ctx, visible); err != nil {
		t.Errorf("FindCourseByID(visible) = %v", err)
	}
}

// Redis lost the task (restart, dev's in-memory Redis, a failed enqueue): the
// worker finds the hidden course in the database at start and purges it.
func TestReconcilerPurgesHiddenCourseAtStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := b.course(t, "Forgotten")
	if err := b.courses.HideCourse(ctx, id); err != nil {
		t.Fatal(err)
	}
	// Nothing is enqueued. The interval is long: only the start-up round
	// can do the purge within the test.
	b.runWorker(t, jobs.WorkerConfig{ReconcileInterval: time.Hour})

	testenv.Eventually(t, "the hidden course to be purged", func() bool { return b.rows(t, id) == 0 })
	if _, err := b.courses.FindCourseByID(ctx, id); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("FindCourseByID after purge = %v, want ENOTFOUND", err)
	}
}
