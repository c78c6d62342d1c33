package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/vektah/gqlparser/v2"

	"github.com/edustream/edustream/graph"
)

// Hostile documents, after the issue's: each is refused with one coded
// error, before any resolver runs (no SQL), with a response that is no more
// than a small multiple of the request.
func hostileDocuments() map[string]string {
	docs := map[string]string{}

	// Fragment fan-out: each fragment spreads the previous one twice, 29
	// levels: 2^29 expansions of 1.3 KB.
	var fan strings.Builder
	fan.WriteString("query { course(id: 1) { ...F29 } }\nfragment F0 on Course { id }\n")
	for i := 1; i <= 29; i++ {
		fmt.Fprintf(&fan, "fragment F%d on Course { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	docs["fragment fan-out"] = fan.String()

	// The same through two distinct fragments per level, so that no
	// selection set repeats anything.
	var wide strings.Builder
	wide.WriteString("query { course(id: 1) { ...W25 } }\nfragment W0 on Course { id }\n")
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(&wide, "fragment W%d on Course { ...A%d ...B%d }\nfragment A%d on Course { ...W%d }\nfragment B%d on Course { ...W%d }\n", i, i, i, i, i-1, i, i-1)
	}
	docs["fragment fan-out without repeats"] = wide.String()

	// A chain of 500 fragments, each spreading the next: validation walks
	// every fragment's chain again (quadratic).
	var chain strings.Builder
	chain.WriteString("query { course(id: 1) { ...C499 } }\nfragment C0 on Course { id title }\n")
	for i := 1; i < 500; i++ {
		fmt.Fprintf(&chain, "fragment C%d on Course { id ...C%d }\n", i, i-1)
	}
	docs["fragment chain"] = chain.String()

	// Fragments that only spread one another select no field, but each
	// costs validation a walk of the rest of the chain.
	var spreads strings.Builder
	spreads.WriteString("query { course(id: 1) { ...S1199 } }\nfragment S0 on Course { id }\n")
	for i := 1; i < 1200; i++ {
		fmt.Fprintf(&spreads, "fragment S%d on Course { ...S%d }\n", i, i-1)
	}
	docs["spread-only fragment chain"] = spreads.String()

	// 849 copies of one alias with different arguments: one conflict per
	// pair (360,000 errors, 95 MB) before.
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 849 {
		fmt.Fprintf(&aliases, `c: course(id:"%d"){id} `, i+1)
	}
	aliases.WriteString("}")
	docs["849 conflicting aliases"] = aliases.String()

	// Aliases × lists: 300 pages of 100 courses with their lectures.
	var bomb strings.Builder
	bomb.WriteString("{ ")
	for i := range 300 {
		fmt.Fprintf(&bomb, "a%d: courses(first: 100) { edges { node { lectures { title } } } } ", i)
	}
	bomb.WriteString("}")
	docs["aliases times lists"] = bomb.String()

	docs["9000 __typename"] = "{ " + strings.Repeat("__typename ", 9000) + "}"
	docs["3000 unknown directives on one field"] = "{ me " + strings.Repeat("@a ", 3000) + "{ id } }"
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
	docs["repeated fields nested"] = "{ course(id: 1) { " + strings.Repeat("lectures { course { lectures { course { id } } } } ", 11) + "} }"
	docs["long field name"] = "{ " + strings.Repeat("x", 100000) + " }"
	docs["long enum value"] = `query($a: Boolean = ` + strings.Repeat("y", 100000) + `) { me { id } }`
	docs["fragment cycle"] = "query { course(id: 1) { ...A } } fragment A on Course { lectures { course { ...B } } } fragment B on Course { ...A }"
	docs["deep nesting"] = "{ course(id: 1) { " + strings.Repeat("lectures { course { ", 25) + "id" + strings.Repeat(" } }", 25) + " } }"
	docs["token limit"] = "{ " + func() string {
		var b strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&b, "a%d: me { id } ", i)
		}
		return b.String()
	}() + "}"
	return docs
}

