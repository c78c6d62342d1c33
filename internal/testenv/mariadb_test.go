package testenv

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestMariaDBReplication checks the harness itself: the replica follows the
// primary, is read-only to the application's user, lags while paused, and
// follows again after each of its stops and the primary's.
func TestMariaDBReplication(t *testing.T) {
	p := StartMariaDBReplication(t)
	primary, replica := openDB(t, p.PrimaryDSN), openDB(t, p.ReplicaDSN)
	ctx := context.Background()
	mustExec(t, primary, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
	insert := func(id int) { t.Helper(); mustExec(t, primary, "INSERT INTO notes VALUES (?, 'x')", id) }
	count := func(db *sql.DB) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM notes").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	insert(1)
	p.WaitReplicaCaughtUp(t)
	if n := count(replica); n != 1 {
		t.Fatalf("replica has %d rows, want 1", n)
	}
	if _, err := replica.ExecContext(ctx, "INSERT INTO notes VALUES (99, 'x')"); err == nil {
		t.Error("the application's user wrote to the read-only replica")
	}

	t.Run("paused replication lags", func(t *testing.T) {
		p.PauseReplication(t)
		insert(2)
		// The replica has received the write but applies nothing.
		p.WaitReplicaReceived(t)
		if n := count(replica); n != 1 {
			t.Errorf("paused replica has %d rows, want 1", n)
		}
		p.ResumeReplication(t)
		p.WaitReplicaCaughtUp(t)
		if n := count(replica); n != 2 {
			t.Errorf("resumed replica has %d rows, want 2", n)
		}
	})

	t.Run("replica stopped and started", func(t *testing.T) {
		p.StopReplica(t)
		if err := replica.PingContext(ctx); err == nil {
			t.Error("the stopped replica answers")
		}
		insert(3)
		p.StartReplica(t)
		p.WaitReplicaCaughtUp(t)
		if n := count(replica); n != 3 {
			t.Errorf("restarted replica has %d rows, want 3", n)
		}
	})

	t.Run("primary killed and started", func(t *testing.T) {
		p.KillPrimary(t)
		if err := primary.PingContext(ctx); err == nil {
			t.Error("the killed primary answers")
		}
		if n := count(replica); n != 3 {
			t.Errorf("replica without its primary has %d rows, want 3", n)
		}
		p.StartPrimary(t)
		insert(4)
		p.WaitReplicaCaughtUp(t)
		if n := count(replica); n != 4 {
			t.Errorf("replica after the primary's restart has %d rows, want 4", n)
		}
	})
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
