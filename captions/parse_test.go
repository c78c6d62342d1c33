package captions_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream/captions"
)

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// mustParse parses content with no limits but the defaults.
func mustParse(t *testing.T, content string) *captions.Track {
	t.Helper()
	tr, err := captions.Parse([]byte(content), captions.Limits{})
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, content)
	}
	return tr
}

const lectureVTT = "\uFEFFWEBVTT - a lecture\r\nKind: captions\r\nLanguage: en\r\n\r\n" +
	"NOTE made by hand\r\nover two lines\r\n\r\n" +
	"STYLE\r\n::cue { color: red }\r\n\r\n" +
	"REGION \r\nid:fred width:40% lines:3\r\nregionanchor:0%,100% viewportanchor:10%,90% scroll:up\r\n\r\n" +
	"intro\r\n00:01.000 --> 00:04.000 align:start line:90%  region:fred\r\n" +
	"<v Prof. Smith>Welcome to <i>CS101</i> &amp; <c.yellow.big>more</c></v>\r\nQ&A later > now\r\n\r\n\r\n" +
	"00:00:07.500 --> 00:00:09.000 position:10%,line-left size:80.5% vertical:rl line:-2,end\r\n" +
	"<ruby>漢<rt>かん</rt></ruby> <00:00:08.000>next&nbsp;word&lrm;\r\n\r\n" +
	"NOTE between cues\r\n\r\n" +
	"01:00:00.000 --> 01:00:01.000\r\n\r\n" +
	"x\r\n01:00:00.500 --> 100:00:01.000\r\n<lang fr-CA>oui</lang>\r\n"

func TestParseWebVTT(t *testing.T) {
	t.Parallel()
	tr := mustParse(t, lectureVTT)
	want := &captions.Track{
		Regions: []captions.Region{{ID: "fred", Settings: "id:fred width:40% lines:3 regionanchor:0%,100% viewportanchor:10%,90% scroll:up"}},
		Cues: []captions.Cue{
			{ID: "intro", Start: ms(1000), End: ms(4000), Settings: "align:start line:90% region:fred", Line: 16,
				Payload: "<v Prof. Smith>Welcome to <i>CS101</i> &amp; <c.yellow.big>more</c></v>\nQ&amp;A later &gt; now"},
			{Start: ms(7500), End: ms(9000), Settings: "position:10%,line-left size:80.5% vertical:rl line:-2,end", Line: 21,
				Payload: "<ruby>漢<rt>かん</rt></ruby> <00:00:08.000>next&nbsp;word&lrm;"},
			{Start: time.Hour, End: time.Hour + time.Second, Line: 26},
			{ID: "x", Start: time.Hour + ms(500), End: 100*time.Hour + time.Second, Line: 29, Payload: "<lang fr-CA>oui</lang>"},
		},
	}
	if d := cmp.Diff(want, tr); d != "" {
		t.Fatalf("Parse (-want +got):\n%s", d)
	}
	plain := []string{"Welcome to CS101 & more Q&A later > now", "漢かん next word", "", "oui"}
	for i, c := range tr.Cues {
		if got := c.PlainText(); got != plain[i] {
			t.Errorf("cue %d PlainText = %q, want %q", i, got, plain[i])
		}
	}
	wantVTT := "WEBVTT\n\nREGION\nid:fred width:40% lines:3 regionanchor:0%,100% viewportanchor:10%,90% scroll:up\n\n" +
		"intro\n00:00:01.000 --> 00:00:04.000 align:start line:90% region:fred\n" +
		"<v Prof. Smith>Welcome to <i>CS101</i> &amp; <c.yellow.big>more</c></v>\nQ&amp;A later &gt; now\n\n" +
		"00:00:07.500 --> 00:00:09.000 position:10%,line-left size:80.5% vertical:rl line:-2,end\n" +
		"<ruby>漢<rt>かん</rt></ruby> <00:00:08.000>next&nbsp;word&lrm;\n\n" +
		"01:00:00.000 --> 01:00:01.000\n\n" +
		"x\n01:00:00.500 --> 100:00:01.000\n<lang fr-CA>oui</lang>\n"
	if got := string(tr.WebVTT()); got != wantVTT {
		t.Fatalf("WebVTT:\n%s\nwant:\n%s", got, wantVTT)
	}
	assertRoundTrip(t, tr)
}

