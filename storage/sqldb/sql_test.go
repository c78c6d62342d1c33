package sqldb

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/storage/storetest"
)

// testSQL is what the conformance suite (storage/storetest) cannot see
// through the domain's interfaces, run on every engine: migrations, round
// trips, the mapping of driver errors, and the rows writes leave behind.
func testSQL(t *testing.T, e engine) {
	t.Run("Migrate", func(t *testing.T) { t.Parallel(); testMigrate(t, e) })
	t.Run("QueryHook", func(t *testing.T) { t.Parallel(); testQueryHook(t, e) })
	t.Run("Errors", func(t *testing.T) { t.Parallel(); testErrors(t, e) })
	t.Run("Rows", func(t *testing.T) { t.Parallel(); testRows(t, e) })
	t.Run("Tracing", func(t *testing.T) { t.Parallel(); testTracing(t, e) })
	t.Run("Search", func(t *testing.T) { t.Parallel(); testSearchSQL(t, e) })
}

func testMigrate(t *testing.T, e engine) {
	ctx := context.Background()
	loc := e.location(t)
	migs, err := loadMigrations(e.open(t, loc).Engine())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("concurrent first run", func(t *testing.T) {
		// Several processes starting at once: each has its own pool.
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			db := e.open(t, loc)
			wg.Go(func() { errs[i] = db.Migrate(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate #%d: %v", i, err)
			}
		}
	})

	f := fixtureOn(e.open(t, loc))
	u := f.User(t, "keep", edustream.RoleStudent)

	t.Run("second run is a no-op", func(t *testing.T) {
		queries := recordQueries(t, f.db)
		for range 2 {
			if err := f.db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range queries() {
			if strings.Contains(q, "CREATE TABLE users") || strings.Contains(q, "INSERT INTO schema_migrations") {
				t.Errorf("Migrate re-applied: %s", q)
			}
		}
		if n := f.count(t, "SELECT COUNT(*) FROM schema_migrations"); n != len(migs) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
		}
		got, err := f.Users.FindUsersByIDs(ctx, []int64{u.ID})
		if err != nil || got[u.ID] == nil {
			t.Errorf("user lost after re-migrating: %v, %v", got, err)
		}
	})

	t.Run("versions recorded", func(t *testing.T) {
		for _, m := range migs {
			if n := f.count(t, "SELECT COUNT(*) FROM schema_migrations WHERE version = ? AND applied_at IS NOT NULL", m.version); n != 1 {
				t.Errorf("version %d recorded %d times", m.version, n)
			}
		}
	})
}

func testQueryHook(t *testing.T, e engine) {
	ctx := context.Background()
	f := newFixture(t, e)
	inst := f.User(t, "inst", edustream.RoleInstructor)
	var courseIDs []int64
	for i := range 50 {
		c := f.Course(t, inst.ID, fmt.Sprintf("c%d", i), true)
		courseIDs = append(courseIDs, c.ID)
		if i%5 == 0 {
			f.Lecture(t, c.ID, "l", 0)
		}
	}
	lectures, err := f.Lectures.FindLecturesByCourseIDs(ctx, courseIDs)
	if err != nil {
		t.Fatal(err)
	}
	var lectureIDs []int64
	for _, ls := range lectures {
		lectureIDs = append(lectureIDs, ls[0].ID)
	}

	tests := []struct {
		name string
		do   func() error
		want int
	}{
		{"FindLecturesByCourseIDs of 50", func() error { _, err := f.Lectures.FindLecturesByCourseIDs(ctx, courseIDs); return err }, 1},
		{"FindLecturesByIDs", func() error { _, err := f.Lectures.FindLecturesByIDs(ctx, lectureIDs); return err }, 1},
		{"FindCoursesByIDs of 50", func() error { _, err := f.Courses.FindCoursesByIDs(ctx, courseIDs); return err }, 1},
		{"FindUsersByIDs", func() error { _, err := f.Users.FindUsersByIDs(ctx, []int64{inst.ID, 2, 3}); return err }, 1},
		{"FindEnrollments", func() error { _, err := f.Enrollments.FindEnrollments(ctx, inst.ID, courseIDs); return err }, 1},
		{"FindCourses", func() error {
			_, _, err := f.Courses.FindCourses(ctx, edustream.CourseFilter{MineOf: inst.ID, DraftsOf: inst.ID, BeforeID: 1000, Limit: 20})
			return err
		}, 1},
		{"empty ids", func() error {
			_, err1 := f.Lectures.FindLecturesByCourseIDs(ctx, nil)
			_, err2 := f.Courses.FindCoursesByIDs(ctx, nil)
			_, err3 := f.Users.FindUsersByIDs(ctx, nil)
			_, err4 := f.Lectures.FindLecturesByIDs(ctx, nil)
			_, err5 := f.Enrollments.FindEnrollments(ctx, inst.ID, nil)
			return cmpErrs(err1, err2, err3, err4, err5)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queries := recordQueries(t, f.db)
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			if got := queries(); len(got) != tt.want {
				t.Errorf("%d round trips, want %d: %q", len(got), tt.want, got)
			}
		})
	}
	t.Run("transactions count BEGIN and COMMIT", func(t *testing.T) {
		queries := recordQueries(t, f.db)
		f.Lecture(t, courseIDs[1], "x", 1)
		got := queries()
		if len(got) < 3 || got[0] != "BEGIN" || got[len(got)-1] != "COMMIT" {
			t.Errorf("CreateLecture round trips = %q", got)
		}
	})
	t.Run("failed transactions count ROLLBACK", func(t *testing.T) {
		queries := recordQueries(t, f.db)
		_, err := f.Lectures.MoveLecture(ctx, 424242, 1)
		storetest.WantCode(t, err, edustream.ENOTFOUND, "")
		_ = f.Lectures.CreateLecture(ctx, &edustream.Lecture{CourseID: 424242, Title: "x"})
		if got := queries(); got[len(got)-1] != "ROLLBACK" {
			t.Errorf("failed CreateLecture round trips = %q", got)
		}
	})
}

func cmpErrs(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func testErrors(t *testing.T, e engine) {
	ctx := context.Background()
	f := newFixture(t, e)
	u := f.User(t, "dup", edustream.RoleStudent)

	t.Run("duplicate key is a conflict", func(t *testing.T) {
		_, err := f.db.writer().exec(ctx,
			"INSERT INTO users (subject, email, name, role, created_at, updated_at) VALUES (?, '', '', 'STUDENT', ?, ?)",
			u.Subject, utcMicro(time.Now()), utcMicro(time.Now()))
		if err == nil {
			t.Fatal("duplicate subject inserted")
		}
		storetest.WantCode(t, dbError(err, "create", "user", 0), edustream.ECONFLICT, "user already exists")
	})
	t.Run("foreign keys are enforced", func(t *testing.T) {
		err := f.Courses.CreateCourse(ctx, &edustream.Course{InstructorID: 424242, Title: "orphan"})
		if err == nil {
			t.Fatal("course with a missing instructor created")
		}
		if code := edustream.ErrorCode(err); code != edustream.EINTERNAL {
			t.Errorf("code = %q (%v)", code, err)
		}
		if !strings.Contains(err.Error(), "create course") {
			t.Errorf("internal error %q lacks context", err)
		}
		start := time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC)
		err = f.Live.CreateLiveSession(ctx, &edustream.LiveSession{CourseID: 1, CreatorID: 424242, Title: "x", MeetingID: "m3", StartsAt: start, EndsAt: start})
		storetest.WantCode(t, err, edustream.EINTERNAL, "")
	})
	t.Run("cancelled context stays internal", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := f.Courses.FindCourseByID(cancelled, 1)
		if code := edustream.ErrorCode(err); code != edustream.EINTERNAL {
			t.Errorf("code = %q (%v)", code, err)
		}
		if !strings.Contains(err.Error(), "find course 1") {
			t.Errorf("error %q lacks context", err)
		}
	})
}

