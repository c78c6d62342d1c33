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
	t.Run("Search", func(t *testing.T) {
		t.Parallel()
		storetest.RunSearch(t, func(t *testing.T, now edustream.Clock) storetest.SearchStore {
			t.Helper()
			db := e.open(t, e.location(t))
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			return searchStoreOn(db, now)
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
		Captions:    NewCaptionService(db, now),
	}
}

// fixture is a migrated database with every service on it, and a clock the
// test controls, for the tests that look at the database itself.
type fixture struct {
	*storetest.Fixture
	db *DB
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
	return &fixture{Fixture: storetest.NewFixture(storeOn(db, clock.Now), clock), db: db}
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

func ptr[T any](v T) *T { return &v }
