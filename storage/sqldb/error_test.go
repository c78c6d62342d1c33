package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// TestTemporaryErrors table-tests the classification; the tests below
// provoke each failure they can on real engines.
func TestTemporaryErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"bad connection", driver.ErrBadConn, true},
		{"invalid connection", mysql.ErrInvalidConn, true},
		{"pool wait timeout", fmt.Errorf("primary pool: %w", errPoolTimeout), true},
		{"too many connections", &mysql.MySQLError{Number: 1040}, true},
		{"too many user connections", &mysql.MySQLError{Number: 1203}, true},
		{"user resource limit", &mysql.MySQLError{Number: 1226}, true},
		{"lock wait timeout", &mysql.MySQLError{Number: 1205}, true},
		{"deadlock", &mysql.MySQLError{Number: 1213}, true},
		{"server shutdown", &mysql.MySQLError{Number: 1053}, true},
		{"query interrupted", &mysql.MySQLError{Number: 1317}, true},
		{"connection killed", &mysql.MySQLError{Number: 1927}, true},
		{"server gone away", &mysql.MySQLError{Number: 2006}, true},
		{"server lost", &mysql.MySQLError{Number: 2013}, true},
		{"idle session closed", &mysql.MySQLError{Number: 4031}, true},
		{"duplicate key", &mysql.MySQLError{Number: 1062}, false},
		{"no such table", &mysql.MySQLError{Number: 1146}, false},
		{"syntax error", &mysql.MySQLError{Number: 1064}, false},
		{"no rows", sql.ErrNoRows, false},
		{"caller cancelled", context.Canceled, false},
		{"caller's deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"anything else", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dbError(temporary(tt.err), "find", "course", 42)
			code := edustream.ErrorCode(err)
			if got := code == edustream.EUNAVAILABLE; got != tt.want {
				t.Fatalf("%v: code %q, want unavailable %v", tt.err, code, tt.want)
			}
			if !tt.want {
				return
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap its cause", err)
			}
			if msg := edustream.ErrorMessage(err); strings.Contains(msg, tt.err.Error()) || msg == "" {
				t.Errorf("message %q shows the cause or is empty", msg)
			}
			if !strings.Contains(err.Error(), "find course 42") || !strings.Contains(err.Error(), tt.err.Error()) {
				t.Errorf("%q lacks the context or the cause, for the logs", err)
			}
			if temporary(err) != err {
				t.Error("temporary wraps an EUNAVAILABLE twice")
			}
		})
	}
}

