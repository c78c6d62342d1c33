package gqlhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/edustream/edustream/gqlhttp"
)

// Hostile documents: each is refused with coded errors, before any
// resolver runs, with a response that is no more than a small multiple of
// the request.
func hostileDocuments() map[string]string {
	docs := map[string]string{}

	// Fragment fan-out: each fragment spreads the previous one twice, 29
	// levels: 2^29 expansions.
	var fan strings.Builder
	fan.WriteString("query { book(id: 1) { ...F29 } }\nfragment F0 on Book { id }\n")
	for i := 1; i <= 29; i++ {
		fmt.Fprintf(&fan, "fragment F%d on Book { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	docs["fragment fan-out"] = fan.String()

	// The same through two distinct fragments per level, so that no
	// selection set repeats anything.
	var wide strings.Builder
	wide.WriteString("query { book(id: 1) { ...W25 } }\nfragment W0 on Book { id }\n")
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(&wide, "fragment W%d on Book { ...A%d ...B%d }\nfragment A%d on Book { ...W%d }\nfragment B%d on Book { ...W%d }\n", i, i, i, i, i-1, i, i-1)
	}
	docs["fragment fan-out without repeats"] = wide.String()

	// A chain of 500 fragments, each spreading the next: validation walks
	// every fragment's chain again (quadratic).
	var chain strings.Builder
	chain.WriteString("query { book(id: 1) { ...C499 } }\nfragment C0 on Book { id title }\n")
	for i := 1; i < 500; i++ {
		fmt.Fprintf(&chain, "fragment C%d on Book { id ...C%d }\n", i, i-1)
	}
	docs["fragment chain"] = chain.String()

	// Fragments that only spread one another select no field, but each
	// costs validation a walk of the rest of the chain.
	var spreads strings.Builder
	spreads.WriteString("query { book(id: 1) { ...S1199 } }\nfragment S0 on Book { id }\n")
	for i := 1; i < 1200; i++ {
		fmt.Fprintf(&spreads, "fragment S%d on Book { ...S%d }\n", i, i-1)
	}
	docs["spread-only fragment chain"] = spreads.String()

	// 849 copies of one alias with different arguments: one conflict per
	// pair with gqlparser's rule.
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 849 {
		fmt.Fprintf(&aliases, `c: book(id:"%d"){id} `, i+1)
	}
	aliases.WriteString("}")
	docs["849 conflicting aliases"] = aliases.String()

	// Aliases × lists: 300 lists of 100 books with 100 related each.
	var bomb strings.Builder
	bomb.WriteString("{ ")
	for i := range 300 {
		fmt.Fprintf(&bomb, "a%d: books(first: 100) { related(first: 100) { title } } ", i)
	}
	bomb.WriteString("}")
	docs["aliases times lists"] = bomb.String()

	docs["9000 __typename"] = "{ " + strings.Repeat("__typename ", 9000) + "}"
	docs["3000 unknown directives on one field"] = "{ book(id: 1) " + strings.Repeat("@a ", 3000) + "{ id } }"
	docs["unknown directives on 1800 fields"] = "{ " + func() string {
		var b strings.Builder
		for i := range 1800 {
			fmt.Fprintf(&b, "a%d: __typename @a ", i)
		}
		return b.String()
	}() + "}"
	docs["1000 unknown fields"] = "{ " + func() string {
		var b strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&b, "f%d ", i)
		}
		return b.String()
	}() + "}"
	docs["repeated fields nested"] = "{ book(id: 1) { " + strings.Repeat("related { related { related { id } } } ", 11) + "} }"
	docs["long field name"] = "{ " + strings.Repeat("x", 100000) + " }"
	docs["long enum value"] = `query($a: Boolean = ` + strings.Repeat("y", 100000) + `) { me }`
	docs["fragment cycle"] = "query { book(id: 1) { ...A } } fragment A on Book { related { ...B } } fragment B on Book { ...A }"
	docs["deep nesting"] = "{ book(id: 1) { " + strings.Repeat("related(first: 1) { ", 25) + "id" + strings.Repeat(" }", 25) + " } }"
	docs["token limit"] = "{ " + func() string {
		var b strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&b, "a%d: book(id: 1) { id } ", i)
		}
		return b.String()
	}() + "}"
	return docs
}

