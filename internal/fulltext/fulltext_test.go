package fulltext

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func terms(text string) []string {
	var out []string
	for _, t := range Tokens(text) {
		out = append(out, t.Term)
	}
	return out
}

func TestTokens(t *testing.T) {
	for _, tt := range []struct {
		text string
		want []string
	}{
		{"Introduction to Go, part 2!", []string{"introduction", "to", "go", "part", "2"}},
		{"Élève CAFÉ naïve", []string{"eleve", "cafe", "naive"}},
		// A decomposed accent (e + U+0301) folds like the composed one.
		{"cafe\u0301", []string{"cafe"}},
		{"Straße ΣΟΦΊΑ Лекция", []string{"straße", "σοφια", "лекция"}},
		// Korean runs become bigrams, whatever particle follows the word.
		{"강의를 시작합니다", []string{"강의", "의를", "시작", "작합", "합니", "니다"}},
		{"AI강의 학", []string{"ai", "강의", "학"}},
		{"データ分析", []string{"デー", "ータ", "タ分", "分析"}},
		{`+-*"()~<>@`, nil},
		{"'; DROP TABLE courses; --", []string{"drop", "table", "courses"}},
		{`NEAR(a b) title:x "open`, []string{"near", "a", "b", "title", "x", "open"}},
	} {
		if got := terms(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestTokenOffsets(t *testing.T) {
	text := "Le café 강의를"
	for _, tok := range Tokens(text) {
		if got := terms(text[tok.Start:tok.End]); len(got) == 0 || got[0] != tok.Term {
			t.Errorf("token %q spans %q", tok.Term, text[tok.Start:tok.End])
		}
	}
}

// The stored form is plain ASCII words, none shorter than InnoDB's minimum
// token size nor longer than its maximum, whatever the text.
func TestIndexForm(t *testing.T) {
	long := strings.Repeat("x", 500) + " " + strings.Repeat("강", 300) + " " + strings.Repeat("é", 100) + " a 1"
	word := regexp.MustCompile(`^z[wu][a-z0-9]+$`)
	for _, w := range strings.Fields(IndexForm(long + " 강의 Straße")) {
		if !word.MatchString(w) || len(w) < 3 || len(w) > 84 {
			t.Errorf("stored term %q (%d characters) is not one 3..84-character ASCII word", w, len(w))
		}
	}
	if got, want := IndexForm("Go 강의"), "zwgo zu"+"eab095ec9d98"; got != want {
		t.Errorf("IndexForm = %q, want %q", got, want)
	}
}

func TestParseQuery(t *testing.T) {
	for _, tt := range []struct {
		text, mysql, fts5 string
	}{
		{"Go concurrency", "+zwgo +zwconcurrency*", "zwgo AND zwconcurrency*"},
		{"go GO Go", "+zwgo", "zwgo"},
		{"강의", "+zueab095ec9d98", "zueab095ec9d98"},
		{"데이터", `+"zueb8db0ec9db4 zuec9db4ed84b0"`, `"zueb8db0ec9db4 zuec9db4ed84b0"`},
		{"강", "+zueab095*", "zueab095*"},
		{`"; DROP TABLE x --`, "+zwdrop +zwtable +zwx", "zwdrop AND zwtable AND zwx"},
		{`NEAR(a, b) col:term "unbalanced`, "+zwnear +zwa +zwb +zwcol +zwterm +zwunbalanced*", "zwnear AND zwa AND zwb AND zwcol AND zwterm AND zwunbalanced*"},
	} {
		q := ParseQuery(tt.text)
		if q.MySQL() != tt.mysql || q.FTS5() != tt.fts5 {
			t.Errorf("ParseQuery(%q): MySQL %q, FTS5 %q; want %q, %q", tt.text, q.MySQL(), q.FTS5(), tt.mysql, tt.fts5)
		}
	}
	for _, text := range []string{"", "   ", `+-*"()~<>@`, "…!?"} {
		if q := ParseQuery(text); !q.Empty() {
			t.Errorf("ParseQuery(%q) = %+v, want no clause", text, q)
		}
	}
	if n := len(ParseQuery(strings.Repeat("word", 1) + strings.Repeat(" w", 40) + " a b c d e f g h i j k l m n o p q r").Clauses); n != MaxClauses {
		t.Errorf("a long query has %d clauses, want %d", n, MaxClauses)
	}
}

func TestSnippet(t *testing.T) {
	for _, tt := range []struct {
		text, query string
		width       int
		want        string
	}{
		{"Goroutines & channel <b>", "CHANNELS", 80, "Goroutines &amp; channel &lt;b&gt;"},
		{"Goroutines & channels <b>", "channels", 80, "Goroutines &amp; <mark>channels</mark> &lt;b&gt;"},
		{"Goroutines & channels <b>", "chan", 80, "Goroutines &amp; <mark>channels</mark> &lt;b&gt;"},
		{"Un élève curieux", "eleve", 80, "Un <mark>élève</mark> curieux"},
		{"오늘 강의를 시작합니다", "강의", 80, "오늘 <mark>강의</mark>를 시작합니다"},
		{"오늘 데이터 강의", "데이터", 80, "오늘 <mark>데이터</mark> 강의"},
		{"one two three four five six seven eight nine ten eleven twelve", "nine", 24, "…eight <mark>nine</mark> ten eleven…"},
	} {
		if got := Snippet(tt.text, ParseQuery(tt.query), tt.width); got != tt.want {
			t.Errorf("Snippet(%q, %q) = %q, want %q", tt.text, tt.query, got, tt.want)
		}
	}
}
