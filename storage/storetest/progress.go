package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

// readyVideo makes a READY video of duration seconds the lecture's
// current one, as the chain does.
func (f *Fixture) readyVideo(t *testing.T, lectureID, uploaderID int64, duration float64) *edustream.Video {
	t.Helper()
	v := f.video(t, lectureID, uploaderID)
	v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoUploaded), Stage: ptr(edustream.StageProbe)})
	v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoProcessing),
		Media: &edustream.MediaInfo{FormatName: "mov,mp4", DurationSeconds: duration, Width: 640, Height: 360, VideoCodec: "h264"}})
	for v.Stage != edustream.StageComplete {
		next, _ := v.Stage.Next()
		v = f.move(t, v, edustream.VideoUpdate{Stage: &next})
	}
	ready, _, err := f.Videos.CompleteVideo(context.Background(), v.ID)
	if err != nil {
		t.Fatalf("complete video %d: %v", v.ID, err)
	}
	return ready
}

// enroll enrolls the user in the course.
func (f *Fixture) enroll(t *testing.T, userID, courseID int64) *edustream.Enrollment {
	t.Helper()
	e, err := f.Enrollments.Enroll(context.Background(), userID, courseID)
	if err != nil {
		t.Fatalf("enroll user %d in course %d: %v", userID, courseID, err)
	}
	return e
}

// at returns the fixture clock's next reading in the stored form.
func (f *Fixture) at() time.Time { return f.Clock.Now().UTC().Truncate(time.Microsecond) }

// saveProgress writes a progress row at version 1 (or p.Version) and
// fails the test on error.
func (f *Fixture) saveProgress(t *testing.T, p *edustream.LectureProgress) *edustream.LectureProgress {
	t.Helper()
	if p.Version == 0 {
		p.Version = 1
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = f.at()
	}
	if p.LastWatchedAt.IsZero() {
		p.LastWatchedAt = f.at()
	}
	if err := f.Progress.SaveLectureProgress(context.Background(), p); err != nil {
		t.Fatalf("save the progress of user %d in lecture %d: %v", p.UserID, p.LectureID, err)
	}
	return p
}

func watched(runs ...edustream.SecondRun) edustream.WatchedSeconds { return runs }

