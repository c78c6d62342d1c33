package gqlhttptest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Shape names the parts of a schema that the hostile documents are
// written with, so that they pass parsing and reach the limit each is
// meant for.
type Shape struct {
	// Type is an object type, and Object a root field that selects one
	// Type, with literal arguments: "Book", `book(id: 1)`.
	Type, Object string
	// ObjectByID is Object with a fmt verb in place of its id, which
	// gets a number: `book(id:"%d")`.
	ObjectByID string
	// Fields are two leaf fields of Type: "id", "title".
	Fields [2]string
	// Loop is a path of fields, with their arguments, that leads from
	// Type back to Type, cheap enough that 25 trips along it meet the
	// depth limit before the complexity limit: `related(first: 1)`, or
	// "lectures", "course".
	Loop []string
	// List is a root selection of lists in lists, such as 100 objects
	// with 100 more in each, dear enough that 300 of them exceed the
	// complexity limit.
	List string
}

// Hostile is a document an endpoint must refuse before running it.
type Hostile struct {
	Name  string
	Query string
	// Reason is the extensions.reason of the first error, and Message a
	// part of its message, with gqlhttp's default limits.
	Reason, Message string
}

// HostileDocuments returns the documents, written for s, that each reach
// one of gqlhttp's limits (or validation's), in a fixed order.
func HostileDocuments(s Shape) []Hostile {
	var docs []Hostile
	add := func(name, reason, message string, write func(b *strings.Builder)) {
		var b strings.Builder
		write(&b)
		docs = append(docs, Hostile{Name: name, Query: b.String(), Reason: reason, Message: message})
	}
	const (
		selection  = "SELECTION_LIMIT_EXCEEDED"
		validation = "GRAPHQL_VALIDATION_FAILED"
	)
	id, title := s.Fields[0], s.Fields[1]
	// nest returns n trips along the loop around inner.
	nest := func(n int, inner string) string {
		var open, closing strings.Builder
		for range n {
			for _, f := range s.Loop {
				open.WriteString(f + " { ")
				closing.WriteString(" }")
			}
		}
		return open.String() + inner + closing.String()
	}

	// Each fragment spreads the previous one twice, 29 levels: 2^29
	// expansions.
	add("fragment fan-out", selection, "counting each fragment at every spread", func(b *strings.Builder) {
		fmt.Fprintf(b, "query { %s { ...F29 } }\nfragment F0 on %s { %s }\n", s.Object, s.Type, id)
		for i := 1; i <= 29; i++ {
			fmt.Fprintf(b, "fragment F%d on %s { ...F%d ...F%d }\n", i, s.Type, i-1, i-1)
		}
	})
	// The same through two distinct fragments per level, so that no
	// selection set repeats anything.
	add("fragment fan-out without repeats", selection, "more than 10000 fields", func(b *strings.Builder) {
		fmt.Fprintf(b, "query { %s { ...W25 } }\nfragment W0 on %s { %s }\n", s.Object, s.Type, id)
		for i := 1; i <= 25; i++ {
			fmt.Fprintf(b, "fragment W%d on %[2]s { ...A%[1]d ...B%[1]d }\nfragment A%[1]d on %[2]s { ...W%[3]d }\nfragment B%[1]d on %[2]s { ...W%[3]d }\n",
				i, s.Type, i-1)
		}
	})
	// A chain of 500 fragments, each spreading the next: validation walks
	// every fragment's chain again (quadratic).
	add("fragment chain", selection, "more than 10000 fields", func(b *strings.Builder) {
		fmt.Fprintf(b, "query { %s { ...C499 } }\nfragment C0 on %s { %s %s }\n", s.Object, s.Type, id, title)
		for i := 1; i < 500; i++ {
			fmt.Fprintf(b, "fragment C%d on %s { %s ...C%d }\n", i, s.Type, id, i-1)
		}
	})
	// Fragments that only spread one another select no field, but each
	// costs validation a walk of the rest of the chain.
	add("spread-only fragment chain", selection, "more than 10000 fields", func(b *strings.Builder) {
		fmt.Fprintf(b, "query { %s { ...S1199 } }\nfragment S0 on %s { %s }\n", s.Object, s.Type, id)
		for i := 1; i < 1200; i++ {
			fmt.Fprintf(b, "fragment S%d on %s { ...S%d }\n", i, s.Type, i-1)
		}
	})
	// 849 copies of one alias with different arguments: one conflict per
	// pair with gqlparser's rule (360,000 errors, 95 MB, before the
	// limit).
	add("849 conflicting aliases", selection, `"c" is selected more than 10 times`, func(b *strings.Builder) {
		b.WriteString("{ ")
		for i := range 849 {
			fmt.Fprintf(b, "c: "+s.ObjectByID+"{%s} ", i+1, id)
		}
		b.WriteString("}")
	})
	// Aliases × lists: 300 copies of a dear list.
	add("aliases times lists", "COMPLEXITY_LIMIT_EXCEEDED", "exceeds the limit of 50000", func(b *strings.Builder) {
		b.WriteString("{ ")
		for i := range 300 {
			fmt.Fprintf(b, "a%d: %s ", i, s.List)
		}
		b.WriteString("}")
	})
	add("9000 __typename", selection, `"__typename" is selected more than 10 times`, func(b *strings.Builder) {
		b.WriteString("{ " + strings.Repeat("__typename ", 9000) + "}")
	})
	add("3000 unknown directives on one field", selection, "more than 8 directives", func(b *strings.Builder) {
		fmt.Fprintf(b, "{ %s %s{ %s } }", s.Object, strings.Repeat("@a ", 3000), id)
	})
	add("unknown directives on 1800 fields", validation, `Unknown directive "@a"`, func(b *strings.Builder) {
		b.WriteString("{ ")
		for i := range 1800 {
			fmt.Fprintf(b, "a%d: __typename @a ", i)
		}
		b.WriteString("}")
	})
	add("1000 unknown fields", validation, `Cannot query field "f0"`, func(b *strings.Builder) {
		b.WriteString("{ ")
		for i := range 1000 {
			fmt.Fprintf(b, "f%d ", i)
		}
		b.WriteString("}")
	})
	name := strings.SplitN(s.Loop[0], "(", 2)[0]
	add("repeated fields nested", selection, fmt.Sprintf("%q is selected more than 10 times", name), func(b *strings.Builder) {
		fmt.Fprintf(b, "{ %s { %s} }", s.Object, strings.Repeat(nest(3, id)+" ", 11))
	})
	add("long field name", selection, "longer than 128 bytes", func(b *strings.Builder) {
		b.WriteString("{ " + strings.Repeat("x", 100000) + " }")
	})
	add("long enum value", selection, "longer than 128 bytes", func(b *strings.Builder) {
		b.WriteString(`query($a: Boolean = ` + strings.Repeat("y", 100000) + `) { __typename }`)
	})
	add("fragment cycle", selection, `fragment "A" spreads itself`, func(b *strings.Builder) {
		fmt.Fprintf(b, "query { %s { ...A } } fragment A on %s { %s } fragment B on %[2]s { ...A }", s.Object, s.Type, nest(1, "...B"))
	})
	add("deep nesting", "DEPTH_LIMIT_EXCEEDED", "nested more than 12 levels", func(b *strings.Builder) {
		fmt.Fprintf(b, "{ %s { %s } }", s.Object, nest(25, id))
	})
	add("token limit", "GRAPHQL_PARSE_FAILED", "token limit", func(b *strings.Builder) {
		b.WriteString("{ ")
		for i := range 2000 {
			fmt.Fprintf(b, "a%d: %s { %s } ", i, s.Object, id)
		}
		b.WriteString("}")
	})
	return docs
}

// Request is h's request body: the document as JSON.
func (h Hostile) Request() []byte {
	body, _ := json.Marshal(map[string]any{"query": h.Query})
	return body
}

// CheckRefused fails the test unless r, the response to h's Request, is
// a refusal fit for a hostile client: no data, at most ten errors and one
// saying validation stopped, all BAD_USER_INPUT, and a body no more than
// a small multiple of the request's.
func (h Hostile) CheckRefused(t testing.TB, r Response) {
	t.Helper()
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
	if body := h.Request(); len(r.Raw) > 2*len(body)+4096 {
		t.Errorf("response of %d bytes to a request of %d", len(r.Raw), len(body))
	}
}

// CheckReason fails the test unless r's first error names h's limit in
// extensions.reason and in its message.
func (h Hostile) CheckReason(t testing.TB, r Response) {
	t.Helper()
	if len(r.Errors) == 0 || r.Errors[0].Extensions["reason"] != h.Reason || !strings.Contains(r.Errors[0].Message, h.Message) {
		t.Errorf("got %.500s, want reason %s and a message mentioning %q", r.Raw, h.Reason, h.Message)
	}
}
