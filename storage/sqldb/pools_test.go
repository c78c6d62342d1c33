package sqldb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

func TestPoolConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		got := PoolConfig{}.withDefaults()
		want := PoolConfig{
			MaxOpenConns: DefaultMaxOpenConns, MaxIdleConns: DefaultMaxOpenConns,
			ConnMaxLifetime: DefaultConnMaxLifetime, ConnMaxIdleTime: DefaultConnMaxIdleTime, WaitTimeout: DefaultWaitTimeout,
		}
		if got != want {
			t.Errorf("defaults = %+v, want %+v", got, want)
		}
		if got := (PoolConfig{MaxOpenConns: 7}).withDefaults().MaxIdleConns; got != 7 {
			t.Errorf("MaxIdleConns follows MaxOpenConns: got %d, want 7", got)
		}
	})
	t.Run("replica takes the primary's", func(t *testing.T) {
		o, err := resolve([]Option{WithPools(PoolConfig{MaxOpenConns: 3}, PoolConfig{})})
		if err != nil || o.replica.MaxOpenConns != 3 {
			t.Errorf("replica = %+v, %v", o.replica, err)
		}
		o, err = resolve([]Option{WithPools(PoolConfig{MaxOpenConns: 3}, PoolConfig{MaxOpenConns: 9})})
		if err != nil || o.primary.MaxOpenConns != 3 || o.replica.MaxOpenConns != 9 {
			t.Errorf("pools = %+v, %+v, %v", o.primary, o.replica, err)
		}
	})
	for name, c := range map[string]PoolConfig{
		"negative open":       {MaxOpenConns: -1},
		"negative idle":       {MaxIdleConns: -1},
		"idle above open":     {MaxOpenConns: 2, MaxIdleConns: 3},
		"negative lifetime":   {ConnMaxLifetime: -time.Second},
		"negative idle time":  {ConnMaxIdleTime: -time.Second},
		"negative wait":       {WaitTimeout: -time.Second},
		"replica idle > open": {},
	} {
		t.Run(name, func(t *testing.T) {
			opt := WithPools(c, PoolConfig{})
			if name == "replica idle > open" {
				opt = WithPools(PoolConfig{}, PoolConfig{MaxOpenConns: 1, MaxIdleConns: 2})
			}
			if _, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "x.db"), opt); err == nil {
				t.Error("OpenSQLite accepted it")
			}
		})
	}
	t.Run("negative busy timeout", func(t *testing.T) {
		if _, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "x.db"), WithSQLiteBusyTimeout(-1)); err == nil {
			t.Error("OpenSQLite accepted it")
		}
	})
}

// TestPoolWaitTimeout: with every connection taken, a statement waits the
// pool's WaitTimeout and fails with EUNAVAILABLE; a caller whose context
// ends first gets its context's error; once the connection is free again,
// statements run.
func TestPoolWaitTimeout(t *testing.T) {
	pools := WithPools(PoolConfig{MaxOpenConns: 1, WaitTimeout: 50 * time.Millisecond}, PoolConfig{})
	engines := map[string]func(t *testing.T) *DB{
		EngineSQLite: func(t *testing.T) *DB {
			db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "x.db"), pools)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		EngineMySQL: func(t *testing.T) *DB {
			db, err := OpenMySQL(context.Background(), testenv.MySQLDSN(t), "", pools)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			courses := NewCourseService(db, nil)
			held, free := make(chan struct{}), make(chan struct{})
			txDone := make(chan error, 1)
			go func() {
				txDone <- db.inTx(context.Background(), func(tx handle) error {
					close(held)
					<-free
					return nil
				})
			}()
			<-held

			start := time.Now()
			_, err := courses.FindCourseByID(context.Background(), 1)
			if code := edustream.ErrorCode(err); code != edustream.EUNAVAILABLE || !errors.Is(err, errPoolTimeout) {
				t.Errorf("read with the pool full: %v (code %q), want EUNAVAILABLE from the pool's wait", err, code)
			}
			if waited := time.Since(start); waited < 50*time.Millisecond {
				t.Errorf("gave up after %v, before the wait timeout", waited)
			}
			if err := db.inTx(context.Background(), func(handle) error { return nil }); edustream.ErrorCode(err) != edustream.EUNAVAILABLE {
				t.Errorf("transaction with the pool full: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := courses.FindCourseByID(ctx, 1); !errors.Is(err, context.Canceled) || edustream.ErrorCode(err) == edustream.EUNAVAILABLE {
				t.Errorf("cancelled read with the pool full: %v, want context.Canceled", err)
			}

			// The read and the transaction ran out of time, the
			// cancelled read gave up first: three waits, two timeouts.
			if w := db.PrimaryWaits(); w.Waits != 3 || w.Timeouts != 2 || w.Waited < 100*time.Millisecond {
				t.Errorf("PrimaryWaits = %+v, want 3 waits, 2 timeouts, at least 100ms", w)
			}
			if w := db.ReplicaWaits(); w != (PoolWaits{}) {
				t.Errorf("ReplicaWaits without a replica = %+v", w)
			}

			close(free)
			if err := <-txDone; err != nil {
				t.Fatal(err)
			}
			if _, err := courses.FindCourseByID(context.Background(), 1); edustream.ErrorCode(err) != edustream.ENOTFOUND {
				t.Errorf("read with the pool free again: %v, want ENOTFOUND", err)
			}
		})
	}
}

