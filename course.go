package edustream

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Course is a published or draft course taught by one instructor. A deleted
// course is hidden at once (DeletedAt set) and purged in the background.
type Course struct {
	ID           int64
	InstructorID int64
	Title        string
	Description  string
	PublishedAt  *time.Time
	DeletedAt    *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Published reports whether students can see the course.
func (c *Course) Published() bool { return c.PublishedAt != nil }

// CourseUpdate holds the fields to change; nil means unchanged.
type CourseUpdate struct {
	Title       *string
	Description *string
	// Published publishes (true) or unpublishes (false) the course.
	Published *bool
}

// CourseFilter selects a page of the catalog, newest first. The zero value
// selects nothing but published courses.
type CourseFilter struct {
	// Published, when set, keeps only published (true) or draft (false) courses.
	Published *bool
	// AllDrafts makes every draft visible (admins).
	AllDrafts bool
	// DraftsOf makes the drafts of this instructor visible (0: none).
	DraftsOf int64
	// MineOf keeps only the courses this user teaches or is enrolled in (0: all).
	MineOf int64
	// BeforeID is the keyset cursor: only courses with a smaller id (0: start).
	BeforeID int64
	// Limit is the page size; the store returns at most Limit courses.
	Limit int
}

// CourseService stores courses. Hidden (deleted) courses are never returned
// by the Find methods except FindHiddenCourseIDs.
type CourseService interface {
	// FindCourseByID returns a visible course. ENOTFOUND if there is none.
	FindCourseByID(ctx context.Context, id int64) (*Course, error)
	// FindCoursesByIDs returns the visible courses among ids, keyed by id.
	FindCoursesByIDs(ctx context.Context, ids []int64) (map[int64]*Course, error)
	// FindCourses returns one page of courses matching filter, and whether
	// more follow.
	FindCourses(ctx context.Context, filter CourseFilter) (courses []*Course, hasMore bool, err error)
	// CreateCourse inserts c and sets its ID and timestamps.
	CreateCourse(ctx context.Context, c *Course) error
	// UpdateCourse applies upd and returns the course. ENOTFOUND.
	UpdateCourse(ctx context.Context, id int64, upd CourseUpdate) (*Course, error)
	// HideCourse marks the course deleted so no reader sees it again.
	// ENOTFOUND if it is already hidden or missing.
	HideCourse(ctx context.Context, id int64) error
	// PurgeCourse removes a hidden course with its lectures and enrollments.
	// Purging a course that is gone is a no-op; purging a visible course is
	// ECONFLICT, so a stray task can never destroy live data.
	PurgeCourse(ctx context.Context, id int64) error
	// FindHiddenCourseIDs returns the courses waiting to be purged.
	FindHiddenCourseIDs(ctx context.Context) ([]int64, error)
}

// Validate checks the fields a user typed.
func (c *Course) Validate() error {
	if err := validateTitle("course", c.Title); err != nil {
		return err
	}
	return validateDescription("course", c.Description)
}

// Validate checks the fields being changed.
func (u CourseUpdate) Validate() error {
	if u.Title != nil {
		if err := validateTitle("course", *u.Title); err != nil {
			return err
		}
	}
	if u.Description != nil {
		return validateDescription("course", *u.Description)
	}
	return nil
}

func validateTitle(what, title string) error {
	switch n := utf8.RuneCountInString(title); {
	case !utf8.ValidString(title):
		return Errorf(EINVALID, "%s title must be valid UTF-8", what)
	case strings.TrimSpace(title) == "":
		return Errorf(EINVALID, "%s title must not be empty", what)
	case n > MaxTitleLength:
		return Errorf(EINVALID, "%s title must be at most %d characters, got %d", what, MaxTitleLength, n)
	}
	return nil
}

func validateDescription(what, description string) error {
	switch n := utf8.RuneCountInString(description); {
	case !utf8.ValidString(description):
		return Errorf(EINVALID, "%s description must be valid UTF-8", what)
	case n > MaxDescriptionLength:
		return Errorf(EINVALID, "%s description must be at most %d characters, got %d", what, MaxDescriptionLength, n)
	}
	return nil
}
