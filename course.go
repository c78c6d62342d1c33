package edustream

import (
	"context"
	"time"
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

// Validate checks the fields a user typed and puts them in their stored
// form (see NormalizeText): it is the gate every write of a course passes,
// in the resolvers and again in storage. EINVALID names the field.
func (c *Course) Validate() error {
	if err := normalizeTitle("course", &c.Title); err != nil {
		return err
	}
	return normalizeDescription("course", &c.Description)
}

// Validate checks the fields being changed and puts them in their stored
// form, like Course.Validate. The strings it points at are not modified:
// cleaned values get fresh pointers.
func (u *CourseUpdate) Validate() error {
	if u.Title != nil {
		title := *u.Title
		if err := normalizeTitle("course", &title); err != nil {
			return err
		}
		u.Title = &title
	}
	if u.Description != nil {
		description := *u.Description
		if err := normalizeDescription("course", &description); err != nil {
			return err
		}
		u.Description = &description
	}
	return nil
}
