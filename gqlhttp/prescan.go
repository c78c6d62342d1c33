package gqlhttp

import (
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
func prescan(query string, tokenLimit int) *gqlerror.Error {
	type frame struct {
		kind       lexer.Type // BraceL for a selection set; ParenL, BracketL or BraceR for a value
		keys       keyCounts
		directives int
	}
	stack := []frame{{kind: lexer.EOF}} // the document's top level
	lx := lexer.New(&ast.Source{Input: query})
	var prev, prev2 lexer.Type
	var prevValue string
	for tokens := 0; ; tokens++ {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil
		}
		if tokens >= tokenLimit {
			e := gqlerror.ErrorPosf(&tok.Pos, "exceeded token limit of %d", tokenLimit)
			errcode.Set(e, errcode.ParseFailed)
			return e
		}
		top := &stack[len(stack)-1]
		switch tok.Kind {
		case lexer.Comment:
			continue
		case lexer.Name:
			if len(tok.Value) > maxNameLength {
				return limitError(&tok.Pos, reasonSelections, "name %q is longer than %d bytes", truncateName(tok.Value), maxNameLength)
			}
			if prev != lexer.At {
				top.directives = 0 // a new node
			}
			if top.kind != lexer.BraceL {
				break
			}
			switch {
			case prev == lexer.Colon, prev == lexer.At, prev == lexer.Spread:
				// A field's name after its alias, a directive, a fragment
				// spread or the "on" of an inline fragment.
			case prev == lexer.Name && prevValue == "on" && prev2 == lexer.Spread:
				// An inline fragment's type condition.
			default:
				if top.keys.add(tok.Value) > maxRepeats {
					return limitError(&tok.Pos, reasonSelections, "%q is selected more than %d times in one selection set", truncateName(tok.Value), maxRepeats)
				}
			}
		case lexer.At:
			top.directives++
			if top.directives > maxDirectives {
				return limitError(&tok.Pos, reasonSelections, "more than %d directives on one node", maxDirectives)
			}
		case lexer.Spread:
			top.directives = 0
		case lexer.BraceL:
			kind := lexer.BraceL
			if top.kind != lexer.BraceL && top.kind != lexer.EOF {
				kind = lexer.BraceR // an object value
			}
			top.directives = 0
			stack = append(stack, frame{kind: kind})
		case lexer.ParenL, lexer.BracketL:
			stack = append(stack, frame{kind: tok.Kind})
		case lexer.BraceR, lexer.ParenR, lexer.BracketR:
			if len(stack) == 1 {
				return nil // unbalanced: the parser says where
			}
			stack = stack[:len(stack)-1]
		}
		prev2, prev, prevValue = prev, tok.Kind, tok.Value
	}
}

// keyCounts counts the response keys of one selection set. Most sets have
// a few keys, which it keeps in an array; a map takes over beyond that.
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
	k.many = make(map[string]int, 2*len(k.few))
	for _, kc := range k.few[:k.n] {
		k.many[kc.key] = kc.count
	}
	k.many[key] = 1
	return 1
}
