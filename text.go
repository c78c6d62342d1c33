package edustream

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TextKind says which layout characters a user-visible string may hold.
type TextKind int

const (
	// SingleLine text (titles, names) holds no control characters at all,
	// and leading and trailing white space is dropped.
	SingleLine TextKind = iota
	// MultiLine text (descriptions) may also hold newlines and tabs. Line
	// breaks are stored as LF: CRLF and a lone CR become LF, so what a
	// Windows browser sends reads the same everywhere.
	MultiLine
)

// NormalizeText returns s in the form user-visible text is stored in, or an
// EINVALID error naming field ("course title"). Every string a user types
// and others read goes through it before storage, so that:
//
//   - it is valid UTF-8 (invalid bytes are refused, not replaced);
//   - it is in Unicode Normalization Form C, so equal-looking text is equal
//     bytes (search, uniqueness and length limits agree with what people see);
//   - it holds no control characters (C0, DEL, C1): no NUL, bell or terminal
//     escape sequences reach another user's screen or a log line; MultiLine
//     text keeps \n and \t, with line breaks normalised to \n;
//   - it holds no bidi embedding, override or isolate characters (U+202A–U+202E,
//     U+2066–U+2069), which make text display differently from what it says.
//     The bidi marks U+200E, U+200F and U+061C stay: right-to-left writing
//     needs them and they cannot reorder a whole run of text;
//   - it holds no character that is invisible or breaks lines behind the
//     field's back: the line and paragraph separators U+2028 and U+2029
//     (JavaScript and many renderers break lines there; \n is the one line
//     break), the zero-width characters U+200B, U+2060 and U+FEFF (they
//     make two different strings look alike, and split words that filters
//     look for), and the tag characters U+E0000–U+E007F (invisible, they
//     carry hidden text). Writing needs some of them, so these stay where
//     they join something: the joiners U+200C and U+200D between two
//     visible characters (Persian, the Indic scripts, emoji sequences such
//     as 👩‍💻), and tag characters in an emoji tag sequence, after U+1F3F4
//     and closed by U+E007F (the flags of Scotland or Wales).
//
// Length limits are the caller's, counted in characters of the result.
func NormalizeText(field, s string, kind TextKind) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "%s must be valid UTF-8", field)
	}
	if kind == MultiLine && strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	s = norm.NFC.String(s)
	if kind == SingleLine {
		s = strings.TrimSpace(s)
	}
	if i, r, what := firstRefused(s, kind); what != "" {
		return "", Errorf(EINVALID, "%s must not contain %s (%s at character %d)", field, what, codePoint(r), utf8.RuneCountInString(s[:i])+1)
	}
	return s, nil
}

// SanitizeText returns s with every character NormalizeText would refuse
// in SingleLine text removed (a line separator or control becomes a
// space), in NFC, white space trimmed and runs of it collapsed. It is for
// text EduStream is given rather than typed, where a refusal would lock a
// person out over something they cannot change: the names and emails of
// tokens (see SignIn). Invalid UTF-8 becomes U+FFFD.
func SanitizeText(s string) string {
	s = norm.NFC.String(strings.ToValidUTF8(s, "\uFFFD"))
	var b strings.Builder
	for i, r := range s {
		switch refusedAt(s, i, r, SingleLine) {
		case "":
			b.WriteRune(r)
		case "control characters", "line or paragraph separators":
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// validText reports whether s would pass NormalizeText's character checks
// as it is, for values that are checked but not rewritten (file names).
func validText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	kind := SingleLine
	if multiline {
		kind = MultiLine
	}
	_, _, what := firstRefused(s, kind)
	return what == ""
}

// firstRefused returns the first character of s the text rules refuse in
// text of kind, with its byte offset and what it is ("" if none).
func firstRefused(s string, kind TextKind) (int, rune, string) {
	for i, r := range s {
		if what := refusedAt(s, i, r, kind); what != "" {
			return i, r, what
		}
	}
	return 0, 0, ""
}

// refusedAt is refused for the character r at byte offset i of s, where
// the joiners and tag characters are judged by their neighbours.
func refusedAt(s string, i int, r rune, kind TextKind) string {
	switch {
	case r == zwnj || r == zwj:
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
		if joinable(before) && joinable(after) {
			return ""
		}
		return "zero-width characters"
	case isTag(r):
		if inEmojiTagSequence(s, i) {
			return ""
		}
		return "tag characters"
	}
	return refused(r, kind)
}

const (
	zwnj       = '\u200C'
	zwj        = '\u200D'
	blackFlag  = '\U0001F3F4' // the base of the emoji tag sequences
	cancelTag  = '\U000E007F' // the end of one
	firstTag   = '\U000E0020'
	lastTagArg = '\U000E007E'
)

// joinable reports whether a joiner may stand next to r: a visible
// character (letter, mark, number, symbol or punctuation), not white
// space, another joiner or the end of the text.
func joinable(r rune) bool {
	return r != utf8.RuneError && r != zwnj && r != zwj &&
		(unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || unicode.IsSymbol(r) || unicode.IsPunct(r))
}

func isTag(r rune) bool { return r >= 0xE0000 && r <= 0xE007F }

// inEmojiTagSequence reports whether the tag character at byte offset i of
// s belongs to an emoji tag sequence: U+1F3F4, one or more tag arguments
// (U+E0020–U+E007E), then U+E007F.
func inEmojiTagSequence(s string, i int) bool {
	start := i
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:start])
		if r < firstTag || r > lastTagArg {
			break
		}
		start -= n
	}
	if base, _ := utf8.DecodeLastRuneInString(s[:start]); base != blackFlag {
		return false
	}
	args := 0
	for j := start; j < len(s); {
		r, n := utf8.DecodeRuneInString(s[j:])
		switch {
		case r == cancelTag:
			return args > 0 && j >= i
		case r >= firstTag && r <= lastTagArg:
			args++
		default:
			return false
		}
		j += n
	}
	return false
}

// refused says what kind of character r is when the text rules refuse it
// in text of kind, "" when they accept it.
func refused(r rune, kind TextKind) string {
	switch {
	case kind == MultiLine && (r == '\n' || r == '\t'):
		return ""
	case unicode.IsControl(r):
		return "control characters"
	case isBidiControl(r):
		return "bidi override or isolate characters"
	case r == '\u2028' || r == '\u2029':
		return "line or paragraph separators"
	case (r >= '\u200B' && r <= '\u200D') || r == '\u2060' || r == '\uFEFF':
		return "zero-width characters"
	case isTag(r):
		return "tag characters"
	}
	return ""
}

func codePoint(r rune) string { return fmt.Sprintf("U+%04X", r) }

// isBidiControl reports whether r is an explicit bidi embedding, override
// or isolate (U+202A–U+202E, U+2066–U+2069).
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// normalizeField cleans *s in place (see NormalizeText) and checks its
// length in characters.
func normalizeField(field string, s *string, kind TextKind, maxLen int) error {
	clean, err := NormalizeText(field, *s, kind)
	if err != nil {
		return err
	}
	if n := utf8.RuneCountInString(clean); n > maxLen {
		return Errorf(EINVALID, "%s must be at most %d characters, got %d", field, maxLen, n)
	}
	*s = clean
	return nil
}

func normalizeTitle(what string, title *string) error {
	field := what + " title"
	if err := normalizeField(field, title, SingleLine, MaxTitleLength); err != nil {
		return err
	}
	if *title == "" {
		return Errorf(EINVALID, "%s must not be empty", field)
	}
	return nil
}

func normalizeDescription(what string, description *string) error {
	return normalizeField(what+" description", description, MultiLine, MaxDescriptionLength)
}
