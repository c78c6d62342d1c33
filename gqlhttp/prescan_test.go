package gqlhttp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// prescan is a sieve in front of checkDocument: it must let through every
// document checkDocument accepts, and refuse only for checkDocument's
// reasons.
func TestPrescan(t *testing.T) {
	t.Parallel()
	aliases := func(n int, field string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: %s ", i, field)
		}
		return b.String()
	}
	vars := func(n int) string {
		var defs, uses strings.Builder
		for i := range n {
			fmt.Fprintf(&defs, "$v%d: Boolean = true @deprecated ", i)
			fmt.Fprintf(&uses, "f%d: __typename @include(if: $v%d) ", i, i)
		}
		return "query(" + defs.String() + ") { " + uses.String() + "}"
	}
	pass := []string{
		`{ books(first: 20) { id title related { id } } }`,
		"{ " + aliases(40, "book(id: 1) { id }") + "}",
		"{ " + strings.Repeat("... on Query { __typename } ", 12) + "}",
		"{ book(id: 1) { " + strings.Repeat("... on Book { id } ", 12) + "} }",
		vars(20),
		`mutation { setGreeting(text: "a") }`,
		`query Q($f: Filter = {min: 1, tags: [1, 2]}) { count(filter: $f) }`,
		`{ a: count(filter: {min: 1}) b: count(filter: {min: 2}) }`,
		`query { book(id: 1) { ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F } } fragment F on Book { id }`,
		"{ book(id: 1) @include(if: true) @skip(if: false) { id } " + strings.Repeat("__typename @include(if: true) ", 1) + "}",
		"# a comment\n{ " + strings.Repeat("id # again\n", 1) + "}",
		"{ " + strings.Repeat("on ", 10) + "}",
		`{ book(id: "}") { id } }`,
		`{ book(id: 1) { id `, // unbalanced: the parser's to report
		"{ \u0007 }",          // a lexical error: likewise
	}
	for _, doc := range pass {
		if _, err := prescan(doc, DefaultTokenLimit); err != nil {
			t.Errorf("prescan refused %.80q: %v", doc, err)
		}
	}

	refuse := map[string]string{
		"{ " + strings.Repeat("__typename ", 11) + "}":             `"__typename" is selected more than 10 times`,
		"{ " + strings.Repeat(`c: book(id: 1) { id } `, 11) + "}":  `"c" is selected more than 10 times`,
		"{ book(id: 1) { " + strings.Repeat("id ", 11) + "} }":     `"id" is selected more than 10 times`,
		"{ book(id: 1) " + strings.Repeat("@a ", 9) + "{ id } }":   "more than 8 directives",
		"query " + strings.Repeat("@a ", 9) + "{ id }":             "more than 8 directives",
		"{ " + strings.Repeat("x", 129) + " }":                     "longer than 128 bytes",
		`{ count(filter: {` + strings.Repeat("p", 129) + `: 1}) }`: "longer than 128 bytes",
		"{ " + aliases(2000, "book(id: 1) { id }") + "}":           "exceeded token limit of 10000",
	}
	for doc, want := range refuse {
		_, err := prescan(doc, DefaultTokenLimit)
		if err == nil || !strings.Contains(err.Message, want) {
			t.Errorf("prescan(%.80q) = %v, want an error mentioning %q", doc, err, want)
			continue
		}
		// The parsed document is refused as well, for the same reason.
		parsed, perr := parser.ParseQueryWithTokenLimit(&ast.Source{Input: doc}, DefaultTokenLimit)
		if perr != nil {
			continue // the token limit
		}
		if _, cerr := checkDocument(parsed, DefaultMaxDepth, DefaultMaxSelections, scanned{}); cerr == nil || !strings.Contains(cerr.Message, want) {
			t.Errorf("checkDocument(%.80q) = %v, want it to agree with prescan", doc, cerr)
		}
	}
}

// checkDocument leaves the fields' counts to prescan when prescan could
// count them all; it must come to the same answer either way.
func TestPrescanSparesCounting(t *testing.T) {
	t.Parallel()
	repeat := func(n int, s string) string { return strings.Repeat(s, n) }
	docs := []struct {
		doc                 string
		inline, keysChecked bool
	}{
		{doc: `{ a b c }`, keysChecked: true},
		{doc: `{ a a b }`, keysChecked: true},                   // may conflict
		{doc: `{ x: a x: b }`, keysChecked: true},               // a conflict for validation
		{doc: "{ " + repeat(10, "a ") + "}", keysChecked: true}, // at the limit
		{doc: `query { book(id: 1) { ...F ...F } } fragment F on Book { id id }`, keysChecked: true},
		{doc: `{ book(id: 1) { ...F @include(if: true) title } } fragment F on Book { id }`, keysChecked: true},
		{doc: `{ ... on Query { a } a }`, inline: true},
		{doc: `{ ... @include(if: true) { a } }`, inline: true},
		{doc: `{ ... { a } }`, inline: true},
		{doc: `{ book(id: 1) { ... on Book { id } id } }`, inline: true},
		{doc: "{ " + repeat(6, "a ") + repeat(6, "... { a } ") + "}", inline: true}, // 12 a's: over the limit only together
		{doc: "{ " + repeat(6, "a ") + "... on Query { " + repeat(6, "a ") + "} }", inline: true},
		{doc: `{ a `},         // unbalanced: not complete
		{doc: `{ a } }`},      // likewise
		{doc: "{ \u0007 a }"}, // a lexical error
	}
	for _, d := range docs {
		scan, err := prescan(d.doc, DefaultTokenLimit)
		if err != nil {
			t.Errorf("prescan(%.80q): %v", d.doc, err)
			continue
		}
		if scan.inlineFragments != d.inline || scan.keysChecked() != d.keysChecked {
			t.Errorf("prescan(%.80q) = %+v, want inline fragments %v and keys checked %v", d.doc, scan, d.inline, d.keysChecked)
		}
		parsed, perr := parser.ParseQueryWithTokenLimit(&ast.Source{Input: d.doc}, DefaultTokenLimit)
		if perr != nil {
			if scan.keysChecked() {
				t.Errorf("%.80q does not parse, yet prescan vouches for its counts", d.doc)
			}
			continue
		}
		conflict, cerr := checkDocument(parsed, DefaultMaxDepth, DefaultMaxSelections, scanned{})
		conflict2, cerr2 := checkDocument(parsed, DefaultMaxDepth, DefaultMaxSelections, scan)
		if conflict != conflict2 || (cerr == nil) != (cerr2 == nil) || (cerr != nil && cerr.Message != cerr2.Message) {
			t.Errorf("checkDocument(%.80q) = %v, %v counting alone, %v, %v after prescan", d.doc, conflict, cerr, conflict2, cerr2)
		}
	}
}