// testProgress is the write path of a beat: what FindWatchTarget reads,
// and SaveLectureProgress's version rule.
func testProgress(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	sam := f.User(t, "sam", edustream.RoleStudent)
	course := f.Course(t, inst.ID, "c", true)
	lecture := f.Lecture(t, course.ID, "l", 0)

	t.Run("target before a video", func(t *testing.T) {
		target, err := f.Progress.FindWatchTarget(ctx, sam.ID, lecture.ID)
		if err != nil {
			t.Fatal(err)
		}
		if target.LectureID != lecture.ID || target.Course.ID != course.ID || target.Course.InstructorID != inst.ID ||
			target.Course.PublishedAt == nil || target.Enrolled || target.Video != nil || target.Progress != nil {
			t.Errorf("target = %+v (course %+v)", target, target.Course)
		}
	})
	t.Run("missing lecture", func(t *testing.T) {
		_, err := f.Progress.FindWatchTarget(ctx, sam.ID, 424242)
		WantCode(t, err, edustream.ENOTFOUND, "lecture 424242 not found")
	})

	v := f.readyVideo(t, lecture.ID, inst.ID, 600)
	f.enroll(t, sam.ID, course.ID)
	completed := f.at()
	p := &edustream.LectureProgress{
		UserID: sam.ID, LectureID: lecture.ID, VideoID: v.ID, VideoDuration: 600,
		Watched: watched(edustream.SecondRun{Start: 0, End: 120}, edustream.SecondRun{Start: 300, End: 302}), WatchedSeconds: 122,
		PositionSeconds: 301.25, PlayedSeconds: 130.5, Learner: true, CompletedAt: &completed,
		LastWatchedAt: f.Clock.Now(), BudgetAt: f.Clock.Now(), RecentBeats: [4]uint64{9, 1<<63 + 5, 0, 0},
		Version: 1, CreatedAt: f.Clock.Now(),
	}
	if err := f.Progress.SaveLectureProgress(ctx, p); err != nil {
		t.Fatal(err)
	}
	want := *p
	want.CourseID = course.ID
	want.LastWatchedAt, want.BudgetAt, want.CreatedAt = p.LastWatchedAt.UTC().Truncate(time.Microsecond),
		p.BudgetAt.UTC().Truncate(time.Microsecond), p.CreatedAt.UTC().Truncate(time.Microsecond)

	t.Run("target", func(t *testing.T) {
		target, err := f.Progress.FindWatchTarget(ctx, sam.ID, lecture.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !target.Enrolled || target.Video == nil || target.Video.ID != v.ID || target.Video.Status != edustream.VideoReady ||
			target.Video.Media == nil || target.Video.Media.DurationSeconds != 600 {
			t.Errorf("target = %+v, video %+v", target, target.Video)
		}
		if diff := cmp.Diff(&want, target.Progress); diff != "" {
			t.Errorf("stored progress (-saved +read):\n%s", diff)
		}
		other, err := f.Progress.FindWatchTarget(ctx, inst.ID, lecture.ID)
		if err != nil || other.Progress != nil || other.Enrolled {
			t.Errorf("the instructor's target = %+v, %v; want no progress, not enrolled", other, err)
		}
	})
	t.Run("versions", func(t *testing.T) {
		again := *p
		again.Version = 1
		WantCode(t, f.Progress.SaveLectureProgress(ctx, &again), edustream.ECONFLICT, "")
		stale := *p
		stale.Version = 3
		WantCode(t, f.Progress.SaveLectureProgress(ctx, &stale), edustream.ECONFLICT, "")

		next := *p
		next.Version, next.PositionSeconds, next.CompletedAt, next.Watched, next.WatchedSeconds = 2, 12, nil, nil, 0
		if err := f.Progress.SaveLectureProgress(ctx, &next); err != nil {
			t.Fatal(err)
		}
		got, err := f.Progress.FindLectureProgress(ctx, sam.ID, []int64{lecture.ID, 424242})
		if err != nil {
			t.Fatal(err)
		}
		want := want
		want.Version, want.PositionSeconds, want.CompletedAt, want.Watched, want.WatchedSeconds = 2, 12, nil, nil, 0
		if diff := cmp.Diff(map[int64]*edustream.LectureProgress{lecture.ID: &want}, got); diff != "" {
			t.Errorf("FindLectureProgress (-want +got):\n%s", diff)
		}
	})
	t.Run("hidden course", func(t *testing.T) {
		if err := f.Courses.HideCourse(ctx, course.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.Progress.FindWatchTarget(ctx, sam.ID, lecture.ID)
		WantCode(t, err, edustream.ENOTFOUND, "")
	})
}

// testProgressReads covers what a viewer reads: course progress,
// continue watching, and the re-upload rule's bulk move.
func testProgressReads(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	sam := f.User(t, "sam", edustream.RoleStudent)
	course := f.Course(t, inst.ID, "c", true)
	l1, l2, l3 := f.Lecture(t, course.ID, "one", 0), f.Lecture(t, course.ID, "two", 0), f.Lecture(t, course.ID, "three", 0)
	f.Lecture(t, course.ID, "no video yet", 0)
	v1, v2, v3 := f.readyVideo(t, l1.ID, inst.ID, 100), f.readyVideo(t, l2.ID, inst.ID, 200), f.readyVideo(t, l3.ID, inst.ID, 300)
	f.enroll(t, sam.ID, course.ID)

	courseOf := func(t *testing.T) *edustream.CourseProgress {
		t.Helper()
		m, err := f.Progress.FindCourseProgress(ctx, sam.ID, []int64{course.ID, 424242})
		if err != nil {
			t.Fatal(err)
		}
		if missing := m[424242]; missing == nil || *missing != (edustream.CourseProgress{CourseID: 424242}) {
			t.Errorf("progress in a missing course = %+v, want zero counts", missing)
		}
		return m[course.ID]
	}
	if got := courseOf(t); *got != (edustream.CourseProgress{CourseID: course.ID, TotalLectures: 3}) {
		t.Errorf("before watching: %+v", got)
	}

	first, second, third := f.at(), f.at(), f.at()
	p1 := f.saveProgress(t, &edustream.LectureProgress{UserID: sam.ID, LectureID: l1.ID, VideoID: v1.ID, VideoDuration: 100,
		Watched: watched(edustream.SecondRun{Start: 0, End: 95}), WatchedSeconds: 95, PositionSeconds: 95, Learner: true,
		CompletedAt: &first, LastWatchedAt: first})
	p2 := f.saveProgress(t, &edustream.LectureProgress{UserID: sam.ID, LectureID: l2.ID, VideoID: v2.ID, VideoDuration: 200,
		Watched: watched(edustream.SecondRun{Start: 0, End: 20}), WatchedSeconds: 20, PositionSeconds: 20, Learner: true, LastWatchedAt: third})
	p3 := f.saveProgress(t, &edustream.LectureProgress{UserID: sam.ID, LectureID: l3.ID, VideoID: v3.ID, VideoDuration: 300,
		Watched: watched(edustream.SecondRun{Start: 10, End: 40}), WatchedSeconds: 30, PositionSeconds: 40, Learner: true, LastWatchedAt: second})

	t.Run("course progress", func(t *testing.T) {
		if got := courseOf(t); *got != (edustream.CourseProgress{CourseID: course.ID, CompletedLectures: 1, TotalLectures: 3}) {
			t.Errorf("one of three: %+v", got)
		}
	})
	t.Run("continue watching", func(t *testing.T) {
		got, err := f.Progress.FindLecturesInProgress(ctx, sam.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if ids := lectureIDsOf(got); !cmp.Equal(ids, []int64{l2.ID, l3.ID}) {
			t.Errorf("in progress: lectures %v, want %v (most recent first, the completed one left out)", ids, []int64{l2.ID, l3.ID})
		}
		if len(got) > 0 && (got[0].CourseID != course.ID || got[0].PositionSeconds != 20) {
			t.Errorf("first = %+v", got[0])
		}
		if got, _ := f.Progress.FindLecturesInProgress(ctx, sam.ID, 1); len(got) != 1 {
			t.Errorf("limit 1 gave %d", len(got))
		}
		if got, _ := f.Progress.FindLecturesInProgress(ctx, inst.ID, 10); len(got) != 0 {
			t.Errorf("the instructor has %d in progress, want none", len(got))
		}
	})
	t.Run("carry over", func(t *testing.T) {
		// A same-length re-upload of l2 keeps it; a new take of l3 starts
		// it over, a completion (l1's) stays either way.
		if err := f.Progress.CarryOverProgress(ctx, l2.ID, v2.ID, 9002, 150, true); err != nil {
			t.Fatal(err)
		}
		if err := f.Progress.CarryOverProgress(ctx, l3.ID, v3.ID, 9003, 50, false); err != nil {
			t.Fatal(err)
		}
		if err := f.Progress.CarryOverProgress(ctx, l1.ID, 424242, 9001, 50, false); err != nil {
			t.Fatal(err)
		}
		got, err := f.Progress.FindLectureProgress(ctx, sam.ID, []int64{l1.ID, l2.ID, l3.ID})
		if err != nil {
			t.Fatal(err)
		}
		if g := got[l1.ID]; g.VideoID != v1.ID || g.Version != p1.Version || g.WatchedSeconds != 95 {
			t.Errorf("l1, on another video than the move's: %+v", g)
		}
		if g := got[l2.ID]; g.VideoID != 9002 || g.VideoDuration != 150 || g.WatchedSeconds != 20 || g.PositionSeconds != 20 ||
			!g.Watched.Equal(p2.Watched) || g.Version != p2.Version+1 {
			t.Errorf("l2 kept: %+v", g)
		}
		if g := got[l3.ID]; g.VideoID != 9003 || g.VideoDuration != 50 || g.WatchedSeconds != 0 || g.PositionSeconds != 0 ||
			len(g.Watched) != 0 || g.Version != p3.Version+1 || g.LastWatchedAt != p3.LastWatchedAt {
			t.Errorf("l3 started over: %+v", g)
		}
		stale := *p3
		stale.Version++
		WantCode(t, f.Progress.SaveLectureProgress(ctx, &stale), edustream.ECONFLICT, "")
	})
	t.Run("course complete", func(t *testing.T) {
		for _, l := range []int64{l2.ID, l3.ID} {
			cur, err := f.Progress.FindLectureProgress(ctx, sam.ID, []int64{l})
			if err != nil {
				t.Fatal(err)
			}
			p := cur[l]
			at := f.at()
			p.CompletedAt, p.Version = &at, p.Version+1
			if err := f.Progress.SaveLectureProgress(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		got := courseOf(t)
		if got.CompletedLectures != 3 || got.TotalLectures != 3 || got.CompletedAt == nil || !got.CompletedAt.After(first) {
			t.Errorf("all three: %+v", got)
		}
	})
}

func lectureIDsOf(ps []*edustream.LectureProgress) []int64 {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.LectureID
	}
	return ids
}

// testProgressAnalytics covers what the course's instructor reads.
func testProgressAnalytics(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	admin := f.User(t, "admin", edustream.RoleAdmin)
	students := []*edustream.User{f.User(t, "s1", edustream.RoleStudent), f.User(t, "s2", edustream.RoleStudent), f.User(t, "s3", edustream.RoleStudent)}
	course := f.Course(t, inst.ID, "c", true)
	l1, l2 := f.Lecture(t, course.ID, "one", 0), f.Lecture(t, course.ID, "two", 0)
	v1, v2 := f.readyVideo(t, l1.ID, inst.ID, 100), f.readyVideo(t, l2.ID, inst.ID, 100)
	for _, u := range append([]*edustream.User{inst, admin}, students...) {
		f.enroll(t, u.ID, course.ID)
	}
	done := f.at()
	row := func(u *edustream.User, l *edustream.Lecture, v *edustream.Video, learner, complete bool) {
		p := &edustream.LectureProgress{UserID: u.ID, LectureID: l.ID, VideoID: v.ID, VideoDuration: 100, Learner: learner,
			Watched: watched(edustream.SecondRun{Start: 0, End: 50}), WatchedSeconds: 50, PlayedSeconds: 60}
		if complete {
			p.CompletedAt = &done
		}
		f.saveProgress(t, p)
	}
	row(students[0], l1, v1, true, true)
	row(students[0], l2, v2, true, true)
	row(students[1], l1, v1, true, true)
	row(students[2], l1, v1, true, false)
	row(inst, l1, v1, false, true)
	row(admin, l2, v2, false, true)

	t.Run("learners", func(t *testing.T) {
		got, err := f.Progress.FindLectureLearners(ctx, l1.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, p := range got {
			ids = append(ids, p.UserID)
			if !p.Watched.Equal(watched(edustream.SecondRun{Start: 0, End: 50})) || p.CourseID != course.ID {
				t.Errorf("learner %d: %+v", p.UserID, p)
			}
		}
		if want := []int64{students[0].ID, students[1].ID, students[2].ID}; !cmp.Equal(ids, want) {
			t.Errorf("learners %v, want %v (no instructor)", ids, want)
		}
	})
	t.Run("course counts", func(t *testing.T) {
		got, err := f.Progress.FindCourseWatchCounts(ctx, course.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := &edustream.CourseWatchCounts{Enrolled: 3, Started: 3, Completed: 1, Lectures: []*edustream.LectureWatchCounts{
			{LectureID: l1.ID, Viewers: 3, Completions: 2, Enrolled: 3},
			{LectureID: l2.ID, Viewers: 1, Completions: 1, Enrolled: 3},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FindCourseWatchCounts (-want +got):\n%s", diff)
		}
	})
	t.Run("students", func(t *testing.T) {
		page, more, err := f.Progress.FindCourseStudents(ctx, course.ID, 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 2 || !more || page[0].UserID != students[0].ID || page[1].UserID != students[1].ID {
			t.Fatalf("first page: %+v, more %v", page, more)
		}
		if p := page[0]; p.Progress.CompletedLectures != 2 || p.Progress.TotalLectures != 2 || p.Progress.CompletedAt == nil ||
			p.LastWatchedAt == nil || p.EnrolledAt.IsZero() {
			t.Errorf("s1: %+v %+v", p, p.Progress)
		}
		page, more, err = f.Progress.FindCourseStudents(ctx, course.ID, students[1].ID, 2)
		if err != nil || more || len(page) != 1 || page[0].UserID != students[2].ID || page[0].Progress.CompletedLectures != 0 {
			t.Fatalf("second page: %+v, more %v, %v", page, more, err)
		}
		page, more, err = f.Progress.FindCourseStudents(ctx, course.ID, 0, 0)
		if err != nil || more != true || len(page) != 0 {
			t.Errorf("limit 0: %+v, %v, %v", page, more, err)
		}
		_, _, err = f.Progress.FindCourseStudents(ctx, course.ID, 0, -1)
		WantCode(t, err, edustream.EINVALID, "")
	})
}
