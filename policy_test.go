package edustream_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

func TestCoursePolicy(t *testing.T) {
	now := time.Now()
	admin := &edustream.User{ID: 1, Role: edustream.RoleAdmin}
	owner := &edustream.User{ID: 2, Role: edustream.RoleInstructor}
	other := &edustream.User{ID: 3, Role: edustream.RoleInstructor}
	student := &edustream.User{ID: 4, Role: edustream.RoleStudent}
	// A student whose id happens to be the instructor's must not gain
	// instructor rights: the role comes from the token.
	studentWithOwnersID := &edustream.User{ID: 2, Role: edustream.RoleStudent}

	draft := &edustream.Course{ID: 10, InstructorID: owner.ID}
	published := &edustream.Course{ID: 11, InstructorID: owner.ID, PublishedAt: &now}
	hidden := &edustream.Course{ID: 12, InstructorID: owner.ID, PublishedAt: &now, DeletedAt: &now}

	tests := []struct {
		user               *edustream.User
		course             *edustream.Course
		view, edit, enroll bool
	}{
		{nil, published, true, false, false},
		{nil, draft, false, false, false},
		{student, published, true, false, true},
		{student, draft, false, false, false},
		{studentWithOwnersID, draft, false, false, false},
		{owner, draft, true, true, false},
		{owner, published, true, true, true},
		{other, draft, false, false, false},
		{other, published, true, false, true},
		{admin, draft, true, true, false},
		{admin, published, true, true, true},
		{admin, hidden, false, false, false},
		{owner, hidden, false, false, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%v on course %d", tt.user, tt.course.ID)
		if tt.user != nil {
			name = fmt.Sprintf("%s %d on course %d", tt.user.Role, tt.user.ID, tt.course.ID)
		}
		t.Run(name, func(t *testing.T) {
			if got := edustream.CanViewCourse(tt.user, tt.course); got != tt.view {
				t.Errorf("CanViewCourse = %v, want %v", got, tt.view)
			}
			if got := edustream.CanEditCourse(tt.user, tt.course); got != tt.edit {
				t.Errorf("CanEditCourse = %v, want %v", got, tt.edit)
			}
			if got := edustream.CanEnroll(tt.user, tt.course); got != tt.enroll {
				t.Errorf("CanEnroll = %v, want %v", got, tt.enroll)
			}
		})
	}

	for user, want := range map[*edustream.User]bool{nil: false, student: false, owner: true, admin: true} {
		if got := edustream.CanCreateCourse(user); got != want {
			t.Errorf("CanCreateCourse(%v) = %v, want %v", user, got, want)
		}
	}
}

func TestCatalogFilter(t *testing.T) {
	asked := edustream.CourseFilter{AllDrafts: true, DraftsOf: 99, Limit: 5}
	tests := []struct {
		user      *edustream.User
		allDrafts bool
		draftsOf  int64
	}{
		{nil, false, 0},
		{&edustream.User{ID: 4, Role: edustream.RoleStudent}, false, 0},
		{&edustream.User{ID: 2, Role: edustream.RoleInstructor}, false, 2},
		{&edustream.User{ID: 1, Role: edustream.RoleAdmin}, true, 0},
	}
	for _, tt := range tests {
		got := edustream.CatalogFilter(tt.user, asked)
		if got.AllDrafts != tt.allDrafts || got.DraftsOf != tt.draftsOf || got.Limit != 5 {
			t.Errorf("CatalogFilter(%v) = %+v: a caller must not widen their own visibility", tt.user, got)
		}
	}
}

func TestValidation(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		err  error
		want string // "" for valid
	}{
		{"course", (&edustream.Course{Title: "Go"}).Validate(), ""},
		{"longest title", (&edustream.Course{Title: strings.Repeat("é", edustream.MaxTitleLength)}).Validate(), ""},
		{"empty title", (&edustream.Course{Title: ""}).Validate(), "must not be empty"},
		{"blank title", (&edustream.Course{Title: " \t\n"}).Validate(), "must not be empty"},
		{"long title", (&edustream.Course{Title: strings.Repeat("é", edustream.MaxTitleLength+1)}).Validate(), "at most 200"},
		{"invalid UTF-8", (&edustream.Course{Title: "\xff\xfe"}).Validate(), "UTF-8"},
		{"long description", (&edustream.Course{Title: "x", Description: strings.Repeat("x", edustream.MaxDescriptionLength+1)}).Validate(), "description must be at most"},
		{"empty update", (&edustream.CourseUpdate{}).Validate(), ""},
		{"update to empty title", (&edustream.CourseUpdate{Title: str("")}).Validate(), "must not be empty"},
		{"lecture", (&edustream.Lecture{Title: "Intro"}).Validate(), ""},
		{"lecture at a negative position", (&edustream.Lecture{Title: "Intro", Position: -1}).Validate(), "position"},
		{"lecture update", (&edustream.LectureUpdate{Description: str(strings.Repeat("x", edustream.MaxDescriptionLength+1))}).Validate(), "description must be at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.want == "" && tt.err != nil:
				t.Errorf("got %v, want valid", tt.err)
			case tt.want != "" && (edustream.ErrorCode(tt.err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(tt.err), tt.want)):
				t.Errorf("got %v, want EINVALID mentioning %q", tt.err, tt.want)
			}
		})
	}
}

func TestErrorCodes(t *testing.T) {
	notFound := edustream.Errorf(edustream.ENOTFOUND, "course %d not found", 7)
	wrapped := fmt.Errorf("find course: %w", notFound)
	internal := errors.New("dial tcp 10.0.0.1:3306: connection refused")
	tests := []struct {
		err           error
		code, message string
	}{
		{nil, "", ""},
		{notFound, edustream.ENOTFOUND, "course 7 not found"},
		{wrapped, edustream.ENOTFOUND, "course 7 not found"},
		{internal, edustream.EINTERNAL, "internal error"},
	}
	for _, tt := range tests {
		if got := edustream.ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
		if got := edustream.ErrorMessage(tt.err); got != tt.message {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.message)
		}
	}
}

func TestPublicCodes(t *testing.T) {
	for code, want := range map[string]string{
		edustream.EUNAUTHENTICATED: "UNAUTHENTICATED",
		edustream.EFORBIDDEN:       "FORBIDDEN",
		edustream.ENOTFOUND:        "NOT_FOUND",
		edustream.EINVALID:         "BAD_USER_INPUT",
		edustream.ECONFLICT:        "CONFLICT",
		edustream.EINTERNAL:        "INTERNAL",
		edustream.EUNAVAILABLE:     "UNAVAILABLE",
		edustream.ELIMIT:           "LIMIT_EXCEEDED",
		"not_a_code":               "INTERNAL",
		"":                         "INTERNAL",
	} {
		if got := edustream.PublicCode(code); got != want {
			t.Errorf("PublicCode(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"Bearer  abc ", "abc", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic c2FtOnNhbQ==", "c2FtOnNhbQ==", false},
		{"", "", false},
	}
	for _, tt := range tests {
		token, ok := edustream.BearerToken(tt.header)
		if ok != tt.ok || (ok && token != tt.token) {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, token, ok, tt.token, tt.ok)
		}
	}
}