// TestPoolBoundMySQL: a burst far above the bound never opens more than
// MaxOpenConns connections on the server, and the connections are kept
// between bursts rather than dialled again.
func TestPoolBoundMySQL(t *testing.T) {
	m := testenv.StartMariaDB(t)
	const bound = 5
	db, err := OpenMySQL(context.Background(), m.DSN(), "",
		WithPools(PoolConfig{MaxOpenConns: bound, WaitTimeout: testenv.WaitLimit}, PoolConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := fixtureOn(db)
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)

	// Connections the application's user has open on the server, and how
	// many it ever dialled.
	userConns := func() int {
		var n int
		fmt.Sscan(m.QueryString(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", testenv.MariaDBUser), &n)
		return n
	}
	// Which connections they are: the same ids after more bursts means
	// nothing was closed and dialled again.
	connIDs := func() string {
		return m.QueryString(t, "SELECT GROUP_CONCAT(ID ORDER BY ID) FROM information_schema.PROCESSLIST WHERE USER = ?", testenv.MariaDBUser)
	}

	var maxSeen atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(userConns()); n > maxSeen.Load() {
				maxSeen.Store(n)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	burst := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for range 200 {
			wg.Go(func() {
				// A slow statement, so the burst really overlaps.
				var x int
				if err := db.writer().queryRow(context.Background(), "SELECT SLEEP(0.01)").Scan(&x); err != nil {
					errs <- err
				}
				if _, err := f.Courses.FindCourseByID(context.Background(), course.ID); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("burst: %v", err)
		}
	}
	burst()
	before := connIDs()
	burst()
	burst()
	close(stop)
	<-sampled

	if got := maxSeen.Load(); got > bound || got == 0 {
		t.Errorf("the server saw up to %d connections of the application, bound %d", got, bound)
	}
	if s := db.primary.db.Stats(); s.OpenConnections > bound || s.MaxOpenConnections != bound {
		t.Errorf("pool stats %+v, bound %d", s, bound)
	}
	if idle := db.primary.db.Stats().Idle; idle != bound {
		t.Errorf("%d connections kept idle after the bursts, want %d", idle, bound)
	}
	if after := connIDs(); after != before {
		t.Errorf("connections churned between bursts: ids %s, then %s", before, after)
	}
}

// TestSQLiteHandlesBounded: thousands of concurrent reads leave the
// database's files open at most MaxOpenConns times over.
func TestSQLiteHandlesBounded(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd to count file handles")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "edustream.db")
	const bound = 4
	db, err := OpenSQLite(context.Background(), path, WithPools(PoolConfig{MaxOpenConns: bound, WaitTimeout: testenv.WaitLimit}, PoolConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := fixtureOn(db)
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)

	// Handles on the database's files (the file, its -wal and -shm).
	handles := func() int {
		entries, _ := os.ReadDir("/proc/self/fd")
		n := 0
		for _, e := range entries {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(target, path) {
				n++
			}
		}
		return n
	}
	var maxSeen atomic.Int64
	var wg sync.WaitGroup
	for i := range 5000 {
		wg.Go(func() {
			if _, err := f.Courses.FindCourseByID(context.Background(), course.ID); err != nil {
				t.Errorf("read: %v", err)
			}
			if i%100 == 0 {
				if n := int64(handles()); n > maxSeen.Load() {
					maxSeen.Store(n)
				}
			}
		})
	}
	wg.Wait()
	// Three files per connection at most: the database, its WAL and the
	// shared-memory index.
	if got := maxSeen.Load(); got > 3*bound || got == 0 {
		t.Errorf("up to %d handles on the database during the burst, want at most %d", got, 3*bound)
	}
	if got := handles(); got > 3*bound {
		t.Errorf("%d handles on the database after the burst, want at most %d", got, 3*bound)
	}
}
