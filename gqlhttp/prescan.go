package gqlhttp

import (
	"sync"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
)

// prescan reads a document's tokens, without building its syntax tree, and
// refuses at once what checkDocument would refuse later for the same
// reasons: more tokens than the limit, a name longer than maxNameLength, a
// response key repeated more than maxRepeats times in one selection set,
// more than maxDirectives directives in a row. Lexing costs a fraction of
// parsing (which allocates a node per field), so a 100 KB document of one
// field repeated 9,000 times is refused for less than a catalog query
// costs. It is a first sieve, not the rule: anything it cannot follow (a
// lexical error, unbalanced brackets) it lets through to the parser, and
// checkDocument checks the parsed document fully. In particular inline
// fragments count here as selection sets of their own.
//
// What it learnt of a document it read to the end without an inline
// fragment spares checkDocument counting the fields again (see scanned).
//
// The tokens come from quickLexer, which reads the common ones at a third of
// gqlparser's lexer's cost (a refused document of 10,000 tokens spent a
// sixth of its time lexing here). A refusal, whose error must say where, and
// a document quickLexer cannot follow are read again with gqlparser's
// lexer, so the answer is always the one gqlparser's tokens give.
func prescan(query string, tokenLimit int) (scanned, *gqlerror.Error) {
	src := &ast.Source{Input: query}
	quick := quickLexer{src: query, at: ast.Position{Src: src}}
	if scan, err := scanTokens(quick.next, tokenLimit); err == nil && !quick.unsure {
		return scan, nil
	}
	lx := lexer.New(src)
	return scanTokens(lx.ReadToken, tokenLimit)
}

// scanTokens is prescan over the tokens next returns.
func scanTokens(next func() (lexer.Token, error), tokenLimit int) (scanned, *gqlerror.Error) {
	type frame struct {
		kind       lexer.Type // BraceL for a selection set; ParenL, BracketL or BraceR for a value
		keys       keyCounts
		directives int
		// afterSpread: a "..." began the node, which may be an inline
		// fragment until a fragment's name says otherwise.
		afterSpread bool
	}
	stack := []frame{{kind: lexer.EOF}} // the document's top level
	defer func() {
		for i := range stack {
			stack[i].keys.release()
		}
	}()
	var scan scanned
	var prev, prev2 lexer.Type
	var prevValue string
	for tokens := 0; ; tokens++ {
		tok, err := next()
		if err != nil {
			return scanned{}, nil
		}
		if tok.Kind == lexer.EOF {
			scan.complete = len(stack) == 1
			return scan, nil
		}
		if tokens >= tokenLimit {
			e := gqlerror.ErrorPosf(&tok.Pos, "exceeded token limit of %d", tokenLimit)
			errcode.Set(e, errcode.ParseFailed)
			return scanned{}, e
		}
		top := &stack[len(stack)-1]
		switch tok.Kind {
		case lexer.Comment:
			continue
		case lexer.Name:
			if len(tok.Value) > maxNameLength {
				return scanned{}, limitError(&tok.Pos, reasonSelections, "name %q is longer than %d bytes", truncateName(tok.Value), maxNameLength)
			}
			if prev != lexer.At {
				top.directives = 0 // a new node
			}
			if top.kind != lexer.BraceL {
				break
			}
			switch {
			case prev == lexer.Spread:
				// A fragment spread's name, or the "on" of an inline
				// fragment.
				top.afterSpread = tok.Value == "on"
			case prev == lexer.Colon, prev == lexer.At:
				// A field's name after its alias, or a directive's.
			case prev == lexer.Name && prevValue == "on" && prev2 == lexer.Spread:
				// An inline fragment's type condition.
			default:
				top.afterSpread = false
				n := top.keys.add(tok.Value)
				if n > maxRepeats {
					return scanned{}, limitError(&tok.Pos, reasonSelections, "%q is selected more than %d times in one selection set", truncateName(tok.Value), maxRepeats)
				}
				if n > 1 {
					scan.repeatedKeys = true
				}
			}
		case lexer.At:
			top.directives++
			if top.directives > maxDirectives {
				return scanned{}, limitError(&tok.Pos, reasonSelections, "more than %d directives on one node", maxDirectives)
			}
		case lexer.Spread:
			top.directives = 0
			top.afterSpread = true
		case lexer.BraceL:
			kind := lexer.BraceL
			if top.kind != lexer.BraceL && top.kind != lexer.EOF {
				kind = lexer.BraceR // an object value
			}
			if top.kind == lexer.BraceL && top.afterSpread {
				scan.inlineFragments = true
			}
			top.directives, top.afterSpread = 0, false
			stack = append(stack, frame{kind: kind})
		case lexer.ParenL, lexer.BracketL:
			stack = append(stack, frame{kind: tok.Kind})
		case lexer.BraceR, lexer.ParenR, lexer.BracketR:
			if len(stack) == 1 {
				return scanned{}, nil // unbalanced: the parser says where
			}
			stack[len(stack)-1].keys.release()
			stack = stack[:len(stack)-1]
		}
		prev2, prev, prevValue = prev, tok.Kind, tok.Value
	}
}

// scanned is what prescan learnt of a document.
type scanned struct {
	// complete: prescan read every token, and the brackets balanced.
	complete bool
	// inlineFragments: the document may have one (prescan counts each
	// one's fields apart from the selection set it belongs to).
	inlineFragments bool
	// repeatedKeys: a response key appears twice in a selection set.
	repeatedKeys bool
}

// keysChecked says whether prescan has counted every selection set's
// fields as checkDocument would: it read the whole document (a document it
// could not follow does not parse) and met no inline fragment.
func (s scanned) keysChecked() bool { return s.complete && !s.inlineFragments }

// keyCounts counts the response keys of one selection set. Most sets have
// a few keys, which it keeps in an array; a map takes over beyond that,
// from keyMaps, and goes back there on release.
type keyCounts struct {
	few  [8]keyCount
	n    int
	many map[string]int
}

type keyCount struct {
	key   string
	count int
}

// add counts one more key and returns its count.
func (k *keyCounts) add(key string) int {
	if k.many != nil {
		k.many[key]++
		return k.many[key]
	}
	for i := range k.n {
		if k.few[i].key == key {
			k.few[i].count++
			return k.few[i].count
		}
	}
	if k.n < len(k.few) {
		k.few[k.n] = keyCount{key, 1}
		k.n++
		return 1
	}
	k.many = keyMaps.Get().(map[string]int)
	for _, kc := range k.few[:k.n] {
		k.many[kc.key] = kc.count
	}
	k.many[key] = 1
	return 1
}

// keyMaps keeps the maps of large selection sets from one document to the
// next: growing a map of 3,000 keys from empty, twice per document (here and
// in checkDocument), was a fifth of refusing a document of 3,000 aliases.
var keyMaps = sync.Pool{New: func() any { return make(map[string]int, 2*len(keyCounts{}.few)) }}

// release empties k, handing its map back to keyMaps.
func (k *keyCounts) release() {
	if k.many != nil {
		clear(k.many)
		keyMaps.Put(k.many)
	}
	*k = keyCounts{}
}
