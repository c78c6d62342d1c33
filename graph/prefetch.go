package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream"
)

// prefetchCourses loads, in one query each, the related rows the document
// asks for under a list of courses, and primes the operation's loaders with
// them. The loaders alone batch by waiting a moment for sibling resolvers,
// which under load can split one batch into several; a page of courses is
// common enough to deserve a round-trip count that does not depend on
// timing.
func (r *Resolver) prefetchCourses(ctx context.Context, courses []*edustream.Course) error {
	if len(courses) == 0 {
		return nil
	}
	wanted := map[string]bool{}
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		eachField(fc.Field.Selections, func(f *ast.Field) bool {
			wanted[f.Name] = true
			return true
		})
	}
	l := loadersFrom(ctx)
	ids := make([]int64, len(courses))
	for i, c := range courses {
		ids[i] = c.ID
	}
	// Courses and lectures by id are read again only by Lecture.course and
	// by the video fields' access checks; priming them for a page that
	// selects neither cost a closure and a map entry per lecture.
	videos := wanted["video"] || wanted["nextVideo"]
	if wanted["course"] || videos {
		for _, c := range courses {
			l.courseLoader().Prime(c.ID, c)
		}
	}
	if wanted["instructor"] {
		instructorIDs := make([]int64, len(courses))
		for i, c := range courses {
			instructorIDs[i] = c.InstructorID
		}
		users, err := r.UserService.FindUsersByIDs(ctx, instructorIDs)
		if err != nil {
			return err
		}
		for id, u := range users {
			l.userLoader().Prime(id, u)
		}
	}
	if wanted["lectures"] {
		lectures, err := r.LectureService.FindLecturesByCourseIDs(ctx, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			l.lecturesByCourseLoader().Prime(id, lectures[id])
			if videos {
				for _, lecture := range lectures[id] {
					l.lectureLoader().Prime(lecture.ID, lecture)
				}
			}
		}
	}
	if u := edustream.UserFromContext(ctx); wanted["enrolled"] && u != nil {
		enrollments, err := r.EnrollmentService.FindEnrollments(ctx, u.ID, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			l.enrollmentLoader().Prime(id, enrollments[id])
		}
	}
	return nil
}

// eachField calls visit for every field selected in set, at any depth and
// through fragments, until visit returns false; it reports whether the walk
// finished. Validation has already rejected fragment cycles, and gqlhttp
// bounds the fields this can reach.
func eachField(set ast.SelectionSet, visit func(*ast.Field) bool) bool {
	for _, sel := range set {
		var more bool
		switch sel := sel.(type) {
		case *ast.Field:
			more = visit(sel) && eachField(sel.SelectionSet, visit)
		case *ast.InlineFragment:
			more = eachField(sel.SelectionSet, visit)
		case *ast.FragmentSpread:
			more = sel.Definition == nil || eachField(sel.Definition.SelectionSet, visit)
		}
		if !more {
			return false
		}
	}
	return true
}
