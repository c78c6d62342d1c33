package gqlhttp

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Every document is priced in time linear in its size before anything
// walks it; fragments are priced once each and reused at every spread.
// guardedExecutor.prepare runs, for a document not in the query cache:
//
//  1. prescan, over the tokens before parsing: the token limit, long names,
//     repeated fields, runs of directives (parsing allocates a node per
//     field, lexing does not);
//  2. checkDocument, over the parsed document: the field selections and
//     spreads counted through every spread (fragment fan-out), the nesting
//     depth, fields repeated within one selection set (inline fragments
//     included), the directives on one node, the length of names, fragment
//     cycles;
//  3. a lower bound of the complexity of the operation to run, from its
//     literal arguments (aliases × lists);
//  4. validation, which stops after maxErrors errors.
//
// Then, for every request, costLimit runs after variable coercion and
// before any resolver: the schema's scalar check of the variables, the
// complexity with the variables' values (lists at their length, see
// ListCost) and the introspection switch.
//
// The reasons below go to extensions.reason; they are protocol errors, so
// the transports treat them like validation failures.
const (
	reasonDepth         = "DEPTH_LIMIT_EXCEEDED"
	reasonComplexity    = "COMPLEXITY_LIMIT_EXCEEDED"
	reasonSelections    = "SELECTION_LIMIT_EXCEEDED"
	reasonIntrospection = "INTROSPECTION_DISABLED"
	reasonTooManyErrors = "TOO_MANY_ERRORS"
)

func init() {
	for _, reason := range []string{reasonDepth, reasonComplexity, reasonSelections, reasonIntrospection, reasonTooManyErrors} {
		errcode.RegisterErrorType(reason, errcode.KindProtocol)
	}
}

// Fixed limits on the shape of a document. Nothing a client needs comes
// near them; each keeps one of gqlparser's or gqlgen's walks from costing
// more than the document's size.
const (
	// maxRepeats is how often one response key (or one fragment spread)
	// may appear in a selection set, inline fragments included.
	maxRepeats = 10
	// maxDirectives is how many directives one node may carry.
	maxDirectives = 8
	// maxNameLength bounds names, aliases and enum values, which
	// validation compares against the schema's for its suggestions.
	maxNameLength = 128
	// maxErrors is how many errors one response carries at most;
	// validation stops at this many.
	maxErrors = 10
	// maxResponseErrors bounds the errors of an executed operation (one
	// per failed alias, say); the rest are summarised in a last error.
	maxResponseErrors = 50
)

func limitError(pos *ast.Position, reason, format string, args ...any) *gqlerror.Error {
	err := gqlerror.ErrorPosf(pos, format, args...)
	errcode.Set(err, reason)
	return err
}

// checkDocument prices the shape of doc (see above) and refuses it at the
// first limit it exceeds. It also reports whether two fields may answer to
// one response key anywhere, which only then needs validating. It is meant
// for a freshly parsed document: fragment spreads are resolved by name here,
// since validation has not linked them yet, and cycles are refused rather
// than followed. What prescan found (scan) spares counting the fields of
// each selection set again when prescan could count them all.
func checkDocument(doc *ast.QueryDocument, maxDepth, maxSelections int, scan scanned) (mayConflict bool, _ *gqlerror.Error) {
	c := &shapeChecker{
		byName:      make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		shapes:      make(map[*ast.FragmentDefinition]*fragmentShape, len(doc.Fragments)),
		keysChecked: scan.keysChecked(),
	}
	c.mayConflict = c.keysChecked && scan.repeatedKeys
	for _, f := range doc.Fragments {
		if _, dup := c.byName[f.Name]; !dup {
			c.byName[f.Name] = f
		}
	}
	// Validation walks each operation and, once more, each fragment
	// definition with the fragments it spreads; the executor walks the
	// operation. Counting every definition's expanded selections bounds
	// all of these.
	total := 0
	for _, op := range doc.Operations {
		if err := c.names(op.Position, op.Name); err != nil {
			return false, err
		}
		for _, v := range op.VariableDefinitions {
			if err := c.names(v.Position, v.Variable, v.Type.Name()); err != nil {
				return false, err
			}
			if err := c.directives(v.Directives); err != nil {
				return false, err
			}
			if err := c.value(v.DefaultValue); err != nil {
				return false, err
			}
		}
		if err := c.directives(op.Directives); err != nil {
			return false, err
		}
		s, err := c.set(op.SelectionSet)
		if err != nil {
			return false, err
		}
		if s.depth > maxDepth {
			return false, limitError(op.Position, reasonDepth, "operation is nested more than %d levels deep", maxDepth)
		}
		total = saturatingAdd(total, s.selections)
	}
	for _, f := range doc.Fragments {
		s, err := c.fragment(f)
		if err != nil {
			return false, err
		}
		total = saturatingAdd(total, s.selections)
	}
	if total > maxSelections {
		return false, limitError(nil, reasonSelections, "document selects more than %d fields, counting each fragment at every spread", maxSelections)
	}
	return c.mayConflict, nil
}

