// Package fulltext turns text into the terms EduStream's search indexes and
// matches, the same way for MariaDB FULLTEXT and SQLite FTS5, and
// highlights matches for snippets.
//
// Neither engine's own tokeniser is trusted with user text: InnoDB's drops
// words shorter than innodb_ft_min_token_size (3 by default) and its stop
// words, and has no n-gram parser in MariaDB, so a two-syllable Korean word
// (강의, 학습) would never be found; FTS5's unicode61 splits on spaces only,
// which a Korean word followed by its particle (강의를) defeats. Instead Go
// splits the text here and stores the terms in a shadow column in an encoded
// form both engines take as one plain ASCII word each:
//
//   - words of letters and digits are case-folded and lose their accents
//     (Élève → eleve); Korean, Chinese and Japanese runs, written without
//     spaces between words, become overlapping character bigrams
//     (강의를 → 강의 의를), so any two-character word inside matches;
//   - an ASCII term t is stored as "zw"+t and any other as "zu"+hex(t): at
//     least three characters, never a stop word, nothing the engines could
//     fold or split differently. Hex keeps prefixes: a prefix of a term
//     encodes to a prefix of its encoding.
//
// Queries are built from the same terms, so user text never reaches an
// engine's query syntax: operators and quotes are separators here.
package fulltext

import (
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Term limits keep every encoded term under InnoDB's
// innodb_ft_max_token_size (84 characters by default): longer terms would
// silently not be indexed.
const (
	maxASCIITerm = 60 // characters, +2 for the prefix
	maxOtherTerm = 30 // bytes, hex doubles them, +2
)

// Token is one term of a text and where it came from, so a snippet can
// highlight the original characters.
type Token struct {
	// Term is the folded form: lower case, without accents; a bigram (or a
	// lone character) of a CJK run.
	Term string
	// Start and End are byte offsets of the term in the original text.
	Start, End int
	// CJK is set for the bigrams and lone characters of CJK runs.
	CJK bool
}

// Tokens splits text into its terms in order.
func Tokens(text string) []Token {
	var out []Token
	var word strings.Builder
	wordStart := -1
	var cjk []cjkRune
	// accented says whether the last letter's script writes accents as
	// combining marks, which are then dropped after it.
	accented := false
	flushWord := func(end int) {
		if wordStart >= 0 && word.Len() > 0 {
			out = append(out, Token{Term: word.String(), Start: wordStart, End: end})
		}
		word.Reset()
		wordStart = -1
	}
	flushCJK := func() {
		switch len(cjk) {
		case 0:
			return
		case 1:
			out = append(out, Token{Term: string(cjk[0].r), Start: cjk[0].start, End: cjk[0].end, CJK: true})
		default:
			for i := 0; i+1 < len(cjk); i++ {
				out = append(out, Token{Term: string([]rune{cjk[i].r, cjk[i+1].r}), Start: cjk[i].start, End: cjk[i+1].end, CJK: true})
			}
		}
		cjk = cjk[:0]
	}
	for i, r := range text {
		size := utf8.RuneLen(r)
		if size < 0 {
			size = 1 // utf8.RuneError from an invalid byte
		}
		switch {
		case isCJK(r):
			flushWord(i)
			cjk = append(cjk, cjkRune{r: r, start: i, end: i + size})
			accented = false
		case unicode.Is(unicode.Mn, r):
			// A combining mark: an accent of the letter before it in
			// alphabetic scripts (dropped), part of the word otherwise.
			if wordStart >= 0 && !accented {
				word.WriteRune(r)
			}
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			flushCJK()
			if wordStart < 0 {
				wordStart = i
			}
			folded, drops := fold(r)
			word.WriteString(folded)
			accented = drops
		default:
			flushWord(i)
			flushCJK()
			accented = false
		}
	}
	flushWord(len(text))
	flushCJK()
	return out
}

type cjkRune struct {
	r          rune
	start, end int
}

// isCJK reports whether r belongs to a script written without spaces
// between words, which is indexed in bigrams.
func isCJK(r rune) bool {
	// ー (the katakana long vowel) and 々 (the kanji repeat) are in the
	// Common script but inside words.
	return unicode.In(r, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana) || r == 'ー' || r == '々'
}

// fold returns r in lower case without accents, and whether r's script
// writes accents as marks to drop (so a following combining mark goes too).
func fold(r rune) (string, bool) {
	alphabetic := unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic)
	if !alphabetic {
		return string(unicode.ToLower(r)), false
	}
	var b strings.Builder
	for _, d := range norm.NFKD.String(string(r)) {
		if !unicode.Is(unicode.Mn, d) {
			b.WriteRune(unicode.ToLower(d))
		}
	}
	return b.String(), true
}