func TestHostileDocuments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedCourse(t, b.instructor, "Existing", 2, true)
	for name, doc := range hostileDocuments() {
		t.Run(name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"query": doc})
			b.queries.Store(0)
			r := b.raw(t, b.admin, "POST", "/query", "application/json", body)
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
			if n := b.queries.Load(); n != 0 {
				t.Errorf("the refused document ran %d SQL queries", n)
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
	b := setup(t)
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
		{docs["repeated fields nested"], "SELECTION_LIMIT_EXCEEDED", `"lectures" is selected more than 10 times`},
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
			r := b.post(t, b.admin, tt.doc, nil)
			if len(r.Errors) == 0 || r.Errors[0].Extensions["reason"] != tt.reason || !strings.Contains(r.Errors[0].Message, tt.message) {
				t.Errorf("got %.500s, want reason %s and a message mentioning %q", r.Raw, tt.reason, tt.message)
			}
		})
	}
}

// Valid documents near the limits still run, and the limits keep their
// meaning: depth counts fields, introspection fields aside; complexity
// charges lists at their length.
func TestLimitsLetValidDocumentsThrough(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.seedCourse(t, b.instructor, "Existing", 2, true)
	var fragments strings.Builder
	fragments.WriteString("query { course(id: " + idOf(c) + ") { ...L9 } }\nfragment L0 on Course { id title }\n")
	for i := 1; i <= 9; i++ {
		// Ten fragments spread into each other once: their fields count at
		// every level, but only once each.
		fmt.Fprintf(&fragments, "fragment L%d on Course { id ...L%d }\n", i, i-1)
	}
	docs := map[string]string{
		"depth 12":                     "{ course(id: " + idOf(c) + ") { " + strings.Repeat("lectures { course { ", 5) + "id" + strings.Repeat(" } }", 5) + " } }",
		"repeats up to 10":             "{ me { " + strings.Repeat("id ", 10) + "} " + strings.Repeat("__typename ", 10) + "}",
		"same field through fragments": "query { course(id: " + idOf(c) + ") { id ...A ...B ... on Course { id } } } fragment A on Course { id title } fragment B on Course { id title lectures { id } }",
		"fragment chain":               fragments.String(),
		"repeated directive":           "{ me @include(if: true) @include(if: true) { id } }",
		"catalog of 100":               `{ courses(first: 100) { edges { node { id title lectures { id title } } } } }`,
		"introspection is not depth":   `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			r := b.post(t, b.admin, doc, nil)
			if name == "depth 12" {
				// Past the depth limit, and too dear with lists this deep.
				if r.code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
					t.Errorf("got %s", r.Raw)
				}
				return
			}
			if name == "repeated directive" {
				// Not a limit: validation refuses a repeated @include.
				if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "can only be used once") {
					t.Errorf("got %s", r.Raw)
				}
				return
			}
			r.noErrors(t)
		})
	}
}

// Arguments of the wrong type reach the price before validation, which
// must not trip over them.
func TestMistypedArguments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, q := range []string{
		`{ courses(filter: 5) { edges { cursor } } }`,
		`{ courses(filter: [1, 2]) { edges { cursor } } }`,
		`{ courses(filter: {published: "yes", mine: {a: 1}}) { edges { cursor } } }`,
		`{ courses(first: {n: 1}) { edges { cursor } } }`,
		`{ courses(first: "20", after: 7) { edges { cursor } } }`,
		`{ courses(first: ENUM) { edges { cursor } } }`,
		`{ course(id: [1]) { id } }`,
	} {
		r := b.post(t, b.admin, q, nil)
		if len(r.Errors) == 0 || r.Errors[0].Extensions["reason"] != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s: %s", q, r.Raw)
		}
	}
}

// The bound checked before validation never refuses what the complexity
// limit would let run: arguments from variables count at their least.
func TestComplexityBeforeValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedCourse(t, b.instructor, "Existing", 1, true)
	const deep = `query($n: Int) { courses(first: $n) { edges { node { lectures { course { lectures { title } } } } } } }`
	b.post(t, b.student, deep, map[string]any{"n": 1}).noErrors(t)
	if r := b.post(t, b.student, deep, map[string]any{"n": 100}); r.code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("first: 100 through a variable: %s", r.Raw)
	}
	// Another operation of the document may be dear; the one run is not.
	two := `query Cheap { me { id } } query Dear { a: courses(first: 100) { edges { node { lectures { course { lectures { title } } } } } } }`
	body, _ := json.Marshal(map[string]any{"query": two, "operationName": "Cheap"})
	b.raw(t, b.student, "POST", "/query", "application/json", body).noErrors(t)
	body, _ = json.Marshal(map[string]any{"query": two, "operationName": "Dear"})
	if r := b.raw(t, b.student, "POST", "/query", "application/json", body); r.code(t) != "BAD_USER_INPUT" {
		t.Errorf("the dear operation: %s", r.Raw)
	}
}

// The complexity table charges lists at their length: first as asked,
// within 1 to MaxFirst, and a typical course's lectures.
func TestComplexityTable(t *testing.T) {
	t.Parallel()
	es := graph.ExecutableSchemaForTest()
	tests := []struct {
		query string
		vars  map[string]any
		want  int
	}{
		{`{ courses { edges { cursor } } }`, nil, 1 + 20*(1+1)},
		{`{ courses(first: 5) { edges { cursor } } }`, nil, 1 + 5*(1+1)},
		{`query($n: Int) { courses(first: $n) { edges { cursor } } }`, map[string]any{"n": 7}, 1 + 7*(1+1)},
		{`{ courses(first: 0) { edges { cursor } } }`, nil, 1 + 1*(1+1)},
		{`{ courses(first: 100000) { edges { cursor } } }`, nil, 1 + graph.MaxFirst*(1+1)},
		{`{ course(id: 1) { lectures { id title } } }`, nil, 1 + 1 + 30*2},
		{`{ course(id: 1) { liveSessions { id } } }`, nil, 1 + 1 + 20*1},
		{`{ course(id: 1) { liveSessions(first: 3) { id } } }`, nil, 1 + 1 + 3*1},
		{`{ course(id: 1) { id title } }`, nil, 1 + 2},
	}
	for _, tt := range tests {
		doc, errs := gqlparser.LoadQuery(es.Schema(), tt.query)
		if errs != nil {
			t.Fatal(errs)
		}
		if got := complexity.Calculate(context.Background(), es, doc.Operations[0], tt.vars); got != tt.want {
			t.Errorf("%s costs %d, want %d", tt.query, got, tt.want)
		}
	}
}

// Int variables are refused before any resolver when the Int scalar would
// refuse them, at any depth of input objects and lists.
func TestIntVariables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		query string
		vars  map[string]any
	}{
		{`query($n: Int) { courses(first: $n) { edges { cursor } } }`, map[string]any{"n": 4294967296}},
		{`mutation($p: Int) { createLecture(input: {courseId: 1, title: "x", position: $p}) { id } }`, map[string]any{"p": -2147483649}},
	}
	for _, tt := range tests {
		b.queries.Store(0)
		r := b.post(t, b.instructor, tt.query, tt.vars)
		if r.code(t) != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "must be a 32-bit integer") || r.Data != nil {
			t.Errorf("%s with %v: %s", tt.query, tt.vars, r.Raw)
		}
		if n := b.queries.Load(); n != 0 {
			t.Errorf("the refused operation ran %d SQL queries", n)
		}
	}
	// The largest Int reaches the resolver, which has its own range.
	if r := b.post(t, b.student, `query($n: Int) { courses(first: $n) { edges { cursor } } }`, map[string]any{"n": 2147483647}); r.code(t) != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "between 0 and 100") {
		t.Errorf("the largest Int: %s", r.Raw)
	}
}
