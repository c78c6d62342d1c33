package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// CourseService implements edustream.CourseService.
type CourseService struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.CourseService = (*CourseService)(nil)

// NewCourseService returns a CourseService on db that stamps times with now
// (nil: time.Now).
func NewCourseService(db *DB, now edustream.Clock) *CourseService {
	return &CourseService{db: db, now: clockOrNow(now)}
}

const courseColumns = "c.id, c.instructor_id, c.title, c.description, c.published_at, c.deleted_at, c.created_at, c.updated_at"

func scanCourse(s scanner) (*edustream.Course, error) {
	var c edustream.Course
	var published, deleted sql.Null[time.Time]
	if err := s.Scan(&c.ID, &c.InstructorID, &c.Title, &c.Description, &published, &deleted, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.PublishedAt, c.DeletedAt = timePtr(published), timePtr(deleted)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

// FindCourseByID returns a visible course. ENOTFOUND if there is none.
func (s *CourseService) FindCourseByID(ctx context.Context, id int64) (*edustream.Course, error) {
	c, err := scanCourse(s.db.reader(ctx).queryRow(ctx,
		"SELECT "+courseColumns+" FROM courses c WHERE c.id = ? AND c.deleted_at IS NULL", id))
	if err != nil {
		return nil, dbError(err, "find", "course", id)
	}
	return c, nil
}

// FindCoursesByIDs returns the visible courses among ids, keyed by id, with
// one query.
func (s *CourseService) FindCoursesByIDs(ctx context.Context, ids []int64) (map[int64]*edustream.Course, error) {
	out := make(map[int64]*edustream.Course, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	courses, err := queryAll(ctx, s.db.reader(ctx), scanCourse,
		"SELECT "+courseColumns+" FROM courses c WHERE c.id IN ("+in+") AND c.deleted_at IS NULL", args...)
	if err != nil {
		return nil, dbError(err, "find", "courses", 0)
	}
	for _, c := range courses {
		out[c.ID] = c
	}
	return out, nil
}

// FindCourses returns one page of the catalog, newest first, with one query:
// it fetches Limit+1 rows, and the extra row only says that more follow. A
// Limit of 0 returns no courses but still reports whether any match;
// a negative Limit is EINVALID.
func (s *CourseService) FindCourses(ctx context.Context, f edustream.CourseFilter) ([]*edustream.Course, bool, error) {
	if f.Limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "page size must not be negative")
	}
	where := []string{"c.deleted_at IS NULL"}
	var args []any
	switch {
	case f.AllDrafts:
	case f.DraftsOf != 0:
		where = append(where, "(c.published_at IS NOT NULL OR c.instructor_id = ?)")
		args = append(args, f.DraftsOf)
	default:
		where = append(where, "c.published_at IS NOT NULL")
	}
	if f.Published != nil {
		if *f.Published {
			where = append(where, "c.published_at IS NOT NULL")
		} else {
			where = append(where, "c.published_at IS NULL")
		}
	}
	if f.MineOf != 0 {
		where = append(where, "(c.instructor_id = ? OR EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = ? AND e.course_id = c.id))")
		args = append(args, f.MineOf, f.MineOf)
	}
	if f.BeforeID != 0 {
		where = append(where, "c.id < ?")
		args = append(args, f.BeforeID)
	}
	args = append(args, f.Limit+1)
	courses, err := queryAll(ctx, s.db.reader(ctx), scanCourse,
		"SELECT "+courseColumns+" FROM courses c WHERE "+strings.Join(where, " AND ")+" ORDER BY c.id DESC LIMIT ?", args...)
	if err != nil {
		return nil, false, dbError(err, "find", "courses", 0)
	}
	if len(courses) > f.Limit {
		return courses[:f.Limit], true, nil
	}
	return courses, false, nil
}

// CreateCourse inserts c and sets its ID and timestamps. PublishedAt is kept
// (in UTC, to the microsecond); DeletedAt is cleared, since a course is
// hidden only through HideCourse. EINVALID for a bad title or description.
func (s *CourseService) CreateCourse(ctx context.Context, c *edustream.Course) error {
	if err := c.Validate(); err != nil {
		return err
	}
	now := utcMicro(s.now())
	published := utcMicroPtr(c.PublishedAt)
	var id int64
	err := s.db.inTx(ctx, func(tx handle) error {
		res, err := tx.exec(ctx,
			"INSERT INTO courses (instructor_id, title, description, published_at, deleted_at, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, ?)",
			c.InstructorID, c.Title, c.Description, nullTime(published), now, now)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return indexCourse(ctx, tx, id)
	})
	if err != nil {
		return dbError(err, "create", "course", 0)
	}
	c.ID, c.PublishedAt, c.DeletedAt, c.CreatedAt, c.UpdatedAt = id, published, nil, now, now
	return nil
}

// UpdateCourse applies upd to a visible course and returns it. Publishing an
// already published course keeps its original PublishedAt. ENOTFOUND,
// EINVALID.
func (s *CourseService) UpdateCourse(ctx context.Context, id int64, upd edustream.CourseUpdate) (*edustream.Course, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var publish any // NULL: unchanged
	if upd.Published != nil {
		publish = 0
		if *upd.Published {
			publish = 1
		}
	}
	now := utcMicro(s.now())
	var c *edustream.Course
	err := s.db.inTx(ctx, func(tx handle) error {
		n, err := rowsAffected(tx.exec(ctx, `UPDATE courses SET
  title = COALESCE(?, title),
  description = COALESCE(?, description),
  published_at = CASE ? WHEN 1 THEN COALESCE(published_at, ?) WHEN 0 THEN NULL ELSE published_at END,
  updated_at = ?
WHERE id = ? AND deleted_at IS NULL`,
			orNull(upd.Title), orNull(upd.Description), publish, now, now, id))
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("course", id)
		}
		if upd.Title != nil || upd.Description != nil {
			if err := indexCourse(ctx, tx, id); err != nil {
				return err
			}
		}
		c, err = scanCourse(tx.queryRow(ctx, "SELECT "+courseColumns+" FROM courses c WHERE c.id = ?", id))
		return err
	})
	if err != nil {
		return nil, dbError(err, "update", "course", id)
	}
	return c, nil
}

