package gqlhttp

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// quickLexer must give gqlparser's lexer's tokens, or give up, never
// accept what gqlparser's refuses, and not give up on ordinary documents.
func TestQuickLexer(t *testing.T) {
	t.Parallel()
	ordinary := []string{
		`{ courses(first: 20) { edges { node { id title description instructor { id name } lectures { id position title } } } } }`,
		"query Q($id: ID!, $n: Int = -1, $f: Float = 1.5e-3) @live {\r\n  lecture(id: $id) { ...L ... on Lecture @include(if: true) { id } } } # done\nfragment L on Lecture { title }",
		`mutation { createCourse(input: {title: "A \"course\" \u00e9 \\ / \n", tags: ["x", "y"], level: ADVANCED, free: false, price: null}) { id } }`,
		"\ufeff{ a: __typename, b: __typename }",
		`{ search(q: """block "" with \""" quotes""""") }`,
		`{ x(s: "é😀", t: "tab	in") }`,
	}
	for _, doc := range ordinary {
		if gaveUp := compareLexers(t, doc); gaveUp {
			t.Errorf("quickLexer gave up on an ordinary document: %q", doc)
		}
	}
	pieces := []string{
		"a", "_b9", "on", "Query", "...", "{", "}", "(", ")", "[", "]", ":", "@", "$", "!", "=", "&", "|",
		"#c\n", "#c\r", "#\x07", `"s"`, `"a\"b"`, `"\u00e9"`, `"\uD83D\uDE00"`, `"\u{1F600}"`, `"\q"`, `"\u12"`, `"a` + "\n" + `"`, `"unterminated`,
		`"""blk"""`, `"""a""""`, `"""\""""""`, `""""`, `"""` + "\x01" + `"""`, `""`,
		"1", "0", "-1.5e3", "1E+2", "01", "1.", "1.e", "-", ".", "..", "-0", "1e", "2a",
		"'", "\t", ",", " ", "\r\n", "\ufeff", "é", "\x07", "\xef\xbb", "\\",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		var b strings.Builder
		for range 1 + rng.IntN(10) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			if rng.IntN(3) == 0 {
				b.WriteByte(' ')
			}
		}
		compareLexers(t, b.String())
	}
}

// compareLexers reads doc with both lexers and reports whether quickLexer
// gave up.
func compareLexers(t *testing.T, doc string) (gaveUp bool) {
	t.Helper()
	slow := lexer.New(&ast.Source{Input: doc})
	quick := quickLexer{src: doc}
	for n := 0; ; n++ {
		want, werr := slow.ReadToken()
		got, gerr := quick.next()
		switch {
		case gerr != nil:
			if !quick.unsure {
				t.Fatalf("%q: quickLexer failed without giving up", doc)
			}
			return true
		case werr != nil:
			t.Errorf("%q: token %d is %s to quickLexer, an error to gqlparser's: %v", doc, n, got.Kind, werr)
			return false
		case got.Kind != want.Kind || (want.Kind == lexer.Name && got.Value != want.Value):
			t.Errorf("%q: token %d is %s %q, gqlparser's %s %q", doc, n, got.Kind, got.Value, want.Kind, want.Value)
			return false
		case want.Kind == lexer.EOF:
			return false
		}
	}
}
