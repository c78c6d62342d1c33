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
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
)

// tinyShape is the tiny schema's shape for gqlhttptest's hostile
// documents.
var tinyShape = gqlhttptest.Shape{
	Type: "Book", Object: "book(id: 1)", ObjectByID: `book(id:"%d")`, Fields: [2]string{"id", "title"},
	Loop: []string{"related(first: 1)"},
	List: "books(first: 100) { related(first: 100) { title } }",
}

// Hostile documents: each is refused with coded errors, before any
// resolver runs, with a response that is no more than a small multiple of
// the request.
func TestHostileDocuments(t *testing.T) {
	t.Parallel()
	for _, h := range gqlhttptest.HostileDocuments(tinyShape) {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			h.CheckRefused(t, s.raw(t, staff, "POST", "/query", "application/json", h.Request()))
			if n := s.resolved.Load(); n != 0 {
				t.Errorf("the refused document resolved %d fields", n)
			}
		})
	}
}

// Each limit names itself in extensions.reason and in its message.
func TestLimitReasons(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, h := range gqlhttptest.HostileDocuments(tinyShape) {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			h.CheckReason(t, s.post(t, staff, h.Query, nil))
		})
	}
}

// hostile returns the hostile document of that name.
func hostile(t *testing.T, s gqlhttptest.Shape, name string) gqlhttptest.Hostile {
	t.Helper()
	for _, h := range gqlhttptest.HostileDocuments(s) {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no hostile document %q", name)
	return gqlhttptest.Hostile{}
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
				r.NoErrors(t)
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
	r := s.post(t, staff, hostile(t, tinyShape, "1000 unknown fields").Query, nil)
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
			s.post(t, staff, doc, nil).NoErrors(t)
		})
	}
	// Not a limit: validation refuses a repeated @include.
	if r := s.post(t, staff, "{ me @include(if: true) @include(if: true) }", nil); len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "can only be used once") {
		t.Errorf("repeated directive: %s", r.Raw)
	}
	// One level deeper is past the depth limit.
	deeper := "{ book(id: 1) { " + strings.Repeat("related(first: 1) { ", 11) + "id" + strings.Repeat(" }", 11) + " } }"
	if r := s.post(t, staff, deeper, nil); r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "DEPTH_LIMIT_EXCEEDED" {
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
	s.post(t, alice, deep, map[string]any{"n": 1}).NoErrors(t)
	if r := s.post(t, alice, deep, map[string]any{"n": 100}); r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("first: 100 through a variable: %s", r.Raw)
	}
	// Another operation of the document may be dear; the one run is not.
	two := `query Cheap { greeting } query Dear { a: books(first: 100) { related(first: 100) { related { title } } } }`
	body, _ := json.Marshal(map[string]any{"query": two, "operationName": "Cheap"})
	s.raw(t, alice, "POST", "/query", "application/json", body).NoErrors(t)
	body, _ = json.Marshal(map[string]any{"query": two, "operationName": "Dear"})
	if r := s.raw(t, alice, "POST", "/query", "application/json", body); r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
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
