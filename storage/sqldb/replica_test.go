package sqldb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// TestReplicaRouting proves the read routing rule on SQLite, with a copy of
// the primary taken before the writes standing in for a lagging replica.
func TestReplicaRouting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	primaryPath, replicaPath := filepath.Join(dir, "primary.db"), filepath.Join(dir, "replica.db")

	// The state both files share: a user and a published course.
	seed, err := OpenSQLite(ctx, primaryPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sf := fixtureOn(seed)
	inst := sf.User(t, "inst", edustream.RoleInstructor)
	course := sf.Course(t, inst.ID, "old title", true)
	if err := seed.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	testenv.CopyFile(t, primaryPath, replicaPath)

	db, err := OpenSQLiteWithReplica(ctx, primaryPath, replicaPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	f := fixtureOn(db)

	// Writes after the copy exist on the primary only. Each write also reads
	// its result back, which works only because those reads go to the
	// primary too.
	updated, err := f.Courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Title: ptr("new title")})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Title != "new title" {
		t.Fatalf("UpdateCourse returned %q: its read-back did not see its write", updated.Title)
	}
	student, err := f.Users.UpsertUser(ctx, edustream.Claims{Subject: "student", Role: edustream.RoleStudent})
	if err != nil {
		t.Fatalf("UpsertUser on a stale replica: %v", err)
	}
	if _, err := f.Enrollments.Enroll(ctx, student.ID, course.ID); err != nil {
		t.Fatalf("Enroll on a stale replica: %v", err)
	}
	lecture := f.Lecture(t, course.ID, "new lecture", 0)
	if moved, err := f.Lectures.MoveLecture(ctx, lecture.ID, 1); err != nil || moved.Position != 1 {
		t.Fatalf("MoveLecture of a lecture the replica lacks: %v, %v", moved, err)
	}

	primaryCtx := edustream.NewContextReadingPrimary(ctx)
	tests := []struct {
		name      string
		ctx       context.Context
		wantTitle string
		wantNew   bool // the rows written after the copy are visible
	}{
		{"plain read goes to the replica", ctx, "old title", false},
		{"ReadsPrimary goes to the primary", primaryCtx, "new title", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.Courses.FindCourseByID(tt.ctx, course.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Title != tt.wantTitle {
				t.Errorf("title = %q, want %q", c.Title, tt.wantTitle)
			}
			users, err := f.Users.FindUsersByIDs(tt.ctx, []int64{student.ID})
			if err != nil {
				t.Fatal(err)
			}
			enrolled, err := f.Enrollments.FindEnrollments(tt.ctx, student.ID, []int64{course.ID})
			if err != nil {
				t.Fatal(err)
			}
			lectures, err := f.Lectures.FindLecturesByCourseIDs(tt.ctx, []int64{course.ID})
			if err != nil {
				t.Fatal(err)
			}
			got := []bool{len(users) == 1, len(enrolled) == 1, len(lectures[course.ID]) == 1}
			for _, g := range got {
				if g != tt.wantNew {
					t.Errorf("new rows visible = %v (user, enrollment, lecture), want all %v", got, tt.wantNew)
					break
				}
			}
		})
	}

	t.Run("replica is read-only", func(t *testing.T) {
		_, err := db.on(db.replica).exec(ctx, "DELETE FROM courses")
		if err == nil {
			t.Error("a write reached the replica")
		}
	})
}
