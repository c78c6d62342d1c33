package gqlhttp

import (
	"errors"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// quickLexer reads a document's tokens as gqlparser's lexer does, kinds and
// names alike, without their positions or the values of strings, which
// prescan does not look at. Whatever it is not sure of (anything gqlparser's
// lexer would refuse, a character outside ASCII between tokens, a braced
// \u{…} escape) ends its tokens with errUnsure and sets unsure, so that the
// caller reads the document again with gqlparser's lexer.
type quickLexer struct {
	src    string
	pos    int
	unsure bool
	// at is every token's position: a refusal's error needs one, and
	// prescan reads a refused document again for the true one.
	at ast.Position
}

var errUnsure = errors.New("not a token quickLexer is sure of")

// punctuators are the one-byte tokens.
var punctuators = [256]lexer.Type{
	'!': lexer.Bang, '$': lexer.Dollar, '&': lexer.Amp, '(': lexer.ParenL, ')': lexer.ParenR,
	':': lexer.Colon, '=': lexer.Equals, '@': lexer.At, '[': lexer.BracketL, ']': lexer.BracketR,
	'{': lexer.BraceL, '|': lexer.Pipe, '}': lexer.BraceR,
}

func (q *quickLexer) next() (lexer.Token, error) {
	s, i := q.src, q.pos
	// White space, commas and byte order marks, as gqlparser's lexer skips
	// them.
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r' {
			i++
		} else if c == 0xef && i+2 < len(s) && s[i+1] == 0xbb && s[i+2] == 0xbf {
			i += 3
		} else {
			break
		}
	}
	if i == len(s) {
		q.pos = i
		return lexer.Token{Kind: lexer.EOF, Pos: q.at}, nil
	}
	start, c := i, s[i]
	var kind lexer.Type
	switch {
	case isNameStart(c):
		i++
		for i < len(s) && (isNameStart(s[i]) || isDigit(s[i])) {
			i++
		}
		q.pos = i
		return lexer.Token{Kind: lexer.Name, Value: s[start:i], Pos: q.at}, nil
	case punctuators[c] != 0:
		kind, i = punctuators[c], i+1
	case c == '.':
		if i+2 >= len(s) || s[i+1] != '.' || s[i+2] != '.' {
			return q.giveUp()
		}
		kind, i = lexer.Spread, i+3
	case c == '#':
		// To the end of the line: any character but a control one other
		// than a tab.
		for i++; i < len(s) && (s[i] >= 0x20 || s[i] == '\t'); i++ {
		}
		kind = lexer.Comment
	case c == '-' || isDigit(c):
		var ok bool
		if kind, i, ok = number(s, i); !ok {
			return q.giveUp()
		}
	case c == '"':
		var ok bool
		if i+2 < len(s) && s[i+1] == '"' && s[i+2] == '"' {
			kind = lexer.BlockString
			i, ok = blockString(s, start+3)
		} else {
			kind = lexer.String
			i, ok = quotedString(s, start+1)
		}
		if !ok {
			return q.giveUp()
		}
	default:
		return q.giveUp()
	}
	q.pos = i
	return lexer.Token{Kind: kind, Pos: q.at}, nil
}

func (q *quickLexer) giveUp() (lexer.Token, error) {
	q.unsure = true
	return lexer.Token{}, errUnsure
}

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? from s[i:],
// and like gqlparser's lexer does not look at what follows it.
func number(s string, i int) (kind lexer.Type, end int, ok bool) {
	digits := func() int {
		n := 0
		for i < len(s) && isDigit(s[i]) {
			i, n = i+1, n+1
		}
		return n
	}
	kind = lexer.Int
	if s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		if i++; digits() != 0 {
			return 0, 0, false
		}
	} else if digits() == 0 {
		return 0, 0, false
	}
	if i < len(s) && s[i] == '.' {
		if i++; digits() == 0 {
			return 0, 0, false
		}
		kind = lexer.Float
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, 0, false
		}
		kind = lexer.Float
	}
	return kind, i, true
}

// quotedString returns the end of the string whose contents start at
// s[i:], past its closing quote.
func quotedString(s string, i int) (end int, ok bool) {
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20 && c != '\t':
			return 0, false // a line break or a control character
		case c == '\\':
			if i+1 >= len(s) {
				return 0, false
			}
			switch s[i+1] {
			case '"', '/', '\\', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				// Four hex digits, with more of the document after them
				// (gqlparser's lexer asks for that much).
				if i+6 >= len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return 0, false
				}
				i += 6
			default:
				return 0, false
			}
		default:
			i++
		}
	}
	return 0, false
}

// blockString returns the end of the block string whose contents start at
// s[i:], past its closing quotes (the last three of a run of quotes).
func blockString(s string, i int) (end int, ok bool) {
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			n := 1
			for i+n < len(s) && s[i+n] == '"' {
				n++
			}
			if n >= 3 {
				return i + n, true
			}
			i += n
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			return 0, false
		case c == '\\' && i+4 <= len(s) && s[i+1:i+4] == `"""`:
			i += 4
		default:
			i++
		}
	}
	return 0, false
}

func isHex(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