// assertRoundTrip checks that the normalised WebVTT reads back to the same
// track and is a fixed point.
func assertRoundTrip(t *testing.T, tr *captions.Track) {
	t.Helper()
	out := tr.WebVTT()
	again, err := captions.Parse(out, captions.Limits{})
	if err != nil {
		t.Fatalf("Parse(WebVTT()): %v\n%s", err, out)
	}
	ignoreLines := cmp.Transformer("noLine", func(c captions.Cue) captions.Cue { c.Line = 0; return c })
	if d := cmp.Diff(tr, again, ignoreLines); d != "" {
		t.Fatalf("round trip changed the track (-before +after):\n%s", d)
	}
	if out2 := again.WebVTT(); string(out2) != string(out) {
		t.Fatalf("WebVTT is not a fixed point:\n%s\n---\n%s", out, out2)
	}
}

const lectureSRT = "\n1\n00:00:01,000 --> 00:00:04,000\n<i>Welcome</i> to <FONT color=\"#ffff00\">CS101</font> & more\n{\\an8}x < y, a <b>bold</b> <U>move</U>\n\n" +
	"2\n00:00:04,000 --> 00:00:06,500 X1:100 X2:200 Y1:10 Y2:20\nsecond\n\n" +
	"2\n00:00:06,500 --> 00:00:07,000\nnumbered twice\n\n" +
	"00:00:07.500 --> 00:00:09.000\nno counter\n{\\an8}\n<font color=red> </font>\n"