// fragmentShape is what a selection set costs to walk: its field
// selections with fragments expanded, and the depth of its fields
// (introspection fields aside: GraphiQL's schema query is deep by design and
// is governed by the introspection switch instead).
type fragmentShape struct {
	selections, depth int
	visiting, done    bool
}

type shapeChecker struct {
	byName map[string]*ast.FragmentDefinition
	shapes map[*ast.FragmentDefinition]*fragmentShape
	free   []*keyCounts
	// mayConflict is set once two fields could answer to one response key:
	// a key repeats in a selection set, or a fragment is spread. Without
	// either, the fields-can-merge rule has nothing to find.
	mayConflict bool
	// keysChecked: prescan has counted the fields of every selection set
	// (see scanned.keysChecked); only fragment spreads are counted here.
	keysChecked bool
}

func (c *shapeChecker) fragment(f *ast.FragmentDefinition) (fragmentShape, *gqlerror.Error) {
	s := c.shapes[f]
	if s == nil {
		s = &fragmentShape{}
		c.shapes[f] = s
	}
	switch {
	case s.done:
		return *s, nil
	case s.visiting:
		return *s, limitError(f.Position, reasonSelections, "fragment %q spreads itself", truncateName(f.Name))
	}
	s.visiting = true
	if err := c.names(f.Position, f.Name, f.TypeCondition); err != nil {
		return *s, err
	}
	if err := c.directives(f.Directives); err != nil {
		return *s, err
	}
	got, err := c.set(f.SelectionSet)
	if err != nil {
		return *s, err
	}
	*s = got
	s.done = true
	return *s, nil
}

// set prices one selection set. Inline fragments belong to it (their
// fields land in the same response object); fragment spreads are priced
// once each and reused.
func (c *shapeChecker) set(set ast.SelectionSet) (fragmentShape, *gqlerror.Error) {
	// The counts are reused across sets: a set's are done with when set
	// returns.
	var keys *keyCounts
	if n := len(c.free); n > 0 {
		keys, c.free = c.free[n-1], c.free[:n-1]
	} else {
		keys = new(keyCounts)
	}
	defer func() {
		keys.release()
		c.free = append(c.free, keys)
	}()
	var s fragmentShape
	err := c.members(set, keys, &s)
	return s, err
}

