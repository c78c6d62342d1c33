package edustream

import (
	"unicode"
	"unicode/utf8"
)

// validText reports whether s is valid UTF-8 free of control characters
// (newlines and tabs are allowed when multiline) and of the bidi override
// and isolate characters that make text display differently from what it
// says.
func validText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\t'):
		case unicode.IsControl(r), isBidiControl(r):
			return false
		}
	}
	return true
}

// isBidiControl reports whether r is an explicit bidi embedding, override
// or isolate (U+202A–U+202E, U+2066–U+2069).
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}
