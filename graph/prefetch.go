package graph

import (
	"context"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream"
)

// prefetchCourses loads, in one query each, the related rows the document
// asks for under a list of courses, and primes the operation's loaders with
// them. The loaders alone batch by waiting a moment for sibling resolvers,
// which under load can split one batch into several, and gqlgen resolves
// the courses of a connection one after another (exec.worker_limit), so
// each would wait out a batch window of its own; a page of courses is
// common enough to deserve a round-trip count that does not depend on
// timing, and one wait at most.
func (r *Resolver) prefetchCourses(ctx context.Context, courses []*edustream.Course) error {
	if len(courses) == 0 {
		return nil
	}
	wanted := map[string]bool{}
	var node ast.SelectionSet // what the page selects on each course
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		eachField(fc.Field.Selections, func(f *ast.Field) bool {
			wanted[f.Name] = true
			return true
		})
		node = courseNodes(fc.Field.Selections)
	}
	l := loadersFrom(ctx)
	ids := make([]int64, len(courses))
	for i, c := range courses {
		ids[i] = c.ID
	}
	// Courses and lectures by id are read again only by Lecture.course and
	// by the access checks of the videos, progress and live sessions;
	// priming them for a page that selects none cost a closure and a map
	// entry per lecture.
	videos := wanted["video"] || wanted["nextVideo"] || wanted["myProgress"]
	if wanted["course"] || videos || wanted["liveSessions"] {
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
		// Outlines unless some list of lectures selects the description.
		outlines := eachField(node, func(f *ast.Field) bool { return f.Name != "lectures" || !selectsHere(f.SelectionSet, "description") })
		find := r.LectureService.FindLecturesByCourseIDs
		if outlines {
			find = r.LectureService.FindLectureOutlinesByCourseIDs
		}
		lectures, err := find(ctx, ids)
		if err != nil {
			return err
		}
		l.primeLectureLists(ids, lectures, outlines)
		if videos {
			for _, id := range ids {
				for _, lecture := range lectures[id] {
					l.lectureLoader().Prime(lecture.ID, lecture)
				}
			}
		}
	}
	// The caller's enrollments decide enrolled, and who may play a video,
	// see their progress or join a live class.
	u := edustream.UserFromContext(ctx)
	if u != nil && (wanted["enrolled"] || videos || wanted["liveSessions"]) {
		enrollments, err := r.EnrollmentService.FindEnrollments(ctx, u.ID, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			l.enrollmentLoader().Prime(id, enrollments[id])
		}
	}
	r.queueCourseFields(ctx, l, node, ids)
	return nil
}

// queueCourseFields queues the page's course ids, once, into the loaders
// of the loader-backed fields selected on each course, without waiting:
// the fields then find their keys in one batch already on its way rather
// than each open a batch window of its own.
func (r *Resolver) queueCourseFields(ctx context.Context, l *loaders, node ast.SelectionSet, ids []int64) {
	vars := graphql.GetOperationContext(ctx).Variables
	directFields(node, func(f *ast.Field) {
		switch f.Name {
		case "liveSessions":
			if r.LiveSessionService == nil {
				return
			}
			args := f.ArgumentMap(vars)
			n, ok := intArg(args["first"], defaultLiveSessions)
			if !ok || n <= 0 || n > MaxFirst {
				return // the field refuses it, or reads nothing
			}
			var past *bool
			if p, ok := args["past"].(bool); ok {
				past = &p
			}
			l.liveSessionsOf(past, n).LoadAllThunk(ctx, ids)
		case "myProgress":
			if r.Progress != nil && l.viewer != nil {
				l.courseProgressLoader().LoadAllThunk(ctx, ids)
			}
		}
	})
}

// intArg is an Int argument as the document or its variables gave it, or
// def when absent; ok is false for a value the field will refuse.
func intArg(v any, def int) (n int, ok bool) {
	switch v := v.(type) {
	case nil:
		return def, true
	case int64:
		return int(v), true
	case int:
		return v, true
	case json.Number:
		i, err := v.Int64()
		return int(i), err == nil
	case float64:
		return int(v), v == float64(int(v))
	}
	return 0, false
}

// courseNodes returns the selections on the courses of a connection: what
// edges { node { … } } selects, through fragments.
func courseNodes(connection ast.SelectionSet) ast.SelectionSet {
	var node ast.SelectionSet
	directFields(connection, func(edges *ast.Field) {
		if edges.Name == "edges" {
			directFields(edges.SelectionSet, func(n *ast.Field) {
				if n.Name == "node" {
					node = append(node, n.SelectionSet...)
				}
			})
		}
	})
	return node
}

// directFields calls visit for every field set selects itself, through
// fragments but not in sub-selections.
func directFields(set ast.SelectionSet, visit func(*ast.Field)) {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			visit(sel)
		case *ast.InlineFragment:
			directFields(sel.SelectionSet, visit)
		case *ast.FragmentSpread:
			if sel.Definition != nil {
				directFields(sel.Definition.SelectionSet, visit)
			}
		}
	}
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

// queueSearchHits queues, for a page of search hits, the loader reads of
// the fields selected on the hits' courses and lectures, without waiting,
// as prefetchCourses does for the catalog: gqlgen resolves the hits one
// at a time, and each hit's course and lecture is an object of its own,
// which no batch resolver groups.
func (r *Resolver) queueSearchHits(ctx context.Context, courses map[int64]*edustream.Course, lectures map[int64]*edustream.Lecture) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return
	}
	var course, lecture ast.SelectionSet
	directFields(courseNodes(fc.Field.Selections), func(f *ast.Field) {
		switch f.Name {
		case "course":
			course = append(course, f.SelectionSet...)
		case "lecture":
			lecture = append(lecture, f.SelectionSet...)
		}
	})
	l := loadersFrom(ctx)
	courseIDs := make([]int64, 0, len(courses))
	for id := range courses {
		courseIDs = append(courseIDs, id)
	}
	var playing, newest, withVideo, lectureIDs []int64
	for _, lec := range lectures {
		lectureIDs = append(lectureIDs, lec.ID)
		if lec.VideoID != nil {
			playing, withVideo = append(playing, *lec.VideoID), append(withVideo, lec.ID)
		} else {
			newest = append(newest, lec.ID)
		}
	}
	video, next, progress := selectsHere(lecture, "video"), selectsHere(lecture, "nextVideo"), selectsHere(lecture, "myProgress")
	if video {
		l.videoLoader().LoadAllThunk(ctx, playing)
		l.latestVideoLoader().LoadAllThunk(ctx, newest)
	}
	if next {
		l.latestVideoLoader().LoadAllThunk(ctx, withVideo)
	}
	if progress && r.Progress != nil && l.viewer != nil {
		l.lectureProgressLoader().LoadAllThunk(ctx, lectureIDs)
		l.lectureOutlinesByCourseLoader().LoadAllThunk(ctx, courseIDs)
		l.videoLoader().LoadAllThunk(ctx, playing)
	}
	if l.viewer != nil && (selectsHere(course, "enrolled") || video || next || progress) {
		l.enrollmentLoader().LoadAllThunk(ctx, courseIDs)
	}
	r.queueCourseFields(ctx, l, course, courseIDs)
}