func (c *shapeChecker) members(set ast.SelectionSet, keys *keyCounts, s *fragmentShape) *gqlerror.Error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if err := c.names(sel.Position, sel.Alias, sel.Name); err != nil {
				return err
			}
			if !c.keysChecked {
				if err := c.repeat(keys, sel.Alias, sel.Position); err != nil {
					return err
				}
			}
			if err := c.directives(sel.Directives); err != nil {
				return err
			}
			for _, arg := range sel.Arguments {
				if err := c.names(arg.Position, arg.Name); err != nil {
					return err
				}
				if err := c.value(arg.Value); err != nil {
					return err
				}
			}
			var child fragmentShape
			if len(sel.SelectionSet) > 0 {
				var err *gqlerror.Error
				if child, err = c.set(sel.SelectionSet); err != nil {
					return err
				}
			}
			s.selections = saturatingAdd(s.selections, saturatingAdd(1, child.selections))
			if !isIntrospectionName(sel.Name) {
				s.depth = max(s.depth, 1+child.depth)
			}
		case *ast.InlineFragment:
			if err := c.names(sel.Position, sel.TypeCondition); err != nil {
				return err
			}
			if err := c.directives(sel.Directives); err != nil {
				return err
			}
			if err := c.members(sel.SelectionSet, keys, s); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if err := c.names(sel.Position, sel.Name); err != nil {
				return err
			}
			if err := c.repeat(keys, "..."+sel.Name, sel.Position); err != nil {
				return err
			}
			if err := c.directives(sel.Directives); err != nil {
				return err
			}
			c.mayConflict = true
			def := c.byName[sel.Name]
			if def == nil {
				continue // validation names it
			}
			f, err := c.fragment(def)
			if err != nil {
				return err
			}
			// The spread counts too: validation walks it, and a chain of
			// fragments that only spread one another selects no field.
			s.selections = saturatingAdd(s.selections, saturatingAdd(1, f.selections))
			s.depth = max(s.depth, f.depth)
		default:
			panic(fmt.Sprintf("unexpected selection %T", sel))
		}
	}
	return nil
}

func (c *shapeChecker) repeat(keys *keyCounts, key string, pos *ast.Position) *gqlerror.Error {
	n := keys.add(key)
	if n > 1 {
		c.mayConflict = true
	}
	if n > maxRepeats {
		return limitError(pos, reasonSelections, "%q is selected more than %d times in one selection set", truncateName(key), maxRepeats)
	}
	return nil
}