// Encode returns the stored form of a term (see the package comment).
func Encode(term string) string {
	if isASCIIWord(term) {
		if len(term) > maxASCIITerm {
			term = term[:maxASCIITerm]
		}
		return "zw" + term
	}
	if len(term) > maxOtherTerm {
		cut := maxOtherTerm
		for cut > 0 && !utf8.RuneStart(term[cut]) {
			cut--
		}
		term = term[:cut]
	}
	return "zu" + hex.EncodeToString([]byte(term))
}

func isASCIIWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// IndexForm returns what the index stores for text: its encoded terms
// separated by spaces.
func IndexForm(text string) string {
	tokens := Tokens(text)
	var b strings.Builder
	for i, t := range tokens {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Encode(t.Term))
	}
	return b.String()
}

// MaxClauses bounds the terms of one query, so a long query cannot make the
// engines intersect hundreds of posting lists.
const MaxClauses = 16

// minPrefix is the shortest last word that also matches as a prefix: a
// one- or two-letter prefix would match most of the index.
const minPrefix = 3

// Clause is one condition of a query; a document must meet every clause.
type Clause struct {
	// Terms are folded terms: one word, or the bigrams of a CJK run, which
	// must appear in that order (a phrase).
	Terms []string
	// Prefix makes the (single) term match any term that starts with it.
	Prefix bool
}

// Query is a search built from user text. It holds no user syntax: the
// engines' query strings are rendered from its terms alone.
type Query struct {
	Clauses []Clause
}

// Empty reports whether the text held no searchable term (only operators,
// punctuation or spaces): such a query matches nothing.
func (q Query) Empty() bool { return len(q.Clauses) == 0 }

// ParseQuery splits user text into clauses: every word, every CJK run (a
// phrase of its bigrams; a lone character matches as a prefix), the last
// word also as a prefix when it is long enough. Duplicates are dropped, and
// clauses past MaxClauses.
func ParseQuery(text string) Query {
	tokens := Tokens(text)
	var q Query
	seen := map[string]bool{}
	add := func(c Clause) {
		key := strings.Join(c.Terms, " ")
		if c.Prefix {
			key += "*"
		}
		if !seen[key] && len(q.Clauses) < MaxClauses {
			seen[key] = true
			q.Clauses = append(q.Clauses, c)
		}
	}
	for i := 0; i < len(tokens); {
		t := tokens[i]
		if !t.CJK {
			last := i == len(tokens)-1
			add(Clause{Terms: []string{t.Term}, Prefix: last && utf8.RuneCountInString(t.Term) >= minPrefix})
			i++
			continue
		}
		// The bigrams of one run overlap: each starts before the previous
		// one ends.
		run := []string{t.Term}
		j := i + 1
		for ; j < len(tokens) && tokens[j].CJK && tokens[j].Start < tokens[j-1].End; j++ {
			run = append(run, tokens[j].Term)
		}
		add(Clause{Terms: run, Prefix: utf8.RuneCountInString(t.Term) == 1})
		i = j
	}
	return q
}

// MySQL renders q for MATCH … AGAINST (… IN BOOLEAN MODE): every clause
// required (+), phrases quoted, prefixes starred. Encoded terms hold only
// [a-z0-9], so nothing in them is an operator.
func (q Query) MySQL() string {
	parts := make([]string, len(q.Clauses))
	for i, c := range q.Clauses {
		parts[i] = "+" + render(c)
	}
	return strings.Join(parts, " ")
}

// FTS5 renders q as an FTS5 query: clauses joined by AND, each a quoted
// string (a phrase), prefixes starred.
func (q Query) FTS5() string {
	parts := make([]string, len(q.Clauses))
	for i, c := range q.Clauses {
		parts[i] = render(c)
	}
	return strings.Join(parts, " AND ")
}

// render writes one clause in the syntax both engines share for it.
func render(c Clause) string {
	enc := make([]string, len(c.Terms))
	for i, t := range c.Terms {
		enc[i] = Encode(t)
	}
	s := enc[0]
	if len(enc) > 1 {
		s = `"` + strings.Join(enc, " ") + `"`
	}
	if c.Prefix {
		s += "*"
	}
	return s
}
