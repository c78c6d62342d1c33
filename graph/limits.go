package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/edustream/edustream/graph/generated"
	"github.com/edustream/edustream/graph/model"
)

// lecturesEstimate is what the complexity limit charges per course for its
// lecture list: a typical course, not the MaxLecturesPerCourse worst case,
// which would make the ordinary catalog page look as dear as an attack.
// Nesting lists inside lists still multiplies, which is what the limit is for.
const lecturesEstimate = 30

// complexity makes list fields cost their length times their items.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	c.Query.Courses = func(child int, first *int, _ *string, _ *model.CourseFilter) int {
		n := 20
		if first != nil {
			// Out-of-range values are refused by the resolver with a clearer
			// message than the complexity limit would give.
			n = min(max(*first, 1), MaxFirst)
		}
		return 1 + saturatingMul(n, child)
	}
	c.Course.Lectures = func(child int) int { return 1 + saturatingMul(lecturesEstimate, child) }
	c.Course.LiveSessions = func(child int, _ *bool, first *int) int {
		n := defaultLiveSessions
		if first != nil {
			n = min(max(*first, 1), MaxFirst)
		}
		return 1 + saturatingMul(n, child)
	}
	return c
}

// saturatingMul multiplies without wrapping around: a wrapped product of a
// hostile document could come out small, or negative, and pass the limit.
func saturatingMul(a, b int) int {
	const ceiling = 1 << 40
	if a != 0 && b > ceiling/a {
		return ceiling
	}
	return a * b
}

// depthLimit refuses documents nested deeper than Max fields. Introspection
// fields are not counted: GraphiQL's own schema query is deep by design and
// is governed by the introspection switch instead.
type depthLimit struct{ Max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil
	}
	if depth := selectionDepth(op.SelectionSet, d.Max+1); depth > d.Max {
		return gqlerror.Errorf("operation is nested more than %d levels deep", d.Max)
	}
	return nil
}

// selectionDepth returns the depth of set, counting only fields, and stops
// descending once it passes limit so a hostile document costs little.
// Validation has already rejected fragment cycles.
func selectionDepth(set ast.SelectionSet, limit int) int {
	if limit <= 0 {
		return 0
	}
	deepest := 0
	for _, sel := range set {
		var d int
		switch sel := sel.(type) {
		case *ast.Field:
			if len(sel.Name) > 1 && sel.Name[:2] == "__" {
				continue
			}
			d = 1 + selectionDepth(sel.SelectionSet, limit-1)
		case *ast.InlineFragment:
			d = selectionDepth(sel.SelectionSet, limit)
		case *ast.FragmentSpread:
			if sel.Definition != nil {
				d = selectionDepth(sel.Definition.SelectionSet, limit)
			}
		default:
			panic(fmt.Sprintf("unexpected selection %T", sel))
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// noIntrospection refuses __schema and __type up front when introspection is
// off, so the caller gets a clear BAD_USER_INPUT instead of gqlgen's
// field-level error. __typename stays allowed: clients need it.
type noIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noIntrospection{}

func (noIntrospection) ExtensionName() string                   { return "NoIntrospection" }
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (noIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if op := oc.Doc.Operations.ForName(oc.OperationName); op != nil && selectsIntrospection(op.SelectionSet) {
		return gqlerror.Errorf("introspection is disabled on this server")
	}
	return nil
}

func selectsIntrospection(set ast.SelectionSet) bool {
	return !eachField(set, func(f *ast.Field) bool { return f.Name != "__schema" && f.Name != "__type" })
}

// eachField calls visit for every field selected in set, at any depth and
// through fragments, until visit returns false; it reports whether the walk
// finished. Validation has already rejected fragment cycles.
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