func TestHostileDocuments(t *testing.T) {
	t.Parallel()
	for name, doc := range hostileDocuments() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			body, _ := json.Marshal(map[string]any{"query": doc})
			r := s.raw(t, staff, "POST", "/query", "application/json", body)
			if len(r.Errors) == 0 || r.Data != nil {
				t.Fatalf("status %d, %.300s: want a request error without data", r.Status, r.Raw)
			}
			if len(r.Errors) > 11 {
				t.Errorf("%d errors, want at most 10 and one saying validation stopped", len(r.Errors))
			}
			for _, e := range r.Errors {
				if e.Extensions["code"] != "BAD_USER_INPUT" {
					t.Errorf("error %q has code %v, want BAD_USER_INPUT", e.Message, e.Extensions["code"])
				}
			}
			if n := s.resolved.Load(); n != 0 {
				t.Errorf("the refused document resolved %d fields", n)
			}
			if limit := 2*len(body) + 4096; len(r.Raw) > limit {
				t.Errorf("response of %d bytes to a request of %d", len(r.Raw), len(body))
			}
		})
	}
}

// Each limit names itself in extensions.reason and in its message.
func TestLimitReasons(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	docs := hostileDocuments()
	tests := []struct {
		doc, reason, message string
	}{
		{docs["fragment fan-out"], "SELECTION_LIMIT_EXCEEDED", "counting each fragment at every spread"},
		{docs["fragment fan-out without repeats"], "SELECTION_LIMIT_EXCEEDED", "more than 10000 fields"},
		{docs["fragment chain"], "SELECTION_LIMIT_EXCEEDED", "more than 10000 fields"},
		{docs["spread-only fragment chain"], "SELECTION_LIMIT_EXCEEDED", "more than 10000 fields"},
		{docs["849 conflicting aliases"], "SELECTION_LIMIT_EXCEEDED", `"c" is selected more than 10 times`},
		{docs["9000 __typename"], "SELECTION_LIMIT_EXCEEDED", `"__typename" is selected more than 10 times`},
		{docs["repeated fields nested"], "SELECTION_LIMIT_EXCEEDED", `"related" is selected more than 10 times`},
		{docs["3000 unknown directives on one field"], "SELECTION_LIMIT_EXCEEDED", "more than 8 directives"},
		{docs["long field name"], "SELECTION_LIMIT_EXCEEDED", "longer than 128 bytes"},
		{docs["long enum value"], "SELECTION_LIMIT_EXCEEDED", "longer than 128 bytes"},
		{docs["fragment cycle"], "SELECTION_LIMIT_EXCEEDED", `fragment "A" spreads itself`},
		{docs["deep nesting"], "DEPTH_LIMIT_EXCEEDED", "nested more than 12 levels"},
		{docs["aliases times lists"], "COMPLEXITY_LIMIT_EXCEEDED", "exceeds the limit of 50000"},
		{docs["token limit"], "GRAPHQL_PARSE_FAILED", "token limit"},
		{docs["unknown directives on 1800 fields"], "GRAPHQL_VALIDATION_FAILED", `Unknown directive "@a"`},
	}
	for _, tt := range tests {
		t.Run(tt.reason+" "+tt.message, func(t *testing.T) {
			t.Parallel()
			r := s.post(t, staff, tt.doc, nil)
			if len(r.Errors) == 0 || r.Errors[0].Extensions["reason"] != tt.reason || !strings.Contains(r.Errors[0].Message, tt.message) {
				t.Errorf("got %.500s, want reason %s and a message mentioning %q", r.Raw, tt.reason, tt.message)
			}
		})
	}
}