// testRows checks the rows that writes leave behind, which no reader sees.
func testRows(t *testing.T, e engine) {
	ctx := context.Background()
	f := newFixture(t, e)
	inst := f.User(t, "inst", edustream.RoleInstructor)
	student := f.User(t, "student", edustream.RoleStudent)

	t.Run("enrolling twice keeps one row", func(t *testing.T) {
		c := f.Course(t, inst.ID, "twice", true)
		for range 2 {
			if _, err := f.Enrollments.Enroll(ctx, student.ID, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.count(t, "SELECT COUNT(*) FROM enrollments WHERE user_id = ?", student.ID); n != 1 {
			t.Errorf("%d enrollments", n)
		}
	})
	t.Run("a purge deletes the course's rows", func(t *testing.T) {
		doomed := f.Course(t, inst.ID, "doomed", true)
		f.Lecture(t, doomed.ID, "l1", 0)
		f.Lecture(t, doomed.ID, "l2", 0)
		if _, err := f.Enrollments.Enroll(ctx, student.ID, doomed.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.Courses.HideCourse(ctx, doomed.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.Courses.PurgeCourse(ctx, doomed.ID); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"SELECT COUNT(*) FROM courses WHERE id = ?",
			"SELECT COUNT(*) FROM lectures WHERE course_id = ?",
			"SELECT COUNT(*) FROM enrollments WHERE course_id = ?",
		} {
			if n := f.count(t, q, doomed.ID); n != 0 {
				t.Errorf("%s = %d after purge", q, n)
			}
		}
	})
	t.Run("a provider has one token row", func(t *testing.T) {
		for _, tok := range []edustream.OAuthToken{{AccessToken: "access-1"}, {AccessToken: "access-2"}} {
			if err := f.Tokens.SaveOAuthToken(ctx, "webex", tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.count(t, "SELECT COUNT(*) FROM oauth_tokens"); n != 1 {
			t.Errorf("%d token rows, want 1", n)
		}
	})
}