func (c *shapeChecker) directives(list ast.DirectiveList) *gqlerror.Error {
	if len(list) > maxDirectives {
		return limitError(list[maxDirectives].Position, reasonSelections, "more than %d directives on one node", maxDirectives)
	}
	for _, d := range list {
		if err := c.names(d.Position, d.Name); err != nil {
			return err
		}
		for _, arg := range d.Arguments {
			if err := c.names(arg.Position, arg.Name); err != nil {
				return err
			}
			if err := c.value(arg.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// value checks the names inside a literal: enum values, object fields and
// variables.
func (c *shapeChecker) value(v *ast.Value) *gqlerror.Error {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ast.EnumValue, ast.Variable:
		return c.names(v.Position, v.Raw)
	case ast.ListValue, ast.ObjectValue:
		for _, child := range v.Children {
			if err := c.names(child.Position, child.Name); err != nil {
				return err
			}
			if err := c.value(child.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *shapeChecker) names(pos *ast.Position, names ...string) *gqlerror.Error {
	for _, n := range names {
		if len(n) > maxNameLength {
			return limitError(pos, reasonSelections, "name %q is longer than %d bytes", truncateName(n), maxNameLength)
		}
	}
	return nil
}

func isIntrospectionName(name string) bool { return len(name) > 1 && name[:2] == "__" }

func truncateName(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// ListCost is the complexity of a list field of n items that cost child
// each, for a schema's complexity table: the field, and its items.
func ListCost(n, child int) int { return saturatingAdd(1, saturatingMul(n, child)) }

// saturating arithmetic: a wrapped sum or product of a hostile document
// could come out small, or negative, and pass a limit.
const ceiling = 1 << 40

func saturatingMul(a, b int) int {
	if a != 0 && b > ceiling/a {
		return ceiling
	}
	return a * b
}

func saturatingAdd(a, b int) int { return min(a+b, ceiling) }

// costLimit refuses, after validation and before any resolver, the
// operations whose complexity is over Max, and introspection when it is
// off (so the caller gets one clear error instead of gqlgen's field-level
// ones; __typename stays allowed: clients need it). It also refuses the
// variables the schema's scalarCheck refuses (Int beyond 32 bits, say) as
// a request error, before a resolver would see them. Fragments are priced
// once per operation.
type costLimit struct {
	es            graphql.ExecutableSchema
	max           int
	introspection bool
	scalarCheck   func(scalar string, value any) error
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = costLimit{}

func (costLimit) ExtensionName() string                   { return "CostLimit" }
func (costLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l costLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Operation
	if op == nil {
		return nil
	}
	if l.scalarCheck != nil {
		schema := l.es.Schema()
		for _, v := range op.VariableDefinitions {
			if err := checkScalars(schema, v.Type, oc.Variables[v.Variable], l.scalarCheck); err != nil {
				gqlErr := gqlerror.ErrorPosf(v.Position, "variable $%s: %s", v.Variable, err)
				errcode.Set(gqlErr, errcode.ValidationFailed)
				return gqlErr
			}
		}
	}
	p := newPricer(ctx, l.es, oc.Variables, nil)
	cost := p.operation(op)
	if p.introspects && !l.introspection {
		return limitError(op.Position, reasonIntrospection, "introspection is disabled on this server")
	}
	if cost > l.max {
		return complexityError(op, cost, l.max, false)
	}
	return nil
}

// pricer computes gqlgen's complexity of a selection set (the rules of
// complexity.Calculate: each field costs 1 plus its children unless the
// schema's ComplexityRoot says otherwise, __schema is free), with each
// fragment priced once.
//
// After validation it reads the definitions validation linked and the
// coerced variables: that is the operation's complexity. Before validation
// (byName set) it looks definitions up itself and takes only literal
// arguments; a field whose arguments use variables costs the default 1 plus
// its children, which none of complexity's rules undercut. That is a lower
// bound, enough to refuse aliases × lists before validation walks them.
type pricer struct {
	ctx         context.Context
	es          graphql.ExecutableSchema
	schema      *ast.Schema
	vars        map[string]any
	fragments   map[*ast.FragmentDefinition]int
	introspects bool
	// byName resolves fragment spreads before validation has linked them.
	byName map[string]*ast.FragmentDefinition
	// stopAbove, if positive, ends the pricing once the cost passes it:
	// the answer is then only "too dear".
	stopAbove int
}

func newPricer(ctx context.Context, es graphql.ExecutableSchema, vars map[string]any, byName map[string]*ast.FragmentDefinition) *pricer {
	return &pricer{ctx: ctx, es: es, schema: es.Schema(), vars: vars, fragments: map[*ast.FragmentDefinition]int{}, byName: byName}
}

// operation prices op from its root type.
func (p *pricer) operation(op *ast.OperationDefinition) int {
	var root *ast.Definition
	switch op.Operation {
	case ast.Query, "":
		root = p.schema.Query
	case ast.Mutation:
		root = p.schema.Mutation
	case ast.Subscription:
		root = p.schema.Subscription
	}
	return p.set(op.SelectionSet, root)
}

func (p *pricer) set(set ast.SelectionSet, parent *ast.Definition) int {
	total := 0
	for _, sel := range set {
		if p.stopAbove > 0 && total > p.stopAbove {
			return total
		}
		switch sel := sel.(type) {
		case *ast.Field:
			total = saturatingAdd(total, p.field(sel, parent))
		case *ast.InlineFragment:
			t := parent
			if sel.TypeCondition != "" {
				t = p.schema.Types[sel.TypeCondition]
			}
			total = saturatingAdd(total, p.set(sel.SelectionSet, t))
		case *ast.FragmentSpread:
			def := sel.Definition
			if def == nil && p.byName != nil {
				def = p.byName[sel.Name]
			}
			if def == nil {
				continue
			}
			cost, ok := p.fragments[def]
			if !ok {
				cost = p.set(def.SelectionSet, p.schema.Types[def.TypeCondition])
				p.fragments[def] = cost
			}
			total = saturatingAdd(total, cost)
		}
	}
	return total
}

func (p *pricer) field(f *ast.Field, parent *ast.Definition) int {
	if f.Name == "__schema" || f.Name == "__type" {
		p.introspects = true
	}
	def, obj := f.Definition, f.ObjectDefinition
	if def == nil && parent != nil {
		def, obj = parent.Fields.ForName(f.Name), parent
	}
	if def == nil || obj == nil {
		return 1
	}
	typ := p.schema.Types[def.Type.Name()]
	if typ == nil || typ.Name == "__Schema" {
		return 0
	}
	child := 0
	switch typ.Kind {
	case ast.Object, ast.Interface, ast.Union:
		child = p.set(f.SelectionSet, typ)
	}
	var args map[string]any
	if len(def.Arguments) > 0 {
		if f.Definition != nil {
			args = f.ArgumentMap(p.vars)
		} else if a, ok := literalArguments(def, f.Arguments); ok {
			args = a
		} else {
			return saturatingAdd(1, child)
		}
	}
	parents := []*ast.Definition{obj}
	if obj.Kind == ast.Interface {
		// The most expensive implementation, as gqlgen assumes.
		parents = p.schema.GetPossibleTypes(obj)
	}
	cost := 0
	for _, parent := range parents {
		cost = max(cost, p.complexity(parent.Name, f.Name, child, args))
	}
	return cost
}

// complexity is the schema's price of one field, or the default 1 plus
// its children. Before validation the literal arguments may be of the
// wrong type, and gqlgen's generated argument parsing assumes they are
// not (an input object that is a number panics): such a field costs the
// default, and validation reports the argument.
func (p *pricer) complexity(typeName, field string, child int, args map[string]any) (cost int) {
	cost = saturatingAdd(1, child)
	defer func() {
		if r := recover(); r != nil && p.byName == nil {
			panic(r) // validated arguments: a bug worth its stack trace
		}
	}()
	if c, ok := p.es.Complexity(p.ctx, typeName, field, child, args); ok && c >= 1 {
		cost = c
	}
	return cost
}

// literalArguments is the argument map of a field whose arguments are all
// literals, with the schema's defaults; false if one uses a variable.
func literalArguments(def *ast.FieldDefinition, args ast.ArgumentList) (map[string]any, bool) {
	m := make(map[string]any, len(def.Arguments))
	for _, a := range def.Arguments {
		v := a.DefaultValue
		if arg := args.ForName(a.Name); arg != nil {
			v = arg.Value
		}
		if v == nil {
			continue
		}
		if usesVariables(v) {
			return nil, false
		}
		val, err := v.Value(nil)
		if err != nil {
			return nil, false
		}
		m[a.Name] = val
	}
	return m, true
}

func usesVariables(v *ast.Value) bool {
	if v.Kind == ast.Variable {
		return true
	}
	for _, child := range v.Children {
		if usesVariables(child.Value) {
			return true
		}
	}
	return false
}

func complexityError(op *ast.OperationDefinition, cost, limit int, atLeast bool) *gqlerror.Error {
	if atLeast {
		return limitError(op.Position, reasonComplexity, "operation has a complexity of at least %d, which exceeds the limit of %d", cost, limit)
	}
	return limitError(op.Position, reasonComplexity, "operation has complexity %d, which exceeds the limit of %d", cost, limit)
}

// checkScalars applies check to the scalars inside a variable's value, at
// any depth of lists and input objects.
func checkScalars(schema *ast.Schema, t *ast.Type, v any, check func(string, any) error) error {
	if v == nil || t == nil {
		return nil
	}
	if t.Elem != nil {
		if list, ok := v.([]any); ok {
			for i, item := range list {
				if err := checkScalars(schema, t.Elem, item, check); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			return nil
		}
		return checkScalars(schema, t.Elem, v, check)
	}
	def := schema.Types[t.NamedType]
	switch {
	case def == nil:
	case def.Kind == ast.Scalar:
		return check(def.Name, v)
	case def.Kind == ast.InputObject:
		if obj, ok := v.(map[string]any); ok {
			for _, f := range def.Fields {
				if err := checkScalars(schema, f.Type, obj[f.Name], check); err != nil {
					return fmt.Errorf("%s: %w", f.Name, err)
				}
			}
		}
	}
	return nil
}