// The limits are the Config's.
func TestConfiguredLimits(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(_ *gqlhttp.Schema, c *gqlhttp.Config) {
		c.MaxDepth, c.ComplexityLimit, c.TokenLimit, c.MaxSelections, c.MaxBodyBytes = 3, 100, 50, 20, 200
	})
	aliases := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: me ", i)
		}
		return b.String()
	}
	tests := []struct {
		name, doc, reason string
	}{
		{"depth 3", `{ book(id: 1) { related(first: 1) { id } } }`, ""},
		{"depth 4", `{ book(id: 1) { related(first: 1) { related(first: 1) { id } } } }`, "DEPTH_LIMIT_EXCEEDED"},
		{"complexity 100", `{ books(first: 99) { id } }`, ""},
		{"complexity 101", `{ books(first: 100) { id } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"20 selections", `{ book(id: 1) { ` + strings.Repeat("id ", 10) + strings.Repeat("title ", 9) + `} }`, ""},
		{"21 selections", `{ book(id: 1) { ` + strings.Repeat("id ", 10) + strings.Repeat("title ", 10) + `} }`, "SELECTION_LIMIT_EXCEEDED"},
		{"50 tokens", `{ ` + aliases(16) + `}`, ""},
		{"51 tokens", `{ ` + aliases(16) + `greeting }`, "GRAPHQL_PARSE_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := s.post(t, nil, tt.doc, nil)
			if tt.reason == "" {
				r.noErrors(t)
			} else if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != tt.reason {
				t.Errorf("got %s, want %s", r.Raw, tt.reason)
			}
		})
	}
	if r := s.post(t, nil, `{ `+strings.Repeat("__typename ", 20)+`}`, nil); r.Status != 413 {
		t.Errorf("a body over MaxBodyBytes: %d %s", r.Status, r.Raw)
	}
}

// Validation stops after ten errors and says so.
func TestValidationStops(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := s.post(t, staff, hostileDocuments()["1000 unknown fields"], nil)
	if len(r.Errors) != 11 {
		t.Fatalf("%d errors, want 10 and one more saying validation stopped: %.300s", len(r.Errors), r.Raw)
	}
	last := r.Errors[10]
	if last.Extensions["reason"] != "TOO_MANY_ERRORS" || !strings.Contains(last.Message, "stopped after 10 errors") {
		t.Errorf("last error = %+v", last)
	}
}

// Valid documents near the limits still run, and the limits keep their
// meaning: depth counts fields, introspection fields aside; complexity
// charges lists at their length.
func TestLimitsLetValidDocumentsThrough(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var fragments strings.Builder
	fragments.WriteString("query { book(id: 1) { ...L9 } }\nfragment L0 on Book { id title }\n")
	for i := 1; i <= 9; i++ {
		// Ten fragments spread into each other once: their fields count at
		// every level, but only once each.
		fmt.Fprintf(&fragments, "fragment L%d on Book { id ...L%d }\n", i, i-1)
	}
	docs := map[string]string{
		"depth 12":                     "{ book(id: 1) { " + strings.Repeat("related(first: 1) { ", 10) + "id" + strings.Repeat(" }", 10) + " } }",
		"repeats up to 10":             "{ book(id: 1) { " + strings.Repeat("id ", 10) + "} " + strings.Repeat("__typename ", 10) + "}",
		"same field through fragments": "query { book(id: 1) { id ...A ...B ... on Book { id } } } fragment A on Book { id title } fragment B on Book { id title related { id } }",
		"fragment chain":               fragments.String(),
		"list of 100":                  `{ books(first: 100) { id title related(first: 100) { id title } } }`,
		"introspection is not depth":   `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s.post(t, staff, doc, nil).noErrors(t)
		})
	}
	// Not a limit: validation refuses a repeated @include.
	if r := s.post(t, staff, "{ me @include(if: true) @include(if: true) }", nil); len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "can only be used once") {
		t.Errorf("repeated directive: %s", r.Raw)
	}
	// One level deeper is past the depth limit.
	deeper := "{ book(id: 1) { " + strings.Repeat("related(first: 1) { ", 11) + "id" + strings.Repeat(" }", 11) + " } }"
	if r := s.post(t, staff, deeper, nil); r.code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "DEPTH_LIMIT_EXCEEDED" {
		t.Errorf("depth 13: %s", r.Raw)
	}
}

// The memoised complexity is gqlgen's: the same documents cost the same
// as complexity.Calculate says, however often a fragment is spread.
func TestComplexityMatchesGqlgen(t *testing.T) {
	t.Parallel()
	es := newTiny().schema().Executable
	docs := []struct {
		query string
		vars  map[string]any
	}{
		{`{ books(first: 20) { id title related { id title } } }`, nil},
		{`query($n: Int) { books(first: $n) { id related { related(first: 3) { id } } } }`, map[string]any{"n": 7}},
		{`query { a: books { ...F } b: book(id: 1) { ...F } } fragment F on Book { id related { ...G } } fragment G on Book { id title }`, nil},
		{`{ me __typename __schema { types { name } } }`, nil},
	}
	for _, tt := range docs {
		// Before validation, with literal arguments only: a lower bound,
		// exact when no argument uses a variable.
		parsed, err := parser.ParseQuery(&ast.Source{Input: tt.query})
		if err != nil {
			t.Fatal(err)
		}
		lower := gqlhttp.LowerBoundForTest(context.Background(), es, parsed)

		doc, errs := gqlparser.LoadQuery(es.Schema(), tt.query)
		if errs != nil {
			t.Fatal(errs)
		}
		op := doc.Operations[0]
		want := complexity.Calculate(context.Background(), es, op, tt.vars)
		got := gqlhttp.ComplexityForTest(context.Background(), es, op, tt.vars)
		if got != want {
			t.Errorf("complexity of %s = %d, gqlgen says %d", tt.query, got, want)
		}
		if tt.vars == nil && lower != want || lower > want {
			t.Errorf("lower bound of %s = %d, complexity %d", tt.query, lower, want)
		}
	}
}

