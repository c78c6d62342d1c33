package graph

import (
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph/generated"
	"github.com/edustream/edustream/graph/model"
)

// lecturesEstimate is what the complexity limit charges per course for its
// lecture list: a typical course, not the MaxLecturesPerCourse worst case,
// which would make the ordinary catalog page look as dear as an attack.
// Nesting lists inside lists still multiplies, which is what the limit is for.
const lecturesEstimate = 30

// complexity makes list fields cost their length times their items; every
// other field costs gqlgen's default, 1 plus its children.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	c.Query.Courses = func(child int, first *int, _ *string, _ *model.CourseFilter) int {
		n := 20
		if first != nil {
			// Out-of-range values are refused by the resolver with a clearer
			// message than the complexity limit would give.
			n = min(max(*first, 1), MaxFirst)
		}
		return gqlhttp.ListCost(n, child)
	}
	c.Query.Search = func(child int, _ string, first *int, _ *string) int {
		n := 20 // pageSize's default
		if first != nil {
			n = min(max(*first, 1), MaxFirst)
		}
		return gqlhttp.ListCost(n, child)
	}
	c.Course.Lectures = func(child int) int { return gqlhttp.ListCost(lecturesEstimate, child) }
	c.Course.LiveSessions = func(child int, _ *bool, first *int) int {
		n := defaultLiveSessions
		if first != nil {
			n = min(max(*first, 1), MaxFirst)
		}
		return gqlhttp.ListCost(n, child)
	}
	adminComplexity(&c)
	progressComplexity(&c)
	captionsComplexity(&c)
	return c
}
