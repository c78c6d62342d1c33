package graph

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

func checkMerge(sets []ast.SelectionSet, addError validator.AddErrFunc) {
	groups := map[mergeKey][]*ast.Field{}
	var order []mergeKey
	spread := map[*ast.FragmentDefinition]bool{}
	var collect func(ast.SelectionSet)
	collect = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				k := mergeKey{sel.Alias, sel.ObjectDefinition}
				if _, ok := groups[k]; !ok {
					order = append(order, k)
				}
				groups[k] = append(groups[k], sel)
			case *ast.InlineFragment:
				collect(sel.SelectionSet)
			case *ast.FragmentSpread:
				// A fragment spread twice into one set adds nothing the
				// first spread did not (and cycles are refused elsewhere).
				if sel.Definition != nil && !spread[sel.Definition] {
					spread[sel.Definition] = true
					collect(sel.Definition.SelectionSet)
				}
			}
		}
	}
	for _, set := range sets {
		collect(set)
	}
	for _, k := range order {
		fields := groups[k]
		first := fields[0]
		conflict := ""
		for _, f := range fields[1:] {
			switch {
			case f.Name != first.Name:
				conflict = strconv.Quote(first.Name) + " and " + strconv.Quote(f.Name) + " are different fields"
			case !sameArguments(first.Arguments, f.Arguments):
				conflict = "they have differing arguments"
			default:
				continue
			}
			addError(
				validator.Message(`Fields %q conflict because %s. Use different aliases on the fields to fetch both if this was intentional.`, truncateName(k.responseKey), conflict),
				validatorAt(first.Position),
				validatorAt(f.Position),
			)
			break
		}
		if conflict != "" {
			continue
		}
		children := make([]ast.SelectionSet, 0, len(fields))
		for _, f := range fields {
			if len(f.SelectionSet) > 0 {
				children = append(children, f.SelectionSet)
			}
		}
		if len(children) > 0 {
			checkMerge(children, addError)
		}
	}
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
