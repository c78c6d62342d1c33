package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/vektah/gqlparser/v2"

	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/graph"
)

// edustreamShape is EduStream's schema's shape for gqlhttptest's hostile
// documents.
var edustreamShape = gqlhttptest.Shape{
	Type: "Course", Object: "course(id: 1)", ObjectByID: `course(id:"%d")`, Fields: [2]string{"id", "title"},
	Loop: []string{"lectures", "course"},
	List: "courses(first: 100) { edges { node { lectures { title } } } }",
}

// hostileDocuments are the hostile documents gqlhttp's tests send to a
// tiny schema, written in EduStream's fields: every one, to show that the
// real handler has each limit wired and that those whose refusal rests on
// the schema (its complexity table, the cycle between courses and
// lectures) are refused too.
func hostileDocuments() []gqlhttptest.Hostile {
	return gqlhttptest.HostileDocuments(edustreamShape)
}

// Hostile documents, after the issue's: each is refused with coded
// errors, before any resolver runs (no SQL), with a response that is no
// more than a small multiple of the request.
func TestHostileDocuments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedCourse(t, b.instructor, "Existing", 2, true)
	for _, h := range hostileDocuments() {
		t.Run(h.Name, func(t *testing.T) {
			b.queries.Store(0)
			h.CheckRefused(t, b.raw(t, b.admin, "POST", "/query", "application/json", h.Request()))
			if n := b.queries.Load(); n != 0 {
				t.Errorf("the refused document ran %d SQL queries", n)
			}
		})
	}
}

// Each limit names itself in extensions.reason and in its message.
func TestLimitReasons(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, h := range hostileDocuments() {
		t.Run(h.Name, func(t *testing.T) {
			h.CheckReason(t, b.post(t, b.admin, h.Query, nil))
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
				if r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
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
			r.NoErrors(t)
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
	b.post(t, b.student, deep, map[string]any{"n": 1}).NoErrors(t)
	if r := b.post(t, b.student, deep, map[string]any{"n": 100}); r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("first: 100 through a variable: %s", r.Raw)
	}
	// Another operation of the document may be dear; the one run is not.
	two := `query Cheap { me { id } } query Dear { a: courses(first: 100) { edges { node { lectures { course { lectures { title } } } } } } }`
	body, _ := json.Marshal(map[string]any{"query": two, "operationName": "Cheap"})
	b.raw(t, b.student, "POST", "/query", "application/json", body).NoErrors(t)
	body, _ = json.Marshal(map[string]any{"query": two, "operationName": "Dear"})
	if r := b.raw(t, b.student, "POST", "/query", "application/json", body); r.Code(t) != "BAD_USER_INPUT" {
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
		if r.Code(t) != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "must be a 32-bit integer") || r.Data != nil {
			t.Errorf("%s with %v: %s", tt.query, tt.vars, r.Raw)
		}
		if n := b.queries.Load(); n != 0 {
			t.Errorf("the refused operation ran %d SQL queries", n)
		}
	}
	// The largest Int reaches the resolver, which has its own range.
	if r := b.post(t, b.student, `query($n: Int) { courses(first: $n) { edges { cursor } } }`, map[string]any{"n": 2147483647}); r.Code(t) != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "between 0 and 100") {
		t.Errorf("the largest Int: %s", r.Raw)
	}
}