// The bound checked before validation never refuses what the complexity
// limit would let run: arguments from variables count at their least.
func TestComplexityBeforeValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const deep = `query($n: Int) { books(first: $n) { related(first: 100) { related { title } } } }`
	s.post(t, alice, deep, map[string]any{"n": 1}).noErrors(t)
	if r := s.post(t, alice, deep, map[string]any{"n": 100}); r.code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("first: 100 through a variable: %s", r.Raw)
	}
	// Another operation of the document may be dear; the one run is not.
	two := `query Cheap { greeting } query Dear { a: books(first: 100) { related(first: 100) { related { title } } } }`
	body, _ := json.Marshal(map[string]any{"query": two, "operationName": "Cheap"})
	s.raw(t, alice, "POST", "/query", "application/json", body).noErrors(t)
	body, _ = json.Marshal(map[string]any{"query": two, "operationName": "Dear"})
	if r := s.raw(t, alice, "POST", "/query", "application/json", body); r.code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("the dear operation: %s", r.Raw)
	}
}

// With introspection off, nothing suggests the schema's names.
func TestNoSuggestionsWithoutIntrospection(t *testing.T) {
	t.Parallel()
	off := newServer(t, func(_ *gqlhttp.Schema, c *gqlhttp.Config) { c.Introspection = false })
	on := newServer(t)
	typos := []string{
		`{ boks { id } }`,
		`{ books(frist: 1) { id } }`,
		`{ count(filter: {mn: 1}) }`,
		`query($f: Filtr) { count(filter: $f) }`,
		`{ me(x: 1) }`,
		`{ books }`,
		`{ book(id: 1) { titel } }`,
	}
	for _, q := range typos {
		if r := off.post(t, nil, q, nil); len(r.Errors) == 0 || strings.Contains(r.Raw, "Did you mean") || strings.Contains(r.Raw, `{ ... }`) {
			t.Errorf("introspection off, %s: %s", q, r.Raw)
		}
	}
	if r := on.post(t, nil, typos[0], nil); !strings.Contains(r.Raw, "Did you mean") {
		t.Errorf("introspection on, suggestions help: %s", r.Raw)
	}
}

// A valid operation whose fields fail answers with at most 50 errors.
func TestResponseErrorsAreBounded(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var q strings.Builder
	q.WriteString("{ ")
	for i := range 120 {
		fmt.Fprintf(&q, "c%d: book(id: %d) { id } ", i, 900000+i)
	}
	q.WriteString("}")
	r := s.post(t, staff, q.String(), nil)
	if len(r.Errors) != 50 || r.Data == nil {
		t.Fatalf("%d errors, data %v; want 50 errors and data", len(r.Errors), r.Data != nil)
	}
	if last := r.Errors[49]; last.Message != "71 more errors were left out" || last.Extensions["reason"] != "TOO_MANY_ERRORS" {
		t.Errorf("last error = %+v", last)
	}
}

// Fields that answer to one response key must be the same field with the
// same arguments, through inline fragments, fragments and merged parents.
func TestFieldConflicts(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	tests := []struct {
		query    string
		conflict string // part of the error, "" when valid
	}{
		{`{ book(id: 1) { id id } }`, ""},
		{`{ a: books { id } a: books { title } }`, ""},
		{`query { book(id: 1) { ...A ...B } } fragment A on Book { x: id } fragment B on Book { x: id related { id } }`, ""},
		{`{ a: book(id: 1) { id } a: book(id: 1) { title } }`, ""},
		{`{ a: me a: greeting }`, `Fields "a" conflict because "me" and "greeting" are different fields`},
		{`{ book(id: 1) { id: title id } }`, `Fields "id" conflict because "title" and "id" are different fields`},
		{`{ a: book(id: 1) { id } a: book(id: 2) { id } }`, `Fields "a" conflict because they have differing arguments`},
		{`{ book(id: 1) { ... on Book { t: title } t: id } }`, `Fields "t" conflict`},
		{`query { book(id: 1) { ...A ...B } } fragment A on Book { x: id } fragment B on Book { x: title }`, `Fields "x" conflict`},
		{`{ a: book(id: 1) { l: related { id } } a: book(id: 1) { l: related { id: title } } }`, `Fields "id" conflict`},
		{`query { book(id: 1) { ...A } a: book(id: 1) { id } } fragment A on Book { x: id x: title }`, `Fields "x" conflict`},
	}
	for _, tt := range tests {
		r := s.post(t, staff, tt.query, nil)
		switch {
		case tt.conflict == "" && len(r.Errors) > 0:
			t.Errorf("%s: %s", tt.query, r.Raw)
		case tt.conflict != "" && (len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tt.conflict) || r.Data != nil):
			t.Errorf("%s: got %s, want one error mentioning %q", tt.query, r.Raw, tt.conflict)
		}
	}
}
