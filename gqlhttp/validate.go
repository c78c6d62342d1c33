package gqlhttp

import (
	"slices"
	"strconv"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// validationRules is gqlparser's default rule set with three changes:
//
//   - without suggestions ("Did you mean …") when introspection is off, since
//     they would reveal the schema piece by piece;
//   - OverlappingFieldsCanBeMerged, which compares the fields of a selection
//     set pairwise (9,000 repeated fields took seconds, and 849 conflicting
//     aliases gave 360,000 errors), replaced by fieldsCanMerge, which is
//     linear in the fields. That is only exact for a schema without
//     interfaces or unions, where every field of a merged set has the same
//     parent type; a schema with them keeps gqlparser's rule.
//   - Int literals beyond 32 bits are refused, as the spec's Int is.
func validationRules(schema *ast.Schema, suggestions bool) []validator.Rule {
	rs := rules.NewDefaultRules()
	if !suggestions {
		for _, r := range []validator.Rule{
			rules.FieldsOnCorrectTypeRuleWithoutSuggestions,
			rules.ScalarLeafsRuleWithoutSuggestions,
			rules.KnownArgumentNamesRuleWithoutSuggestions,
			rules.KnownTypeNamesRuleWithoutSuggestions,
			rules.ValuesOfCorrectTypeRuleWithoutSuggestions,
		} {
			rs.RemoveRule(r.Name[:len(r.Name)-len("WithoutSuggestions")])
			rs.AddRule(r.Name, r.RuleFunc)
		}
	}
	if !hasAbstractTypes(schema) {
		rs.RemoveRule(rules.OverlappingFieldsCanBeMergedRule.Name)
		rs.AddRule(fieldsCanMergeRule.Name, fieldsCanMergeRule.RuleFunc)
	}
	rs.AddRule(int32LiteralsRule.Name, int32LiteralsRule.RuleFunc)

	var out []validator.Rule
	for name, fn := range rs.GetInner() {
		out = append(out, validator.Rule{Name: name, RuleFunc: fn})
	}
	slices.SortFunc(out, func(a, b validator.Rule) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// withoutMergeRules is rs without the rule that fields answering to one
// response key can merge (ours or gqlparser's).
func withoutMergeRules(rs []validator.Rule) []validator.Rule {
	var out []validator.Rule
	for _, r := range rs {
		if r.Name != fieldsCanMergeRule.Name && r.Name != rules.OverlappingFieldsCanBeMergedRule.Name {
			out = append(out, r)
		}
	}
	return out
}

func hasAbstractTypes(schema *ast.Schema) bool {
	for _, t := range schema.Types {
		if t.Kind == ast.Interface || t.Kind == ast.Union {
			return true
		}
	}
	return false
}

// rulesFunc hands rs to gqlgen's executor, which validates with them only
// if a document we validated has left the query cache in between.
func rulesFunc(rs []validator.Rule) func() *rules.Rules {
	return func() *rules.Rules { return rules.NewRules(rs...) }
}

type stopValidation struct{}

// validate runs rs over doc and stops at the maxErrors+1st error, which it
// replaces by one saying that it stopped: a document with thousands of
// mistakes costs the same as one with a few, and so does its response.
func validate(schema *ast.Schema, doc *ast.QueryDocument, rs []validator.Rule) (errs gqlerror.List) {
	observers := &validator.Events{}
	for _, r := range rs {
		r.RuleFunc(observers, func(options ...validator.ErrorOption) {
			if len(errs) == maxErrors {
				panic(stopValidation{})
			}
			err := &gqlerror.Error{Rule: r.Name}
			for _, o := range options {
				o(err)
			}
			errs = append(errs, err)
		})
	}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stopValidation); !ok {
				panic(p)
			}
			err := gqlerror.Errorf("validation stopped after %d errors", maxErrors)
			errcode.Set(err, reasonTooManyErrors)
			errs = append(errs, err)
		}
		for _, err := range errs {
			if err.Extensions["code"] == nil {
				errcode.Set(err, errcode.ValidationFailed)
			}
		}
	}()
	validator.Walk(schema, doc, observers)
	return errs
}

// fieldsCanMergeRule is the spec's FieldsInSetCanMerge for a schema without
// interfaces or unions: fields that answer to one response key in a
// selection set (through inline fragments and fragment spreads) must be the
// same field with the same arguments, and their own selections are checked
// as one merged set. Each selection is visited once per place it is
// spread, which checkDocument has bounded, and each conflicting key gives
// one error however often it repeats.
var fieldsCanMergeRule = validator.Rule{
	Name: "FieldsCanMerge",
	RuleFunc: func(observers *validator.Events, addError validator.AddErrFunc) {
		observers.OnOperation(func(_ *validator.Walker, op *ast.OperationDefinition) {
			checkMerge([]ast.SelectionSet{op.SelectionSet}, addError)
		})
	},
}

type mergeKey struct {
	responseKey string
	// Fields of different parent types can only meet in a document that
	// spreads a fragment where its type cannot occur, which
	// PossibleFragmentSpreads reports; they are not compared.
	parent *ast.Definition
}

func keyOf(f *ast.Field) mergeKey { return mergeKey{f.Alias, f.ObjectDefinition} }