func TestParseSRT(t *testing.T) {
	t.Parallel()
	tr := mustParse(t, lectureSRT)
	want := &captions.Track{Cues: []captions.Cue{
		{ID: "1", Start: ms(1000), End: ms(4000), Line: 3,
			Payload: "<i>Welcome</i> to CS101 &amp; more\nx &lt; y, a <b>bold</b> <u>move</u>"},
		{ID: "2", Start: ms(4000), End: ms(6500), Line: 8, Payload: "second"},
		{Start: ms(6500), End: ms(7000), Line: 12, Payload: "numbered twice"},
		{Start: ms(7500), End: ms(9000), Line: 15, Payload: "no counter"},
	}}
	if d := cmp.Diff(want, tr); d != "" {
		t.Fatalf("Parse (-want +got):\n%s", d)
	}
	if got, want := tr.Cues[0].PlainText(), "Welcome to CS101 & more x < y, a bold move"; got != want {
		t.Errorf("PlainText = %q, want %q", got, want)
	}
	assertRoundTrip(t, tr)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const h = "WEBVTT\n\n"
	cue := func(text string) string { return h + "00:01.000 --> 00:02.000\n" + text + "\n" }
	tests := []struct {
		name    string
		content string
		lim     captions.Limits
		line    int
		msg     string // a part of the message
	}{
		{"empty", "", captions.Limits{}, 0, "the file is empty"},
		{"blank", "\n \n", captions.Limits{}, 0, "the file is empty"},
		{"not captions", "<html><body>", captions.Limits{}, 1, "not a caption file"},
		{"signature late", "\nWEBVTT\n\n00:01.000 --> 00:02.000\nx\n", captions.Limits{}, 2, `"WEBVTT" must be the file's very first line`},
		{"signature glued", "WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n", captions.Limits{}, 1, "not a caption file"},
		{"latin-1", h + "00:01.000 --> 00:02.000\ncaf\xe9\n", captions.Limits{}, 4, "not UTF-8"},
		{"NUL", h + "00:01.000 --> 00:02.000\na\x00b\n", captions.Limits{}, 4, "U+0000"},
		{"escape", h + "\n\n00:01.000 --> 00:02.000\r\n\x1b[31m\n", captions.Limits{}, 6, "U+001B"},
		{"C1", h + "00:01.000 --> 00:02.000\n\u0085\n", captions.Limits{}, 4, "U+0085"},
		{"too big", h + strings.Repeat("x", 100), captions.Limits{MaxBytes: 100}, 0, "the file is 108 bytes; a caption file may be at most 100 bytes"},
		{"cue in header", "WEBVTT\n00:01.000 --> 00:02.000\nx\n", captions.Limits{}, 2, "blank line must separate"},
		{"end before start", h + "00:02.000 --> 00:01.000\nhi\n", captions.Limits{}, 3, "cue end 00:00:01.000 is not after its start 00:00:02.000"},
		{"empty cue", h + "00:02.000 --> 00:02.000\nhi\n", captions.Limits{}, 3, "is not after its start"},
		{"out of order", h + "00:05.000 --> 00:06.000\na\n\n00:04.000 --> 00:07.000\nb\n", captions.Limits{}, 6, "this cue starts at 00:00:04.000, before the cue at line 3 (00:00:05.000)"},
		{"SRT comma in WebVTT", h + "00:00:01,000 --> 00:00:02,000\nx\n", captions.Limits{}, 3, `a WebVTT timestamp has "." before the milliseconds`},
		{"bad minutes", h + "00:60.000 --> 01:02.000\nx\n", captions.Limits{}, 3, `"00:60.000" is not a valid timestamp`},
		{"bad hours minutes", h + "01:60:00.000 --> 02:00:00.000\nx\n", captions.Limits{}, 3, "not a valid timestamp"},
		{"two-digit ms", h + "00:01.00 --> 00:02.000\nx\n", captions.Limits{}, 3, "not a valid timestamp"},
		{"huge hours", h + "123456:00:00.000 --> 123457:00:00.000\nx\n", captions.Limits{}, 3, "not a valid timestamp"},
		{"no arrow", h + "00:01.000 -> 00:02.000\nx\n", captions.Limits{}, 3, "expected a cue"},
		{"missing end", h + "00:01.000 -->\nx\n", captions.Limits{}, 3, "a timestamp is missing"},
		{"settings glued", h + "00:01.000 --> 00:02.000align:start\nx\n", captions.Limits{}, 3, "expected a space after the cue's end"},
		{"stray text", h + "hello\nworld\n", captions.Limits{}, 3, `expected a cue, whose timing line reads like "00:01.000 --> 00:04.000", but found "hello"`},
		{"arrow in text", h + "00:01.000 --> 00:02.000\nx\n00:03.000 --> 00:04.000\ny\n", captions.Limits{}, 5, `cue text cannot contain "-->"`},
		{"arrow in note", h + "NOTE a\nb\nc --> d\n", captions.Limits{}, 5, `a NOTE block cannot contain "-->"`},
		{"style after cue", cue("x") + "\nSTYLE\n::cue {}\n", captions.Limits{}, 6, "must come before the first cue"},
		{"region after cue", cue("x") + "\nREGION\nid:a\n", captions.Limits{}, 6, "must come before the first cue"},
		{"unknown setting", h + "00:01.000 --> 00:02.000 colour:red\nx\n", captions.Limits{}, 3, `unknown cue setting "colour"`},
		{"setting twice", h + "00:01.000 --> 00:02.000 align:start align:end\nx\n", captions.Limits{}, 3, "align is given twice"},
		{"bad align", h + "00:01.000 --> 00:02.000 align:middle\nx\n", captions.Limits{}, 3, `"middle" is not a valid value for the cue setting align (start, center, end, left or right)`},
		{"bad vertical", h + "00:01.000 --> 00:02.000 vertical:up\nx\n", captions.Limits{}, 3, "cue setting vertical"},
		{"line over 100%", h + "00:01.000 --> 00:02.000 line:101%\nx\n", captions.Limits{}, 3, "cue setting line"},
		{"line fraction", h + "00:01.000 --> 00:02.000 line:1.5\nx\n", captions.Limits{}, 3, "cue setting line"},
		{"line bad align", h + "00:01.000 --> 00:02.000 line:0,left\nx\n", captions.Limits{}, 3, "cue setting line"},
		{"position no %", h + "00:01.000 --> 00:02.000 position:50\nx\n", captions.Limits{}, 3, "cue setting position"},
		{"size negative", h + "00:01.000 --> 00:02.000 size:-5%\nx\n", captions.Limits{}, 3, "cue setting size"},
		{"setting no value", h + "00:01.000 --> 00:02.000 align:\nx\n", captions.Limits{}, 3, `"align:" must read name:value`},
		{"unknown region", h + "00:01.000 --> 00:02.000 region:nope\nx\n", captions.Limits{}, 3, `region "nope", which no REGION block defines`},
		{"region no id", h + "REGION\nwidth:40%\n", captions.Limits{}, 3, "a REGION needs an id"},
		{"region bad setting", h + "REGION\nid:a\nheight:3\n", captions.Limits{}, 5, `unknown region setting "height"`},
		{"region bad scroll", h + "REGION\nid:a scroll:down\n", captions.Limits{}, 4, "region setting scroll"},
		{"STYLE with a title", h + "STYLE a\n::cue {}\n", captions.Limits{}, 3, "the STYLE line must have nothing after STYLE"},
		{"REGION with a title", h + "REGION a\nid:x\n", captions.Limits{}, 3, "the REGION line must have nothing after REGION"},
		{"id twice", h + "a\n00:01.000 --> 00:02.000\nx\n\na\n00:03.000 --> 00:04.000\ny\n", captions.Limits{}, 7, `the cue id "a" is already used at line 3`},
		{"region twice", h + "REGION\nid:a\n\nREGION\nid:a\n", captions.Limits{}, 6, "already defined"},
		{"script tag", cue("<script>alert(1)</script>"), captions.Limits{}, 4, `the tag "<script>" is not allowed; captions may use WebVTT's tags only`},
		{"img", h + "00:01.000 --> 00:02.000\nfine\n<img src=x onerror=alert(1)>\n", captions.Limits{}, 5, `the tag "<img src=x onerror=alert(1)>" is not allowed`},
		{"font in WebVTT", cue(`<font color="red">x</font>`), captions.Limits{}, 4, "is not allowed"},
		{"uppercase tag", cue("<I>x</I>"), captions.Limits{}, 4, "is not allowed"},
		{"attribute", cue(`<b style="color:red">x</b>`), captions.Limits{}, 4, "tags cannot have attributes"},
		{"class with attribute", cue(`<c.a onclick=x>y</c>`), captions.Limits{}, 4, "tags cannot have attributes"},
		{"speaker attribute", cue(`<v onmouseover=alert(1)>x</v>`), captions.Limits{}, 4, `a speaker's name cannot contain "="`},
		{"bad class", cue(`<c.a"b>x</c>`), captions.Limits{}, 4, "bad class name"},
		{"empty class", cue(`<c.>x</c>`), captions.Limits{}, 4, "bad class name"},
		{"lang without tag", cue(`<lang>x</lang>`), captions.Limits{}, 4, "needs a language tag"},
		{"unclosed", h + "00:01.000 --> 00:02.000\na\n<i>b\nc\n", captions.Limits{}, 5, "<i> is never closed; add </i>"},
		{"crossed", cue("<b><i>x</b></i>"), captions.Limits{}, 4, `"</b>" closes <i> (opened at line 4) in the wrong order`},
		{"close nothing", cue("x</i>"), captions.Limits{}, 4, `"</i>" closes no open tag`},
		{"rt outside ruby", cue("<rt>x</rt>"), captions.Limits{}, 4, "<rt> must be directly inside <ruby>"},
		{"bare less-than", cue("x < y"), captions.Limits{}, 4, `"<" starts a tag that is never ended`},
		{"empty tag", cue("x <> y"), captions.Limits{}, 4, "is not a tag"},
		{"deep nesting", cue(strings.Repeat("<i>", 100) + "x"), captions.Limits{}, 4, "nested more than 16 deep"},
		{"unknown entity", cue("&copy; 2026"), captions.Limits{}, 4, `unknown character reference "&copy;"`},
		{"numeric entity", cue("&#60;script&#62;"), captions.Limits{}, 4, `unknown character reference "&#60;"`},
		{"timestamp tag outside", cue("a <00:03.000>b"), captions.Limits{}, 4, "is outside its cue (00:00:01.000 --> 00:00:02.000)"},
		{"timestamp tag backwards", cue("a <00:01.600>b <00:01.500>c"), captions.Limits{}, 4, "is not after the one before it"},
		{"timestamp tag bad", cue("a <00:01.5>b"), captions.Limits{}, 4, "not a valid timestamp tag"},
		{"after the video", h + "00:01.000 --> 00:02.000\na\n\n00:10.000 --> 00:11.000\nb\n", captions.Limits{Duration: 10 * time.Second}, 6, "this cue starts at 00:00:10.000, after the video ends (00:00:10.000)"},
		{"overruns the video", h + "00:09.000 --> 00:11.001\na\n", captions.Limits{Duration: 10 * time.Second}, 3, "this cue ends at 00:00:11.001, more than 1s after the video ends (00:00:10.000)"},
		{"too many cues", h + strings.Repeat("00:01.000 --> 00:02.000\nx\n\n", 4), captions.Limits{MaxCues: 3}, 12, "more than 3 cues"},
		{"SRT other tag", "1\n00:00:01,000 --> 00:00:02,000\n<span>x</span>\n", captions.Limits{}, 3, `the tag "<span>" has no WebVTT equivalent`},
		{"SRT unclosed", "1\n00:00:01,000 --> 00:00:02,000\n<i>x\n", captions.Limits{}, 3, "<i> is never closed"},
		{"SRT missing blank line", "1\n00:00:01,000 --> 00:00:02,000\nx\n2\n00:00:03,000 --> 00:00:04,000\ny\n", captions.Limits{}, 5, `cue text cannot contain "-->"`},
		{"SRT paragraph", "1\n00:00:01,000 --> 00:00:02,000\nx\n\nmore text\n", captions.Limits{}, 5, `expected a subtitle number or a timing line`},
		{"SRT bad time", "1\n00:00:01,000 --> 00:00:02\nx\n", captions.Limits{}, 2, `"00:00:02" is not a valid timestamp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := captions.Parse([]byte(tt.content), tt.lim)
			var pe *captions.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %+v, %v; want a *ParseError", tr, err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("Parse error = line %d: %q\nwant     line %d: …%q…", pe.Line, pe.Msg, tt.line, tt.msg)
			}
		})
	}
}

func TestParseClampsToTheVideo(t *testing.T) {
	t.Parallel()
	content := "WEBVTT\n\n00:08.000 --> 00:10.900\nlast words\n"
	tr, err := captions.Parse([]byte(content), captions.Limits{Duration: 10*time.Second + 400*time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Cues[0].End; got != 10*time.Second {
		t.Fatalf("end = %v, want it clamped to the video's 10s (whole milliseconds)", got)
	}
	assertRoundTrip(t, tr)
}

// TestParseHostile feeds inputs built to cost time or memory: each is
// refused, or read, within its bounds.
func TestParseHostile(t *testing.T) {
	t.Parallel()
	million := func() []byte {
		var b strings.Builder
		b.WriteString("WEBVTT\n\n")
		for range 1_000_000 {
			b.WriteString("00:01.000 --> 00:02.000\n\n")
		}
		return []byte(b.String())
	}()
	tests := []struct {
		name    string
		content []byte
		lim     captions.Limits
		msg     string
	}{
		{"a million cues", million, captions.Limits{MaxBytes: len(million)}, "more than 30000 cues"},
		{"a million cues, default size", million, captions.Limits{}, "a caption file may be at most 4.0 MB"},
		{"binary", []byte("\x00\x00\x00\x18ftypmp42" + strings.Repeat("\xff", 1000)), captions.Limits{}, "control character U+0000"},
		{"binary after the header", []byte("WEBVTT\n\n\x89PNG\r\n\x1a\n"), captions.Limits{}, "not UTF-8"},
		{"nested a million deep", []byte("WEBVTT\n\n00:01.000 --> 00:02.000\n" + strings.Repeat("<b>", 1_000_000)), captions.Limits{}, "nested more than 16 deep"},
		{"a million unclosed tags", []byte("WEBVTT\n\n00:01.000 --> 00:02.000\n" + strings.Repeat("<", 1_000_000)), captions.Limits{}, "never ended"},
		{"one long line", []byte("WEBVTT\n\n00:01.000 --> 00:02.000\n" + strings.Repeat("a&", 1_000_000)), captions.Limits{}, ""},
		{"a million blank lines", []byte("WEBVTT" + strings.Repeat("\n", 1_000_000)), captions.Limits{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := captions.Parse(tt.content, tt.lim)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			var pe *captions.ParseError
			if !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("Parse = %v tracks, %v; want …%q…", tr != nil, err, tt.msg)
			}
		})
	}
}

// FuzzParse: whatever the bytes, Parse returns a track or a *ParseError,
// never panics, and a track it returns survives the round trip.
func FuzzParse(f *testing.F) {
	for _, s := range []string{lectureVTT, lectureSRT, "WEBVTT\n\n00:01.000 --> 00:02.000\n<c.a><i>x</i></c>\n", "1\n00:00:01,000 --> 00:00:02,000\n<font>a</font>&b\n", ""} {
		f.Add([]byte(s), int64(0))
	}
	f.Fuzz(func(t *testing.T, content []byte, durationMs int64) {
		lim := captions.Limits{MaxBytes: 1 << 16, MaxCues: 100, Duration: time.Duration(durationMs%(1<<40)) * time.Millisecond}
		tr, err := captions.Parse(content, lim)
		if err != nil {
			var pe *captions.ParseError
			if !errors.As(err, &pe) || tr != nil {
				t.Fatalf("Parse = %v, %T %v; want nil, *ParseError", tr, err, err)
			}
			return
		}
		for _, c := range tr.Cues {
			_ = c.PlainText()
		}
		assertRoundTrip(t, tr)
	})
}

func TestEscapeText(t *testing.T) {
	t.Parallel()
	in := "  if a < b && c > d --> done  \r\n\r\n <script>x</script> &amp; \n"
	got := captions.EscapeText(in)
	if want := "if a &lt; b &amp;&amp; c &gt; d --&gt; done\n&lt;script&gt;x&lt;/script&gt; &amp;amp;"; got != want {
		t.Fatalf("EscapeText = %q, want %q", got, want)
	}
	tr := mustParse(t, "WEBVTT\n\n00:01.000 --> 00:02.000\n"+got+"\n")
	if p, want := tr.Cues[0].PlainText(), "if a < b && c > d --> done <script>x</script> &amp;"; p != want {
		t.Fatalf("PlainText = %q, want %q", p, want)
	}
}
