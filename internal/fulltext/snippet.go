package fulltext

import (
	"html"
	"strings"
	"unicode/utf8"
)

// Snippet returns the part of text around its first match of q, at most
// about width characters, as HTML: every match wrapped in <mark>…</mark>
// and everything else escaped, so a client may insert it as markup. A cut
// end is marked with "…". Text without a match gives its beginning.
func Snippet(text string, q Query, width int) string {
	spans := matches(text, q)
	start, end := window(text, spans, width)
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	at := start
	for _, s := range spans {
		if s.end <= start || s.start >= end {
			continue
		}
		s.start, s.end = max(s.start, start), min(s.end, end)
		b.WriteString(html.EscapeString(text[at:s.start]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[s.start:s.end]))
		b.WriteString("</mark>")
		at = s.end
	}
	b.WriteString(html.EscapeString(text[at:end]))
	if end < len(text) {
		b.WriteString("…")
	}
	return b.String()
}

// Matches counts the distinct clauses of q that text meets, to choose the
// field a snippet is taken from.
func Matches(text string, q Query) int {
	n := 0
	tokens := Tokens(text)
	for _, c := range q.Clauses {
		for _, t := range tokens {
			if c.matches(t.Term) {
				n++
				break
			}
		}
	}
	return n
}

func (c Clause) matches(term string) bool {
	for _, want := range c.Terms {
		if term == want || c.Prefix && strings.HasPrefix(term, want) {
			return true
		}
	}
	return false
}

type span struct{ start, end int }

// matches returns the byte spans of text whose terms meet a clause of q,
// in order, overlapping and touching spans merged (a CJK run's bigrams
// overlap).
func matches(text string, q Query) []span {
	var spans []span
	for _, t := range Tokens(text) {
		hit := false
		for _, c := range q.Clauses {
			if c.matches(t.Term) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		if n := len(spans); n > 0 && t.Start <= spans[n-1].end {
			spans[n-1].end = max(spans[n-1].end, t.End)
			continue
		}
		spans = append(spans, span{t.Start, t.End})
	}
	return spans
}

// window chooses the byte range of text to show: width characters
// starting a little before the first match, moved to a space when one is
// near so words are not cut.
func window(text string, spans []span, width int) (int, int) {
	if utf8.RuneCountInString(text) <= width {
		return 0, len(text)
	}
	start := 0
	if len(spans) > 0 {
		start = back(text, spans[0].start, width/4)
	}
	end := start
	for n := 0; end < len(text) && n < width; n++ {
		_, size := utf8.DecodeRuneInString(text[end:])
		end += size
	}
	if end < len(text) {
		if sp := strings.LastIndexByte(text[start:end], ' '); sp > (end-start)/2 {
			end = start + sp
		}
	}
	return start, end
}

// back returns the offset n characters before at, or just after a space
// within them, so the snippet starts on a word.
func back(text string, at, n int) int {
	start := at
	for i := 0; i < n && start > 0; i++ {
		_, size := utf8.DecodeLastRuneInString(text[:start])
		start -= size
	}
	if start == 0 || text[start-1] == ' ' {
		return start
	}
	if sp := strings.IndexByte(text[start:at], ' '); sp >= 0 {
		return start + sp + 1
	}
	return start
}