// mergeGroup is the fields of one merged set that answer to one key.
type mergeGroup struct {
	first *ast.Field
	rest  []*ast.Field
}

func checkMerge(sets []ast.SelectionSet, addError validator.AddErrFunc) {
	var c fieldCollector
	for _, set := range sets {
		c.collect(set)
	}
	for _, g := range groupFields(c.fields) {
		conflict := ""
		for _, f := range g.rest {
			switch {
			case f.Name != g.first.Name:
				conflict = strconv.Quote(g.first.Name) + " and " + strconv.Quote(f.Name) + " are different fields"
			case !sameArguments(g.first.Arguments, f.Arguments):
				conflict = "they have differing arguments"
			default:
				continue
			}
			addError(
				validator.Message(`Fields %q conflict because %s. Use different aliases on the fields to fetch both if this was intentional.`, truncateName(g.first.Alias), conflict),
				validatorAt(g.first.Position),
				validatorAt(f.Position),
			)
			break
		}
		if conflict != "" {
			continue
		}
		if len(g.rest) == 0 {
			if len(g.first.SelectionSet) > 0 {
				checkMerge([]ast.SelectionSet{g.first.SelectionSet}, addError)
			}
			continue
		}
		children := make([]ast.SelectionSet, 0, 1+len(g.rest))
		for _, f := range append([]*ast.Field{g.first}, g.rest...) {
			if len(f.SelectionSet) > 0 {
				children = append(children, f.SelectionSet)
			}
		}
		if len(children) > 0 {
			checkMerge(children, addError)
		}
	}
}

// fieldCollector gathers the fields of a merged set, through inline
// fragments and fragment spreads. A fragment spread twice into one merged
// set adds nothing the first spread did not (and cycles are refused
// before), so each is collected once.
type fieldCollector struct {
	fields []*ast.Field
	few    []*ast.FragmentDefinition
	many   map[*ast.FragmentDefinition]bool
}

func (c *fieldCollector) collect(set ast.SelectionSet) {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			c.fields = append(c.fields, sel)
		case *ast.InlineFragment:
			c.collect(sel.SelectionSet)
		case *ast.FragmentSpread:
			if sel.Definition != nil && c.first(sel.Definition) {
				c.collect(sel.Definition.SelectionSet)
			}
		}
	}
}

// first reports whether f is spread here for the first time.
func (c *fieldCollector) first(f *ast.FragmentDefinition) bool {
	if c.many != nil {
		if c.many[f] {
			return false
		}
		c.many[f] = true
		return true
	}
	if slices.Contains(c.few, f) {
		return false
	}
	c.few = append(c.few, f)
	if len(c.few) > 16 {
		c.many = make(map[*ast.FragmentDefinition]bool, 2*len(c.few))
		for _, g := range c.few {
			c.many[g] = true
		}
	}
	return true
}

// groupFields groups fields by key, in the order keys first appear.
func groupFields(fields []*ast.Field) []mergeGroup {
	groups := make([]mergeGroup, 0, len(fields))
	if len(fields) <= 16 {
	next:
		for _, f := range fields {
			k := keyOf(f)
			for i := range groups {
				if keyOf(groups[i].first) == k {
					groups[i].rest = append(groups[i].rest, f)
					continue next
				}
			}
			groups = append(groups, mergeGroup{first: f})
		}
		return groups
	}
	index := make(map[mergeKey]int, len(fields))
	for _, f := range fields {
		k := keyOf(f)
		if i, ok := index[k]; ok {
			groups[i].rest = append(groups[i].rest, f)
			continue
		}
		index[k] = len(groups)
		groups = append(groups, mergeGroup{first: f})
	}
	return groups
}

func validatorAt(pos *ast.Position) validator.ErrorOption {
	return func(err *gqlerror.Error) {
		if pos != nil {
			err.Locations = append(err.Locations, gqlerror.Location{Line: pos.Line, Column: pos.Column})
		}
	}
}

func sameArguments(a, b ast.ArgumentList) bool {
	if len(a) != len(b) {
		return false
	}
	for _, arg := range a {
		other := b.ForName(arg.Name)
		if other == nil || !sameValue(arg.Value, other.Value) {
			return false
		}
	}
	return true
}

func sameValue(a, b *ast.Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Raw != b.Raw || len(a.Children) != len(b.Children) {
		return false
	}
	for i, child := range a.Children {
		if child.Name != b.Children[i].Name || !sameValue(child.Value, b.Children[i].Value) {
			return false
		}
	}
	return true
}

// int32LiteralsRule refuses Int literals beyond 32 bits; gqlparser accepts
// 64.
var int32LiteralsRule = validator.Rule{
	Name: "Int32Literals",
	RuleFunc: func(observers *validator.Events, addError validator.AddErrFunc) {
		observers.OnValue(func(_ *validator.Walker, v *ast.Value) {
			if v.Kind != ast.IntValue || v.Definition == nil || v.Definition.Name != "Int" {
				return
			}
			if _, err := strconv.ParseInt(v.Raw, 10, 32); err != nil {
				addError(validator.Message("Int cannot represent non 32-bit signed integer value: %s", truncateName(v.Raw)), validatorAt(v.Position))
			}
		})
	},
}
