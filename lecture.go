package edustream

import (
	"context"
	"time"
)

// Lecture is one ordered item of a course. Positions are 1..n within a course
// with no gaps; inserting, moving or deleting a lecture renumbers the others
// in one transaction, so positions are stable between writes.
//
// VideoID points at the lecture's current video (nil: none yet). A re-upload
// creates a new video and moves the pointer only when it is ready, so the old
// one keeps playing meanwhile.
type Lecture struct {
	ID          int64
	CourseID    int64
	Position    int
	Title       string
	Description string
	VideoID     *int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Outline marks a lecture read without its Description
	// (FindLectureOutlinesByCourseIDs): whatever needs the description
	// must read the lecture again, and a cache of whole lectures must not
	// hold it.
	Outline bool
}

// LectureUpdate holds the fields to change; nil means unchanged.
type LectureUpdate struct {
	Title       *string
	Description *string
}

// LectureService stores lectures. Lectures of hidden courses are never
// returned.
type LectureService interface {
	// FindLectureByID returns a lecture. ENOTFOUND.
	FindLectureByID(ctx context.Context, id int64) (*Lecture, error)
	// FindLecturesByIDs returns the lectures that exist among ids, keyed by id.
	FindLecturesByIDs(ctx context.Context, ids []int64) (map[int64]*Lecture, error)
	// FindLecturesByCourseIDs returns each course's lectures in position
	// order; a course without lectures is absent from the map.
	FindLecturesByCourseIDs(ctx context.Context, courseIDs []int64) (map[int64][]*Lecture, error)
	// FindLectureOutlinesByCourseIDs is FindLecturesByCourseIDs without the
	// descriptions, each lecture marked Outline: a catalog's lecture lists
	// seldom show them, and they are most of what such a read moves.
	FindLectureOutlinesByCourseIDs(ctx context.Context, courseIDs []int64) (map[int64][]*Lecture, error)
	// CreateLecture inserts l at l.Position (0 or past the end: append) and
	// sets its ID, final position and timestamps. ENOTFOUND for a missing
	// course; ECONFLICT when the course already has MaxLecturesPerCourse.
	CreateLecture(ctx context.Context, l *Lecture) error
	// UpdateLecture applies upd and returns the lecture. ENOTFOUND.
	UpdateLecture(ctx context.Context, id int64, upd LectureUpdate) (*Lecture, error)
	// MoveLecture moves the lecture to position (1-based, clamped to the
	// course's range) and returns it. ENOTFOUND.
	MoveLecture(ctx context.Context, id int64, position int) (*Lecture, error)
	// DeleteLecture removes the lecture and closes the gap. ENOTFOUND.
	DeleteLecture(ctx context.Context, id int64) error
}

// Validate checks the fields a user typed and puts them in their stored
// form (see NormalizeText), like Course.Validate.
func (l *Lecture) Validate() error {
	if err := normalizeTitle("lecture", &l.Title); err != nil {
		return err
	}
	if l.Position < 0 {
		return Errorf(EINVALID, "lecture position must be positive")
	}
	return normalizeDescription("lecture", &l.Description)
}

// Validate checks the fields being changed and puts them in their stored
// form, like CourseUpdate.Validate.
func (u *LectureUpdate) Validate() error {
	if u.Title != nil {
		title := *u.Title
		if err := normalizeTitle("lecture", &title); err != nil {
			return err
		}
		u.Title = &title
	}
	if u.Description != nil {
		description := *u.Description
		if err := normalizeDescription("lecture", &description); err != nil {
			return err
		}
		u.Description = &description
	}
	return nil
}