// TestTemporaryErrorsMariaDB provokes each temporary failure on a MariaDB
// server of the test's own and checks that the services report it as
// EUNAVAILABLE.
func TestTemporaryErrorsMariaDB(t *testing.T) {
	m := testenv.StartMariaDB(t)
	ctx := context.Background()
	open := func(t *testing.T, dsn string) (*DB, *fixture) {
		t.Helper()
		db, err := OpenMySQL(ctx, dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, fixtureOn(db)
	}
	db, f := open(t, m.DSN())
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)

	wantUnavailable := func(t *testing.T, err error, mysqlNumber uint16) {
		t.Helper()
		if code := edustream.ErrorCode(err); code != edustream.EUNAVAILABLE {
			t.Fatalf("error %v: code %q, want %q", err, code, edustream.EUNAVAILABLE)
		}
		var myErr *mysql.MySQLError
		if mysqlNumber != 0 && (!errors.As(err, &myErr) || myErr.Number != mysqlNumber) {
			t.Errorf("error %v does not wrap MySQL error %d", err, mysqlNumber)
		}
	}
	// holdConn runs fn while the transaction holds db's one idle
	// connection, so whatever fn runs on db must dial a new one.
	holdConn := func(t *testing.T, db *DB, fn func()) {
		t.Helper()
		if err := db.inTx(ctx, func(tx handle) error { fn(); return nil }); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("user resource limit (1226)", func(t *testing.T) {
		m.Exec(t,
			"CREATE USER 'limited'@'127.0.0.1' IDENTIFIED BY 'limited' WITH MAX_USER_CONNECTIONS 1",
			"GRANT ALL PRIVILEGES ON `edustream`.* TO 'limited'@'127.0.0.1'")
		limited, lf := open(t, m.DSNFor("limited", "limited", testenv.MariaDBDatabase))
		holdConn(t, limited, func() {
			_, err := lf.Courses.FindCourseByID(ctx, course.ID)
			wantUnavailable(t, err, 1226)
		})
	})

	t.Run("too many connections (1040)", func(t *testing.T) {
		db, f := open(t, m.DSN())
		// MariaDB's least max_connections is 10: fill them up. Root
		// always gets the one extra connection kept for administrators.
		m.Exec(t, "SET GLOBAL max_connections = 10")
		t.Cleanup(func() { m.Exec(t, "SET GLOBAL max_connections = 151") })
		filler, err := sql.Open("mysql", m.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer filler.Close()
		for i := 0; ; i++ {
			conn, err := filler.Conn(ctx)
			if err != nil {
				break
			}
			defer conn.Close()
			if i > 10 {
				t.Fatal("max_connections = 10 let more than 10 in")
			}
		}
		holdConn(t, db, func() {
			_, err := f.Courses.FindCourseByID(ctx, course.ID)
			wantUnavailable(t, err, 1040)
		})
	})

	t.Run("lock wait timeout (1205)", func(t *testing.T) {
		m.Exec(t, "SET GLOBAL innodb_lock_wait_timeout = 1")
		t.Cleanup(func() { m.Exec(t, "SET GLOBAL innodb_lock_wait_timeout = 50") })
		_, f := open(t, m.DSN()) // its sessions take the global value
		locker, err := sql.Open("mysql", m.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer locker.Close()
		tx, err := locker.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SELECT id FROM courses WHERE id = ? FOR UPDATE", course.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.Courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Title: ptr("waits")})
		wantUnavailable(t, err, 1205)
	})

	t.Run("connection killed", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			var x int
			errc <- db.writer().queryRow(ctx, "SELECT SLEEP(30)").Scan(&x)
		}()
		var id string
		testenv.Eventually(t, "the statement to run", func() bool {
			id, _ = m.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'")
			return id != ""
		})
		m.Exec(t, "KILL CONNECTION "+id)
		wantUnavailable(t, <-errc, 0)
		// The pool drops the dead connection and dials a new one.
		if _, err := f.Courses.FindCourseByID(ctx, course.ID); err != nil {
			t.Errorf("after the kill: %v", err)
		}
	})

	t.Run("server shut down, then refusing, then back", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			var x int
			errc <- db.writer().queryRow(ctx, "SELECT SLEEP(30)").Scan(&x)
		}()
		testenv.Eventually(t, "the statement to run", func() bool {
			id, _ := m.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'")
			return id != ""
		})
		m.Stop(t)
		wantUnavailable(t, <-errc, 0)
		_, err := f.Courses.FindCourseByID(ctx, course.ID)
		wantUnavailable(t, err, 0)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("read with the server down: %v, want connection refused", err)
		}
		err = f.Courses.CreateCourse(ctx, &edustream.Course{InstructorID: inst.ID, Title: "t"})
		wantUnavailable(t, err, 0)
		m.Start(t)
		if _, err := f.Courses.FindCourseByID(ctx, course.ID); err != nil {
			t.Errorf("with the server back: %v", err)
		}
	})
}

// TestSQLiteBusy: a writer that waits out the busy timeout behind another
// one gets EUNAVAILABLE.
func TestSQLiteBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "edustream.db")
	db, err := OpenSQLite(ctx, path, WithSQLiteBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := fixtureOn(db)
	inst := f.User(t, "inst", edustream.RoleInstructor)

	// Another process's writer: a second pool on the same file.
	other, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	held, free := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- other.inTx(ctx, func(handle) error { close(held); <-free; return nil })
	}()
	<-held
	err = f.Courses.CreateCourse(ctx, &edustream.Course{InstructorID: inst.ID, Title: "t"})
	close(free)
	if code := edustream.ErrorCode(err); code != edustream.EUNAVAILABLE {
		t.Errorf("write behind another writer: %v (code %q), want EUNAVAILABLE", err, code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := f.Courses.CreateCourse(ctx, &edustream.Course{InstructorID: inst.ID, Title: "t"}); err != nil {
		t.Errorf("write once the other is done: %v", err)
	}
}