// HideCourse marks the course deleted. ENOTFOUND if it is already hidden or
// missing.
func (s *CourseService) HideCourse(ctx context.Context, id int64) error {
	now := utcMicro(s.now())
	n, err := rowsAffected(s.db.writer().exec(ctx,
		"UPDATE courses SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL", now, now, id))
	if err != nil {
		return dbError(err, "hide", "course", id)
	}
	if n == 0 {
		return notFound("course", id)
	}
	return nil
}

// PurgeCourse removes a hidden course, its lectures and its enrollments in
// one transaction that first locks the course row, and marks the lectures'
// videos replaced so the cleanup task deletes their outputs. A course that
// is gone is a no-op; a visible course is ECONFLICT.
func (s *CourseService) PurgeCourse(ctx context.Context, id int64) error {
	err := s.db.inTx(ctx, func(tx handle) error {
		var deleted sql.Null[time.Time]
		err := tx.queryRow(ctx, "SELECT deleted_at FROM courses WHERE id = ?"+s.db.dialect.forUpdate, id).Scan(&deleted)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		case !deleted.Valid:
			return edustream.Errorf(edustream.ECONFLICT, "course %d is not hidden and cannot be purged", id)
		}
		if err := replaceVideosOf(ctx, tx, utcMicro(s.now()), "l.course_id = ?", id); err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM enrollments WHERE course_id = ?",
			"DELETE FROM lectures WHERE course_id = ?",
			"DELETE FROM courses WHERE id = ?",
		} {
			if _, err := tx.exec(ctx, q, id); err != nil {
				return err
			}
		}
		return unindexCourse(ctx, tx, id)
	})
	return dbError(err, "purge", "course", id)
}

// FindHiddenCourseIDs returns the courses waiting to be purged, oldest id
// first.
func (s *CourseService) FindHiddenCourseIDs(ctx context.Context) ([]int64, error) {
	ids, err := queryAll(ctx, s.db.reader(ctx), func(s scanner) (int64, error) {
		var id int64
		err := s.Scan(&id)
		return id, err
	}, "SELECT id FROM courses WHERE deleted_at IS NOT NULL ORDER BY id")
	if err != nil {
		return nil, dbError(err, "find hidden", "courses", 0)
	}
	return ids, nil
}
