package sqldb

import (
	"context"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// TestReplication runs the read routing against a real MariaDB primary and
// GTID replica: while the replica lags, reads that must see the caller's
// writes (ReadsPrimary, and every write's read-back) see them and other
// reads see the replica's past; while the replica is down, reads go to the
// primary without an error; once it is back, they return to it.
func TestReplication(t *testing.T) {
	pair := testenv.StartMariaDBReplication(t)
	ctx := context.Background()
	db, err := OpenMySQL(ctx, pair.PrimaryDSN, pair.ReplicaDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := fixtureOn(db)
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "v1", true)
	pair.WaitReplicaCaughtUp(t)

	primaryCtx := edustream.NewContextReadingPrimary(ctx)
	title := func(t *testing.T, ctx context.Context) string {
		t.Helper()
		c, err := f.Courses.FindCourseByID(ctx, course.ID)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return c.Title
	}
	update := func(t *testing.T, title string) {
		t.Helper()
		c, err := f.Courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Title: &title})
		if err != nil {
			t.Fatal(err)
		}
		if c.Title != title {
			t.Fatalf("UpdateCourse returned %q, want %q: its read-back missed its write", c.Title, title)
		}
	}
	if got := title(t, ctx); got != "v1" {
		t.Fatalf("replica read %q before any lag", got)
	}

	t.Run("replica lags", func(t *testing.T) {
		pair.PauseReplication(t)
		update(t, "v2")
		pair.WaitReplicaReceived(t) // the write reached the replica, unapplied
		if got := title(t, primaryCtx); got != "v2" {
			t.Errorf("a read of the writer's own write (ReadsPrimary) got %q, want v2", got)
		}
		if got := title(t, ctx); got != "v1" {
			t.Errorf("a plain read got %q, want the replica's stale v1", got)
		}
		pair.ResumeReplication(t)
		pair.WaitReplicaCaughtUp(t)
		if got := title(t, ctx); got != "v2" {
			t.Errorf("after catching up the replica has %q, want v2", got)
		}
	})

	t.Run("replica down", func(t *testing.T) {
		pair.StopReplica(t)
		update(t, "v3")
		if got := title(t, ctx); got != "v3" {
			t.Errorf("a plain read with the replica down got %q, want v3 from the primary", got)
		}
		if !db.ReplicaDown() {
			t.Error("the replica is not marked down")
		}
		if err := db.PingPrimary(ctx); err != nil {
			t.Errorf("PingPrimary: %v", err)
		}
		if err := db.PingReplica(ctx); err == nil {
			t.Error("PingReplica succeeded with the replica down")
		}
		lectures, err := f.Lectures.FindLecturesByCourseIDs(ctx, []int64{course.ID})
		if err != nil || len(lectures[course.ID]) != 0 {
			t.Errorf("a list read with the replica down: %v, %v", lectures, err)
		}
	})

	t.Run("replica back", func(t *testing.T) {
		pair.StartReplica(t)
		pair.WaitReplicaCaughtUp(t)
		testenv.Eventually(t, "the replica to be found back", func() bool { return !db.ReplicaDown() })
		// Reads are on the replica again: a write it has not applied
		// is not seen.
		pair.PauseReplication(t)
		update(t, "v4")
		pair.WaitReplicaReceived(t)
		if got := title(t, ctx); got != "v3" {
			t.Errorf("a plain read got %q, want the replica's v3", got)
		}
		if got := title(t, primaryCtx); got != "v4" {
			t.Errorf("a ReadsPrimary read got %q, want v4", got)
		}
		pair.ResumeReplication(t)
	})
}
