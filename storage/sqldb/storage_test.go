package sqldb

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/storetest"
)

// engine tells the conformance suite how to get databases of one engine.
type engine struct {
	// location returns the path or DSN of a new, empty database that lives
	// as long as the test.
	location func(t *testing.T) string
	// open opens the database at location, closed when the test ends. It
	// does not migrate.
	open func(t *testing.T, location string) *DB
}

// TestSQLite runs the conformance suite and the SQL tests on SQLite files
// in temporary directories. It always runs.
func TestSQLite(t *testing.T) {
	engine{
		location: func(t *testing.T) string {
			// A directory that does not exist yet: OpenSQLite creates it.
			return filepath.Join(t.TempDir(), "data", "edustream.db")
		},
		open: func(t *testing.T, path string) *DB {
			t.Helper()
			db, err := OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}.test(t)
}

// TestMySQL runs the conformance suite and the SQL tests on MySQL or
// MariaDB, one new database per test, when EDUSTREAM_TEST_MYSQL_DSN is set.
func TestMySQL(t *testing.T) {
	testenv.MySQLDSN(t) // skips, or fails where MySQL is required, before any subtest
	engine{
		location: func(t *testing.T) string { return testenv.MySQLDSN(t) },
		open: func(t *testing.T, dsn string) *DB {
			t.Helper()
			db, err := OpenMySQL(context.Background(), dsn, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}.test(t)
}

// test runs the conformance suite, which every store passes, and the tests
// of what only SQL shows, side by side.
func (e engine) test(t *testing.T) {
	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T, now edustream.Clock) storetest.Store {
			t.Helper()
			db := e.open(t, e.location(t))
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			return storeOn(db, now)
		})
	})
	t.Run("SQL", func(t *testing.T) {
		t.Parallel()
		testSQL(t, e)
	})
}

// storeOn returns every service on db, stamping times with now.
func storeOn(db *DB, now edustream.Clock) storetest.Store {
	users := NewUserService(db)
	users.now = clockOrNow(now)
	return storetest.Store{
		Users:       users,
		Courses:     NewCourseService(db, now),
		Lectures:    NewLectureService(db, now),
		Enrollments: NewEnrollmentService(db, now),
		Videos:      NewVideoService(db, now),
		Live:        NewLiveSessionService(db, now),
		Tokens:      NewOAuthTokenService(db, now),
		Audit:       NewAuditLog(db, now),
		Progress:    NewProgressService(db),
	}
}

// fixture is a migrated database with every service on it, and a clock the
// test controls, for the tests that look at the database itself.
type fixture struct {
	db          *DB
	clock       *storetest.Clock
	users       *UserService
	courses     *CourseService
	lectures    *LectureService
	enrollments *EnrollmentService
	live        *LiveSessionService
	tokens      *OAuthTokenService
}

func newFixture(t *testing.T, e engine) *fixture {
	t.Helper()
	db := e.open(t, e.location(t))
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return fixtureOn(db)
}

func fixtureOn(db *DB) *fixture {
	clock := storetest.NewClock()
	users := NewUserService(db)
	users.now = clock.Now
	return &fixture{
		db:          db,
		clock:       clock,
		users:       users,
		courses:     NewCourseService(db, clock.Now),
		lectures:    NewLectureService(db, clock.Now),
		enrollments: NewEnrollmentService(db, clock.Now),
		live:        NewLiveSessionService(db, clock.Now),
		tokens:      NewOAuthTokenService(db, clock.Now),
	}
}

func (f *fixture) user(t *testing.T, subject string, role edustream.Role) *edustream.User {
	t.Helper()
	u, err := f.users.UpsertUser(context.Background(), edustream.Claims{Subject: subject, Role: role, Email: subject + "@example.com", Name: subject})
	if err != nil {
		t.Fatalf("upsert user %s: %v", subject, err)
	}
	return u
}

func (f *fixture) course(t *testing.T, instructorID int64, title string, published bool) *edustream.Course {
	t.Helper()
	c := &edustream.Course{InstructorID: instructorID, Title: title, Description: "About " + title}
	if published {
		at := f.clock.Now()
		c.PublishedAt = &at
	}
	if err := f.courses.CreateCourse(context.Background(), c); err != nil {
		t.Fatalf("create course %s: %v", title, err)
	}
	return c
}

func (f *fixture) hiddenCourse(t *testing.T, instructorID int64, title string) *edustream.Course {
	t.Helper()
	c := f.course(t, instructorID, title, true)
	if err := f.courses.HideCourse(context.Background(), c.ID); err != nil {
		t.Fatalf("hide course %s: %v", title, err)
	}
	return c
}

func (f *fixture) lecture(t *testing.T, courseID int64, title string, position int) *edustream.Lecture {
	t.Helper()
	l := &edustream.Lecture{CourseID: courseID, Title: title, Position: position}
	if err := f.lectures.CreateLecture(context.Background(), l); err != nil {
		t.Fatalf("create lecture %s: %v", title, err)
	}
	return l
}

// count returns the number of rows a query counts, read on the primary.
func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.writer().queryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// recordQueries installs a query hook on db and returns what it saw so far.
func recordQueries(t *testing.T, db *DB) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	db.SetQueryHook(func(q string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, q)
	})
	t.Cleanup(func() { db.SetQueryHook(nil) })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// wantCode fails the test unless err has the domain code (with message, if
// not empty).
func wantCode(t *testing.T, err error, code, message string) {
	t.Helper()
	if got := edustream.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if message != "" && edustream.ErrorMessage(err) != message {
		t.Fatalf("error message = %q, want %q", edustream.ErrorMessage(err), message)
	}
}

func ptr[T any](v T) *T { return &v }
