package edustream_test

import (
	"strings"
	"testing"

	"github.com/edustream/edustream"
)

func TestNormalizeText(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		kind  edustream.TextKind
		want  string // the stored form, when valid
		error string // part of the EINVALID message, "" when valid
	}{
		{"plain", "Go for video", edustream.SingleLine, "Go for video", ""},
		{"NFD becomes NFC", "Cafe\u0301", edustream.SingleLine, "Café", ""},
		{"compatibility characters stay", "ﬁle", edustream.SingleLine, "ﬁle", ""},
		{"title trimmed", "  Go \t", edustream.SingleLine, "Go", ""},
		{"right-to-left text with marks", "שלום\u200F world", edustream.SingleLine, "שלום\u200F world", ""},
		{"NUL", "Go\x00", edustream.SingleLine, "", "control characters (U+0000 at character 3)"},
		{"BEL", "ding\a", edustream.SingleLine, "", "U+0007"},
		{"escape sequence", "\x1b[31mred", edustream.SingleLine, "", "U+001B at character 1"},
		{"DEL", "a\x7fb", edustream.SingleLine, "", "U+007F"},
		{"C1 control", "a\u0085b", edustream.SingleLine, "", "U+0085"},
		{"newline in a title", "two\nlines", edustream.SingleLine, "", "U+000A"},
		{"CR in a title", "two\rlines", edustream.SingleLine, "", "U+000D"},
		{"tab in a title", "a\tb", edustream.SingleLine, "", "U+0009"},
		{"bidi override", "abc\u202Efdp.exe", edustream.SingleLine, "", "bidi override or isolate characters (U+202E at character 4)"},
		{"bidi isolate", "\u2066x\u2069", edustream.SingleLine, "", "U+2066"},
		{"bidi embedding", "\u202Ax", edustream.MultiLine, "", "U+202A"},
		{"invalid UTF-8", "abc\xff", edustream.SingleLine, "", "valid UTF-8"},
		{"truncated UTF-8", "caf\xc3", edustream.MultiLine, "", "valid UTF-8"},
		{"description keeps newlines and tabs", "one\n\ttwo\n", edustream.MultiLine, "one\n\ttwo\n", ""},
		{"CRLF becomes LF", "one\r\ntwo\r\n", edustream.MultiLine, "one\ntwo\n", ""},
		{"lone CR becomes LF", "one\rtwo", edustream.MultiLine, "one\ntwo", ""},
		{"description is not trimmed", "  indented\n", edustream.MultiLine, "  indented\n", ""},
		{"vertical tab in a description", "a\vb", edustream.MultiLine, "", "U+000B"},
		{"form feed in a description", "a\fb", edustream.MultiLine, "", "U+000C"},
		{"line separator", "one\u2028two", edustream.SingleLine, "", "line or paragraph separators (U+2028 at character 4)"},
		{"paragraph separator in a description", "one\u2029two", edustream.MultiLine, "", "U+2029"},
		{"zero-width space", "pay\u200Bpal", edustream.SingleLine, "", "zero-width characters (U+200B at character 4)"},
		{"Persian keeps its non-joiner", "می\u200Cخواهم", edustream.SingleLine, "می\u200Cخواهم", ""},
		{"an emoji sequence keeps its joiner", "👩\u200D💻 lab", edustream.SingleLine, "👩\u200D💻 lab", ""},
		{"a non-joiner that joins nothing", "\u200Cab", edustream.MultiLine, "", "zero-width characters (U+200C at character 1)"},
		{"a joiner beside a space", "a \u200D b", edustream.SingleLine, "", "U+200D at character 3"},
		{"a joiner at the end", "ab\u200D", edustream.SingleLine, "", "U+200D"},
		{"two joiners", "a\u200D\u200Db", edustream.SingleLine, "", "U+200D at character 2"},
		{"the flag of Scotland", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", edustream.SingleLine, "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", ""},
		{"tags left open after a flag", "🏴\U000E0067\U000E0062 hidden", edustream.SingleLine, "", "tag characters (U+E0067 at character 2)"},
		{"a cancel tag alone", "🏴\U000E007F", edustream.SingleLine, "", "U+E007F"},
		{"word joiner", "a\u2060b", edustream.SingleLine, "", "U+2060"},
		{"byte order mark", "\uFEFFtitle", edustream.SingleLine, "", "zero-width characters (U+FEFF at character 1)"},
		{"tag character", "flag\U000E0067\U000E0062", edustream.SingleLine, "", "tag characters (U+E0067 at character 5)"},
		{"cancel tag", "x\U000E007F", edustream.MultiLine, "", "U+E007F"},
		{"characters next to the refused ones stay", "\u200A\u2061\u202F\U000E0100", edustream.MultiLine, "\u200A\u2061\u202F\U000E0100", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := edustream.NormalizeText("course title", tt.in, tt.kind)
			if tt.error != "" {
				if edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(err), tt.error) ||
					!strings.HasPrefix(edustream.ErrorMessage(err), "course title ") {
					t.Fatalf("NormalizeText(%q) = %q, %v; want EINVALID naming the field and mentioning %q", tt.in, got, err, tt.error)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeText(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// Validate is the one gate of every course and lecture write: it stores
// the normalised form and names the field it refuses.
func TestValidateNormalizes(t *testing.T) {
	c := &edustream.Course{Title: " Cafe\u0301 ", Description: "a\r\nb"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Title != "Café" || c.Description != "a\nb" {
		t.Errorf("course = %q, %q; want the NFC title trimmed and LF line breaks", c.Title, c.Description)
	}

	original := "Cafe\u0301\r\n"
	upd := edustream.LectureUpdate{Description: &original}
	if err := upd.Validate(); err != nil {
		t.Fatal(err)
	}
	if *upd.Description != "Café\n" || original != "Cafe\u0301\r\n" {
		t.Errorf("update = %q (caller's string now %q); want a normalised copy", *upd.Description, original)
	}

	for name, err := range map[string]error{
		"lecture description": (&edustream.Lecture{Title: "ok", Description: "\x00"}).Validate(),
		"lecture title":       (&edustream.LectureUpdate{Title: ptr("\u202E")}).Validate(),
		"course description":  (&edustream.CourseUpdate{Description: ptr("bell\a")}).Validate(),
		"course title":        (&edustream.Course{Title: "x\ny"}).Validate(),
	} {
		if edustream.ErrorCode(err) != edustream.EINVALID || !strings.HasPrefix(edustream.ErrorMessage(err), name+" ") {
			t.Errorf("%s: got %v, want EINVALID naming the field", name, err)
		}
	}
	// Length counts characters of the stored form: 200 decomposed é
	// (400 code points) are 200 composed ones.
	if err := (&edustream.Course{Title: strings.Repeat("e\u0301", edustream.MaxTitleLength)}).Validate(); err != nil {
		t.Errorf("200 decomposed characters: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// Text EduStream is given (names in tokens) loses what the text rules
// refuse instead of being refused.
func TestSanitizeText(t *testing.T) {
	for in, want := range map[string]string{
		"Ann Lee":                      "Ann Lee",
		"  Ann\u202E eeL  ":            "Ann eeL",
		"ding\a dong":                  "ding dong",
		"\x1b[31mred":                  "[31mred",
		"two\nlines\u2028three":        "two lines three",
		"pay\u200Bpal\uFEFF\U000E0041": "paypal",
		"Cafe\u0301":                   "Café",
		"bad\xffbyte":                  "bad\uFFFDbyte",
		"\u2066\u2069":                 "",
		"שלום\u200F":                   "שלום\u200F",
		"می\u200Cخواهم \u200D":         "می\u200Cخواهم",
		"🏴\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F \U000E0041": "🏴\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F",
	} {
		got := edustream.SanitizeText(in)
		if got != want {
			t.Errorf("SanitizeText(%q) = %q, want %q", in, got, want)
		}
		if _, err := edustream.NormalizeText("user name", got, edustream.SingleLine); err != nil {
			t.Errorf("SanitizeText(%q) = %q, which NormalizeText refuses: %v", in, got, err)
		}
	}
}
