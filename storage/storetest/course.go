package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

func testUsers(t *testing.T, f *Fixture) {
	ctx := context.Background()

	first, err := f.Users.UpsertUser(ctx, edustream.Claims{Subject: "auth0|1", Role: edustream.RoleStudent, Email: "a@example.com", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("create", func(t *testing.T) {
		want := &edustream.User{ID: first.ID, Subject: "auth0|1", Email: "a@example.com", Name: "Ann", Role: edustream.RoleStudent,
			CreatedAt: first.CreatedAt, UpdatedAt: first.CreatedAt}
		if diff := cmp.Diff(want, first); diff != "" || first.ID == 0 {
			t.Errorf("UpsertUser (-want +got):\n%s", diff)
		}
	})
	t.Run("same claims change nothing", func(t *testing.T) {
		again, err := f.Users.UpsertUser(ctx, edustream.Claims{Subject: "auth0|1", Role: edustream.RoleStudent, Email: "a@example.com", Name: "Ann"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("second UpsertUser (-first +second):\n%s", diff)
		}
	})
	t.Run("changed claims refresh", func(t *testing.T) {
		changed, err := f.Users.UpsertUser(ctx, edustream.Claims{Subject: "auth0|1", Role: edustream.RoleInstructor, Email: "ann@example.com", Name: "Ann B"})
		if err != nil {
			t.Fatal(err)
		}
		if changed.ID != first.ID || changed.Role != edustream.RoleInstructor || changed.Email != "ann@example.com" || changed.Name != "Ann B" {
			t.Errorf("refreshed user = %+v", changed)
		}
		if !changed.CreatedAt.Equal(first.CreatedAt) || !changed.UpdatedAt.After(first.UpdatedAt) {
			t.Errorf("created %v updated %v, first created %v updated %v", changed.CreatedAt, changed.UpdatedAt, first.CreatedAt, first.UpdatedAt)
		}
	})
	t.Run("absent claims keep the stored ones", func(t *testing.T) {
		before, err := f.Users.UpsertUser(ctx, edustream.Claims{Subject: "auth0|keep", Role: edustream.RoleInstructor, Email: "k@example.com", Name: "Kim"})
		if err != nil {
			t.Fatal(err)
		}
		after, err := f.Users.UpsertUser(ctx, edustream.Claims{Subject: "auth0|keep", Role: edustream.RoleInstructor})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a token without email and name changed the user (-before +after):\n%s", diff)
		}
		named, err := f.Users.UpsertUser(ctx, edustream.Claims{Subject: "auth0|keep", Role: edustream.RoleStudent, Name: "Kim Lee"})
		if err != nil {
			t.Fatal(err)
		}
		if named.Email != "k@example.com" || named.Name != "Kim Lee" || named.Role != edustream.RoleStudent || !named.UpdatedAt.After(before.UpdatedAt) {
			t.Errorf("a token with only a name and a new role gave %+v", named)
		}
	})
	t.Run("subjects are case-sensitive", func(t *testing.T) {
		upper := f.User(t, "AUTH0|1", edustream.RoleStudent)
		if upper.ID == first.ID {
			t.Errorf("AUTH0|1 and auth0|1 are the same user %d", upper.ID)
		}
	})
	t.Run("invalid claims", func(t *testing.T) {
		for name, c := range map[string]edustream.Claims{
			"empty subject": {Subject: " ", Role: edustream.RoleStudent},
			"unknown role":  {Subject: "x", Role: "ROOT"},
			"no role":       {Subject: "x"},
			"long subject":  {Subject: strings.Repeat("s", 256), Role: edustream.RoleStudent},
			"long name":     {Subject: "x", Role: edustream.RoleStudent, Name: strings.Repeat("n", 256)},
			"long email":    {Subject: "x", Role: edustream.RoleStudent, Email: strings.Repeat("e", 321)},
			"bad utf8":      {Subject: "x", Role: edustream.RoleStudent, Name: "\xff"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := f.Users.UpsertUser(ctx, c)
				WantCode(t, err, edustream.EINVALID, "")
			})
		}
	})
	t.Run("longest claims fit", func(t *testing.T) {
		c := edustream.Claims{Subject: strings.Repeat("ß", 255), Role: edustream.RoleAdmin, Email: strings.Repeat("é", 320), Name: strings.Repeat("名", 255)}
		u, err := f.Users.UpsertUser(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if u.Subject != c.Subject || u.Email != c.Email || u.Name != c.Name {
			t.Error("long claims did not round-trip")
		}
	})
	t.Run("FindUsersByIDs", func(t *testing.T) {
		second := f.User(t, "auth0|2", edustream.RoleStudent)
		got, err := f.Users.FindUsersByIDs(ctx, []int64{second.ID, first.ID, second.ID, 987654})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[first.ID] == nil || got[second.ID].Subject != "auth0|2" {
			t.Errorf("FindUsersByIDs = %v", got)
		}
		empty, err := f.Users.FindUsersByIDs(ctx, nil)
		if err != nil || empty == nil || len(empty) != 0 {
			t.Errorf("FindUsersByIDs(nil) = %v, %v; want an empty map", empty, err)
		}
	})
}

func testCourses(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)

	draft := f.Course(t, inst.ID, "Go 101", false)
	t.Run("create", func(t *testing.T) {
		if draft.ID == 0 || draft.PublishedAt != nil || draft.DeletedAt != nil || draft.CreatedAt.IsZero() || !draft.UpdatedAt.Equal(draft.CreatedAt) {
			t.Fatalf("created course = %+v", draft)
		}
		got, err := f.Courses.FindCourseByID(ctx, draft.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(draft, got); diff != "" {
			t.Errorf("FindCourseByID (-created +found):\n%s", diff)
		}
	})
	t.Run("create invalid", func(t *testing.T) {
		for name, c := range map[string]*edustream.Course{
			"empty title":      {InstructorID: inst.ID, Title: " "},
			"long title":       {InstructorID: inst.ID, Title: strings.Repeat("t", edustream.MaxTitleLength+1)},
			"long description": {InstructorID: inst.ID, Title: "t", Description: strings.Repeat("d", edustream.MaxDescriptionLength+1)},
		} {
			t.Run(name, func(t *testing.T) {
				WantCode(t, f.Courses.CreateCourse(ctx, c), edustream.EINVALID, "")
			})
		}
	})
	t.Run("longest text fits", func(t *testing.T) {
		c := &edustream.Course{InstructorID: inst.ID, Title: strings.Repeat("ü", edustream.MaxTitleLength), Description: strings.Repeat("😀", edustream.MaxDescriptionLength)}
		if err := f.Courses.CreateCourse(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := f.Courses.FindCourseByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != c.Title || got.Description != c.Description {
			t.Error("longest title and description did not round-trip")
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := f.Courses.FindCourseByID(ctx, 424242)
		WantCode(t, err, edustream.ENOTFOUND, "course 424242 not found")
	})

	t.Run("update", func(t *testing.T) {
		tests := []struct {
			name      string
			upd       edustream.CourseUpdate
			title     string
			published bool
		}{
			{"title", edustream.CourseUpdate{Title: ptr("Go 102")}, "Go 102", false},
			{"publish", edustream.CourseUpdate{Published: ptr(true)}, "Go 102", true},
			{"publish again", edustream.CourseUpdate{Published: ptr(true), Description: ptr("new")}, "Go 102", true},
			{"nothing", edustream.CourseUpdate{}, "Go 102", true},
			{"unpublish", edustream.CourseUpdate{Published: ptr(false)}, "Go 102", false},
		}
		var firstPublished *time.Time
		prev := draft
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.Courses.UpdateCourse(ctx, draft.ID, tt.upd)
				if err != nil {
					t.Fatal(err)
				}
				if got.Title != tt.title || got.Published() != tt.published || !got.UpdatedAt.After(prev.UpdatedAt) || !got.CreatedAt.Equal(draft.CreatedAt) {
					t.Errorf("after %s: %+v", tt.name, got)
				}
				if tt.upd.Published != nil && *tt.upd.Published {
					if firstPublished == nil {
						firstPublished = got.PublishedAt
					} else if !got.PublishedAt.Equal(*firstPublished) {
						t.Errorf("publishing again moved PublishedAt from %v to %v", firstPublished, got.PublishedAt)
					}
				}
				found, err := f.Courses.FindCourseByID(ctx, draft.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, found); diff != "" {
					t.Errorf("UpdateCourse result differs from stored (-returned +stored):\n%s", diff)
				}
				prev = got
			})
		}
		if got, _ := f.Courses.FindCourseByID(ctx, draft.ID); got.Description != "new" {
			t.Errorf("description = %q", got.Description)
		}
	})
	t.Run("update errors", func(t *testing.T) {
		hidden := f.hiddenCourse(t, inst.ID, "hidden")
		_, err := f.Courses.UpdateCourse(ctx, 424242, edustream.CourseUpdate{Title: ptr("x")})
		WantCode(t, err, edustream.ENOTFOUND, "course 424242 not found")
		_, err = f.Courses.UpdateCourse(ctx, hidden.ID, edustream.CourseUpdate{Title: ptr("x")})
		WantCode(t, err, edustream.ENOTFOUND, "")
		_, err = f.Courses.UpdateCourse(ctx, draft.ID, edustream.CourseUpdate{Title: ptr("")})
		WantCode(t, err, edustream.EINVALID, "")
	})

	t.Run("hide", func(t *testing.T) {
		c := f.Course(t, inst.ID, "to hide", true)
		if err := f.Courses.HideCourse(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.Courses.FindCourseByID(ctx, c.ID)
		WantCode(t, err, edustream.ENOTFOUND, "")
		WantCode(t, f.Courses.HideCourse(ctx, c.ID), edustream.ENOTFOUND, "")
		WantCode(t, f.Courses.HideCourse(ctx, 424242), edustream.ENOTFOUND, "course 424242 not found")
		byIDs, err := f.Courses.FindCoursesByIDs(ctx, []int64{c.ID, draft.ID, 424242})
		if err != nil {
			t.Fatal(err)
		}
		if len(byIDs) != 1 || byIDs[draft.ID] == nil {
			t.Errorf("FindCoursesByIDs = %v, want only course %d", byIDs, draft.ID)
		}
		hidden, err := f.Courses.FindHiddenCourseIDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(hidden, c.ID) || slices.Contains(hidden, draft.ID) || !slices.IsSorted(hidden) {
			t.Errorf("FindHiddenCourseIDs = %v", hidden)
		}
	})
	t.Run("FindCoursesByIDs empty", func(t *testing.T) {
		got, err := f.Courses.FindCoursesByIDs(ctx, []int64{})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("FindCoursesByIDs([]) = %v, %v", got, err)
		}
	})
}

func testFindCourses(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst1 := f.User(t, "inst1", edustream.RoleInstructor)
	inst2 := f.User(t, "inst2", edustream.RoleInstructor)
	student := f.User(t, "student", edustream.RoleStudent)

	pub1 := f.Course(t, inst1.ID, "pub1", true)
	draft1 := f.Course(t, inst1.ID, "draft1", false)
	pub2 := f.Course(t, inst2.ID, "pub2", true)
	draft2 := f.Course(t, inst2.ID, "draft2", false)
	hidden1 := f.hiddenCourse(t, inst1.ID, "hidden1")
	pub3 := f.Course(t, inst2.ID, "pub3", true)
	if _, err := f.Enrollments.Enroll(ctx, student.ID, pub2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Enrollments.Enroll(ctx, inst1.ID, pub3.ID); err != nil {
		t.Fatal(err)
	}
	_ = hidden1

	tests := []struct {
		name    string
		filter  edustream.CourseFilter
		want    []*edustream.Course
		hasMore bool
	}{
		{"published only", edustream.CourseFilter{Limit: 10}, []*edustream.Course{pub3, pub2, pub1}, false},
		{"all drafts", edustream.CourseFilter{AllDrafts: true, Limit: 10}, []*edustream.Course{pub3, draft2, pub2, draft1, pub1}, false},
		{"own drafts", edustream.CourseFilter{DraftsOf: inst1.ID, Limit: 10}, []*edustream.Course{pub3, pub2, draft1, pub1}, false},
		{"drafts only", edustream.CourseFilter{AllDrafts: true, Published: ptr(false), Limit: 10}, []*edustream.Course{draft2, draft1}, false},
		{"published of all", edustream.CourseFilter{AllDrafts: true, Published: ptr(true), Limit: 10}, []*edustream.Course{pub3, pub2, pub1}, false},
		{"own drafts only", edustream.CourseFilter{DraftsOf: inst2.ID, Published: ptr(false), Limit: 10}, []*edustream.Course{draft2}, false},
		{"no visible drafts", edustream.CourseFilter{Published: ptr(false), Limit: 10}, nil, false},
		{"mine: teaching and enrolled", edustream.CourseFilter{DraftsOf: inst1.ID, MineOf: inst1.ID, Limit: 10}, []*edustream.Course{pub3, draft1, pub1}, false},
		{"mine: enrolled", edustream.CourseFilter{MineOf: student.ID, Limit: 10}, []*edustream.Course{pub2}, false},
		{"mine: drafts need visibility", edustream.CourseFilter{MineOf: inst2.ID, Limit: 10}, []*edustream.Course{pub3, pub2}, false},
		{"mine: nothing", edustream.CourseFilter{MineOf: 424242, Limit: 10}, nil, false},
		{"before cursor", edustream.CourseFilter{BeforeID: pub2.ID, Limit: 10}, []*edustream.Course{pub1}, false},
		{"before cursor with drafts", edustream.CourseFilter{AllDrafts: true, BeforeID: draft2.ID, Limit: 10}, []*edustream.Course{pub2, draft1, pub1}, false},
		{"page with more", edustream.CourseFilter{Limit: 2}, []*edustream.Course{pub3, pub2}, true},
		{"exact page", edustream.CourseFilter{Limit: 3}, []*edustream.Course{pub3, pub2, pub1}, false},
		{"limit zero", edustream.CourseFilter{Limit: 0}, nil, true},
		{"last page", edustream.CourseFilter{BeforeID: pub2.ID, Limit: 1}, []*edustream.Course{pub1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hasMore, err := f.Courses.FindCourses(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(titles(tt.want), titles(got)); diff != "" || hasMore != tt.hasMore {
				t.Errorf("FindCourses(%+v) hasMore=%v (want %v), titles (-want +got):\n%s", tt.filter, hasMore, tt.hasMore, diff)
			}
			for _, c := range got {
				if c.DeletedAt != nil {
					t.Errorf("hidden course %d returned", c.ID)
				}
			}
		})
	}
	t.Run("full rows", func(t *testing.T) {
		got, _, err := f.Courses.FindCourses(ctx, edustream.CourseFilter{AllDrafts: true, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*edustream.Course{pub3, draft2, pub2, draft1, pub1}, got); diff != "" {
			t.Errorf("FindCourses rows (-want +got):\n%s", diff)
		}
	})
	t.Run("negative limit", func(t *testing.T) {
		_, _, err := f.Courses.FindCourses(ctx, edustream.CourseFilter{Limit: -1})
		WantCode(t, err, edustream.EINVALID, "")
	})
	t.Run("walk every page", func(t *testing.T) {
		var all []*edustream.Course
		filter := edustream.CourseFilter{AllDrafts: true, Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			page, hasMore, err := f.Courses.FindCourses(ctx, filter)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if !hasMore {
				break
			}
			filter.BeforeID = page[len(page)-1].ID
		}
		if diff := cmp.Diff(titles([]*edustream.Course{pub3, draft2, pub2, draft1, pub1}), titles(all)); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})
}

func titles(courses []*edustream.Course) []string {
	out := []string{}
	for _, c := range courses {
		out = append(out, c.Title)
	}
	return out
}

func testLectures(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "course", true)
	other := f.Course(t, inst.ID, "other", false)
	empty := f.Course(t, inst.ID, "empty", true)

	video := int64(77)
	withVideo := &edustream.Lecture{CourseID: course.ID, Title: "intro", Description: "hello", VideoID: &video}
	if err := f.Lectures.CreateLecture(ctx, withVideo); err != nil {
		t.Fatal(err)
	}
	second := f.Lecture(t, course.ID, "second", 0)
	otherLecture := f.Lecture(t, other.ID, "other 1", 0)

	t.Run("create and find", func(t *testing.T) {
		if withVideo.ID == 0 || withVideo.Position != 1 || second.Position != 2 || otherLecture.Position != 1 {
			t.Fatalf("created %+v, %+v, %+v", withVideo, second, otherLecture)
		}
		got, err := f.Lectures.FindLectureByID(ctx, withVideo.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(withVideo, got); diff != "" {
			t.Errorf("FindLectureByID (-created +found):\n%s", diff)
		}
		_, err = f.Lectures.FindLectureByID(ctx, 424242)
		WantCode(t, err, edustream.ENOTFOUND, "lecture 424242 not found")
	})
	t.Run("FindLecturesByIDs", func(t *testing.T) {
		got, err := f.Lectures.FindLecturesByIDs(ctx, []int64{second.ID, otherLecture.ID, 424242, second.ID})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[int64]*edustream.Lecture{second.ID: second, otherLecture.ID: otherLecture}, got); diff != "" {
			t.Errorf("FindLecturesByIDs (-want +got):\n%s", diff)
		}
		none, err := f.Lectures.FindLecturesByIDs(ctx, nil)
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("FindLecturesByIDs(nil) = %v, %v", none, err)
		}
	})
	t.Run("FindLecturesByCourseIDs", func(t *testing.T) {
		got, err := f.Lectures.FindLecturesByCourseIDs(ctx, []int64{course.ID, other.ID, empty.ID, 424242})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64][]*edustream.Lecture{course.ID: {withVideo, second}, other.ID: {otherLecture}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FindLecturesByCourseIDs (-want +got):\n%s", diff)
		}
		none, err := f.Lectures.FindLecturesByCourseIDs(ctx, nil)
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("FindLecturesByCourseIDs(nil) = %v, %v", none, err)
		}
	})
	t.Run("FindLectureOutlinesByCourseIDs", func(t *testing.T) {
		got, err := f.Lectures.FindLectureOutlinesByCourseIDs(ctx, []int64{course.ID, other.ID, empty.ID, 424242})
		if err != nil {
			t.Fatal(err)
		}
		outline := func(l *edustream.Lecture) *edustream.Lecture {
			copied := *l
			copied.Description, copied.Outline = "", true
			return &copied
		}
		want := map[int64][]*edustream.Lecture{course.ID: {outline(withVideo), outline(second)}, other.ID: {outline(otherLecture)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FindLectureOutlinesByCourseIDs (-want +got):\n%s", diff)
		}
		if withVideo.Description == "" && second.Description == "" {
			t.Fatal("the lectures have no description to leave out")
		}
	})
	t.Run("update", func(t *testing.T) {
		got, err := f.Lectures.UpdateLecture(ctx, second.ID, edustream.LectureUpdate{Title: ptr("second!")})
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "second!" || got.Description != second.Description || got.Position != 2 || !got.UpdatedAt.After(second.UpdatedAt) {
			t.Errorf("updated = %+v", got)
		}
		got, err = f.Lectures.UpdateLecture(ctx, second.ID, edustream.LectureUpdate{Description: ptr("more")})
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "second!" || got.Description != "more" {
			t.Errorf("updated = %+v", got)
		}
		found, _ := f.Lectures.FindLectureByID(ctx, second.ID)
		if diff := cmp.Diff(got, found); diff != "" {
			t.Errorf("UpdateLecture result differs from stored (-returned +stored):\n%s", diff)
		}
		_, err = f.Lectures.UpdateLecture(ctx, 424242, edustream.LectureUpdate{Title: ptr("x")})
		WantCode(t, err, edustream.ENOTFOUND, "lecture 424242 not found")
		_, err = f.Lectures.UpdateLecture(ctx, second.ID, edustream.LectureUpdate{Title: ptr(" ")})
		WantCode(t, err, edustream.EINVALID, "")
	})
	t.Run("create errors", func(t *testing.T) {
		hidden := f.hiddenCourse(t, inst.ID, "hidden")
		tests := []struct {
			name string
			l    *edustream.Lecture
			code string
			msg  string
		}{
			{"missing course", &edustream.Lecture{CourseID: 424242, Title: "x"}, edustream.ENOTFOUND, "course 424242 not found"},
			{"hidden course", &edustream.Lecture{CourseID: hidden.ID, Title: "x"}, edustream.ENOTFOUND, fmt.Sprintf("course %d not found", hidden.ID)},
			{"empty title", &edustream.Lecture{CourseID: course.ID, Title: ""}, edustream.EINVALID, ""},
			{"negative position", &edustream.Lecture{CourseID: course.ID, Title: "x", Position: -1}, edustream.EINVALID, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				WantCode(t, f.Lectures.CreateLecture(ctx, tt.l), tt.code, tt.msg)
			})
		}
	})
	t.Run("too many lectures", func(t *testing.T) {
		full := f.Course(t, inst.ID, "full", false)
		f.fill(t, full.ID, edustream.MaxLecturesPerCourse)
		err := f.Lectures.CreateLecture(ctx, &edustream.Lecture{CourseID: full.ID, Title: "one too many"})
		WantCode(t, err, edustream.ECONFLICT, "")
		if n := len(lectureOrder(t, f, full.ID)); n != edustream.MaxLecturesPerCourse {
			t.Errorf("course has %d lectures", n)
		}
	})
	t.Run("hidden course hides its lectures", func(t *testing.T) {
		c := f.Course(t, inst.ID, "soon hidden", true)
		l := f.Lecture(t, c.ID, "l", 0)
		l2 := f.Lecture(t, c.ID, "l2", 0)
		if err := f.Courses.HideCourse(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.Lectures.FindLectureByID(ctx, l.ID)
		WantCode(t, err, edustream.ENOTFOUND, "")
		byIDs, err := f.Lectures.FindLecturesByIDs(ctx, []int64{l.ID})
		if err != nil || len(byIDs) != 0 {
			t.Errorf("FindLecturesByIDs = %v, %v", byIDs, err)
		}
		byCourse, err := f.Lectures.FindLecturesByCourseIDs(ctx, []int64{c.ID})
		if err != nil || len(byCourse) != 0 {
			t.Errorf("FindLecturesByCourseIDs = %v, %v", byCourse, err)
		}
		_, err = f.Lectures.UpdateLecture(ctx, l.ID, edustream.LectureUpdate{Title: ptr("x")})
		WantCode(t, err, edustream.ENOTFOUND, fmt.Sprintf("lecture %d not found", l.ID))
		_, err = f.Lectures.MoveLecture(ctx, l.ID, 2)
		WantCode(t, err, edustream.ENOTFOUND, fmt.Sprintf("lecture %d not found", l.ID))
		WantCode(t, f.Lectures.DeleteLecture(ctx, l2.ID), edustream.ENOTFOUND, fmt.Sprintf("lecture %d not found", l2.ID))
	})
	t.Run("missing lecture", func(t *testing.T) {
		_, err := f.Lectures.MoveLecture(ctx, 424242, 1)
		WantCode(t, err, edustream.ENOTFOUND, "lecture 424242 not found")
		WantCode(t, f.Lectures.DeleteLecture(ctx, 424242), edustream.ENOTFOUND, "lecture 424242 not found")
	})
}

func testLecturePositions(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "course", true)
	neighbour := f.Course(t, inst.ID, "neighbour", true)
	f.Lecture(t, neighbour.ID, "n1", 0)
	f.Lecture(t, neighbour.ID, "n2", 0)

	ids := map[string]int64{}
	create := func(title string, pos int) func(t *testing.T) {
		return func(t *testing.T) { ids[title] = f.Lecture(t, course.ID, title, pos).ID }
	}
	move := func(title string, pos, wantPos int) func(t *testing.T) {
		return func(t *testing.T) {
			l, err := f.Lectures.MoveLecture(ctx, ids[title], pos)
			if err != nil {
				t.Fatal(err)
			}
			if l.Position != wantPos || l.Title != title {
				t.Errorf("MoveLecture(%s, %d) = position %d, want %d", title, pos, l.Position, wantPos)
			}
		}
	}
	remove := func(title string) func(t *testing.T) {
		return func(t *testing.T) {
			if err := f.Lectures.DeleteLecture(ctx, ids[title]); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
		want []string
	}{
		{"append to empty", create("A", 0), []string{"A"}},
		{"append", create("B", 0), []string{"A", "B"}},
		{"insert at front", create("C", 1), []string{"C", "A", "B"}},
		{"past the end appends", create("D", 100), []string{"C", "A", "B", "D"}},
		{"insert in the middle", create("E", 2), []string{"C", "E", "A", "B", "D"}},
		{"insert at last position", create("F", 5), []string{"C", "E", "A", "B", "F", "D"}},
		{"move up", move("B", 1, 1), []string{"B", "C", "E", "A", "F", "D"}},
		{"move down", move("C", 4, 4), []string{"B", "E", "A", "C", "F", "D"}},
		{"move past the end clamps", move("E", 99, 6), []string{"B", "A", "C", "F", "D", "E"}},
		{"move before the start clamps", move("D", -3, 1), []string{"D", "B", "A", "C", "F", "E"}},
		{"move in place", move("A", 3, 3), []string{"D", "B", "A", "C", "F", "E"}},
		{"delete in the middle", remove("A"), []string{"D", "B", "C", "F", "E"}},
		{"delete first", remove("D"), []string{"B", "C", "F", "E"}},
		{"delete last", remove("E"), []string{"B", "C", "F"}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.do(t)
			if diff := cmp.Diff(step.want, lectureOrder(t, f, course.ID)); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"n1", "n2"}, lectureOrder(t, f, neighbour.ID)); diff != "" {
		t.Errorf("another course's lectures moved (-want +got):\n%s", diff)
	}
}

// lectureOrder returns the titles of a course's lectures in position order,
// failing unless the positions are exactly 1..n.
func lectureOrder(t *testing.T, f *Fixture, courseID int64) []string {
	t.Helper()
	byCourse, err := f.Lectures.FindLecturesByCourseIDs(context.Background(), []int64{courseID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, l := range byCourse[courseID] {
		if l.Position != i+1 {
			t.Fatalf("lecture %q has position %d at index %d: positions are not 1..n", l.Title, l.Position, i)
		}
		out = append(out, l.Title)
	}
	return out
}

func testConcurrentLectures(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "busy", true)

	const workers, each = 6, 5
	// run runs op on every worker at once and fails on any error.
	run := func(op func(w int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Go(func() { errs[w] = op(w) })
		}
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Fatalf("worker %d: %v", w, err)
			}
		}
	}

	run(func(w int) error {
		for i := range each {
			l := &edustream.Lecture{CourseID: course.ID, Title: fmt.Sprintf("w%d-%d", w, i), Position: (w + i) % 4}
			if err := f.Lectures.CreateLecture(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if n := len(lectureOrder(t, f, course.ID)); n != workers*each {
		t.Fatalf("%d lectures after concurrent creation, want %d", n, workers*each)
	}

	// Moves and deletes racing each other keep positions contiguous too.
	byCourse, err := f.Lectures.FindLecturesByCourseIDs(ctx, []int64{course.ID})
	if err != nil {
		t.Fatal(err)
	}
	lectures := byCourse[course.ID]
	run(func(w int) error {
		if _, err := f.Lectures.MoveLecture(ctx, lectures[w].ID, workers*each-w); err != nil {
			return err
		}
		return f.Lectures.DeleteLecture(ctx, lectures[workers+w].ID)
	})
	if n := len(lectureOrder(t, f, course.ID)); n != workers*each-workers {
		t.Errorf("%d lectures after concurrent deletes, want %d", n, workers*each-workers)
	}
}

func testEnrollments(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	student := f.User(t, "student", edustream.RoleStudent)
	c1 := f.Course(t, inst.ID, "c1", true)
	c2 := f.Course(t, inst.ID, "c2", true)
	c3 := f.Course(t, inst.ID, "c3", true)

	first, err := f.Enrollments.Enroll(ctx, student.ID, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("enroll", func(t *testing.T) {
		if first.UserID != student.ID || first.CourseID != c1.ID || first.CreatedAt.IsZero() || first.CreatedAt.Location() != time.UTC {
			t.Errorf("Enroll = %+v", first)
		}
	})
	t.Run("enroll twice returns the first", func(t *testing.T) {
		again, err := f.Enrollments.Enroll(ctx, student.ID, c1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("second Enroll (-first +second):\n%s", diff)
		}
	})
	t.Run("concurrent enrolls", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { _, errs[i] = f.Enrollments.Enroll(ctx, student.ID, c2.ID) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("missing and hidden courses", func(t *testing.T) {
		_, err := f.Enrollments.Enroll(ctx, student.ID, 424242)
		WantCode(t, err, edustream.ENOTFOUND, "course 424242 not found")
		hidden := f.hiddenCourse(t, inst.ID, "hidden")
		_, err = f.Enrollments.Enroll(ctx, student.ID, hidden.ID)
		WantCode(t, err, edustream.ENOTFOUND, fmt.Sprintf("course %d not found", hidden.ID))
	})
	t.Run("FindEnrollments", func(t *testing.T) {
		got, err := f.Enrollments.FindEnrollments(ctx, student.ID, []int64{c1.ID, c2.ID, c3.ID, 424242})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[c1.ID] == nil || got[c2.ID] == nil {
			t.Errorf("FindEnrollments = %v", got)
		}
		if diff := cmp.Diff(first, got[c1.ID]); diff != "" {
			t.Errorf("FindEnrollments (-enrolled +found):\n%s", diff)
		}
		other, err := f.Enrollments.FindEnrollments(ctx, inst.ID, []int64{c1.ID, c2.ID})
		if err != nil || len(other) != 0 {
			t.Errorf("instructor's enrollments = %v, %v", other, err)
		}
		none, err := f.Enrollments.FindEnrollments(ctx, student.ID, nil)
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("FindEnrollments(nil) = %v, %v", none, err)
		}
	})
	t.Run("hidden course's enrollment", func(t *testing.T) {
		if err := f.Courses.HideCourse(ctx, c1.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.Enrollments.FindEnrollments(ctx, student.ID, []int64{c1.ID})
		if err != nil || len(got) != 0 {
			t.Errorf("FindEnrollments of a hidden course = %v, %v", got, err)
		}
		_, err = f.Enrollments.Enroll(ctx, student.ID, c1.ID)
		WantCode(t, err, edustream.ENOTFOUND, "")
	})
}

func testPurge(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	student := f.User(t, "student", edustream.RoleStudent)
	doomed := f.Course(t, inst.ID, "doomed", true)
	kept := f.Course(t, inst.ID, "kept", true)
	for _, c := range []*edustream.Course{doomed, kept} {
		f.Lecture(t, c.ID, "l1", 0)
		f.Lecture(t, c.ID, "l2", 0)
		if _, err := f.Enrollments.Enroll(ctx, student.ID, c.ID); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("visible course is a conflict", func(t *testing.T) {
		WantCode(t, f.Courses.PurgeCourse(ctx, doomed.ID), edustream.ECONFLICT, "")
		if _, err := f.Courses.FindCourseByID(ctx, doomed.ID); err != nil {
			t.Errorf("course gone after refused purge: %v", err)
		}
		if diff := cmp.Diff([]string{"l1", "l2"}, lectureOrder(t, f, doomed.ID)); diff != "" {
			t.Errorf("lectures after refused purge (-want +got):\n%s", diff)
		}
	})
	t.Run("hidden course is removed", func(t *testing.T) {
		if err := f.Courses.HideCourse(ctx, doomed.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.Courses.PurgeCourse(ctx, doomed.ID); err != nil {
			t.Fatal(err)
		}
		// Hidden or purged, no reader sees the course, its lectures or its
		// enrollments; that their rows are gone is for each engine's own
		// tests. FindHiddenCourseIDs is what tells the two apart.
		hidden, err := f.Courses.FindHiddenCourseIDs(ctx)
		if err != nil || len(hidden) != 0 {
			t.Errorf("FindHiddenCourseIDs = %v, %v", hidden, err)
		}
	})
	t.Run("gone is a no-op", func(t *testing.T) {
		if err := f.Courses.PurgeCourse(ctx, doomed.ID); err != nil {
			t.Errorf("purge again: %v", err)
		}
		if err := f.Courses.PurgeCourse(ctx, 424242); err != nil {
			t.Errorf("purge of a course that never was: %v", err)
		}
	})
	t.Run("other courses untouched", func(t *testing.T) {
		if diff := cmp.Diff([]string{"l1", "l2"}, lectureOrder(t, f, kept.ID)); diff != "" {
			t.Errorf("kept lectures (-want +got):\n%s", diff)
		}
		got, err := f.Enrollments.FindEnrollments(ctx, student.ID, []int64{kept.ID})
		if err != nil || len(got) != 1 {
			t.Errorf("kept enrollment = %v, %v", got, err)
		}
	})
}

func testTimes(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	tests := []struct {
		name string
		at   time.Time
	}{
		{"nanoseconds truncated", time.Date(2025, 6, 7, 8, 9, 10, 999999999, time.UTC)},
		{"other zone", time.Date(2024, 2, 29, 23, 59, 59, 123456000, time.FixedZone("PST", -8*3600))},
		{"whole second", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"one microsecond", time.Date(2001, 9, 9, 1, 46, 40, 1000, time.FixedZone("JST", 9*3600))},
		{"local", time.Date(2026, 7, 1, 12, 0, 0, 500, time.Local)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			c := &edustream.Course{InstructorID: inst.ID, Title: tt.name, PublishedAt: &at}
			if err := f.Courses.CreateCourse(ctx, c); err != nil {
				t.Fatal(err)
			}
			want := tt.at.UTC().Truncate(time.Microsecond)
			got, err := f.Courses.FindCourseByID(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range map[string]time.Time{"returned": *c.PublishedAt, "stored": *got.PublishedAt} {
				if !v.Equal(want) || v.Location() != time.UTC {
					t.Errorf("%s PublishedAt = %v (%v), want %v in UTC", name, v, v.Location(), want)
				}
			}
			if !got.CreatedAt.Equal(c.CreatedAt) || got.CreatedAt.Location() != time.UTC || got.CreatedAt.Nanosecond()%1000 != 0 {
				t.Errorf("CreatedAt stored %v, returned %v", got.CreatedAt, c.CreatedAt)
			}
		})
	}
}
