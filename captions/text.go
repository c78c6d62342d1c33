package captions

import (
	"bytes"
	"regexp"
	"strings"
	"time"
)

// maxTagDepth bounds how deeply tags nest; real captions nest two or three.
const maxTagDepth = 16

// entities are WebVTT's character references, and what PlainText makes of
// them: for search a no-break space is a space and direction marks go.
var entities = map[string]string{
	"&amp;": "&", "&lt;": "<", "&gt;": ">", "&lrm;": "", "&rlm;": "", "&nbsp;": " ",
}

var (
	entityLike  = regexp.MustCompile(`^&[A-Za-z0-9#]+;`)
	className   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	languageTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)
	// assOverride is an ASS/SSA override like {\an8} that SRT files carry.
	assOverride = regexp.MustCompile(`\{\\[^{}]*\}`)
)

// webVTTTags are the tags WebVTT cue text may hold, besides timestamps.
var webVTTTags = map[string]bool{"c": true, "i": true, "b": true, "u": true, "ruby": true, "rt": true, "v": true, "lang": true}

// openTag is a tag not closed yet, and where it was opened.
type openTag struct {
	name string
	line int
}

// textChecker checks a cue's text and writes it back normalised.
type textChecker struct {
	srt        bool
	start, end time.Duration
	last       time.Duration // the last timestamp tag, or start
	line       int
	open       []openTag
	out        bytes.Buffer
}

// checkText checks the text lines of a cue (the first at line first) and
// returns them as WebVTT cue text, lines joined by "\n".
func checkText(lines []string, first int, start, end time.Duration, srt bool) (string, error) {
	c := &textChecker{srt: srt, start: start, end: end, last: start}
	for i, l := range lines {
		c.line = first + i
		if srt {
			l = assOverride.ReplaceAllString(l, "")
		}
		mark := c.out.Len()
		if mark > 0 {
			c.out.WriteByte('\n')
		}
		text := c.out.Len()
		if err := c.lineText(l); err != nil {
			return "", err
		}
		// A line that held only what SRT loses ({\an8}, <font>) goes: a
		// blank line would end the cue in WebVTT.
		if isBlank(string(c.out.Bytes()[text:])) {
			c.out.Truncate(mark)
		}
	}
	if k := len(c.open); k > 0 {
		t := c.open[k-1]
		return "", errorf(t.line, "<%s> is never closed; add </%s>", t.name, t.name)
	}
	return c.out.String(), nil
}

func (c *textChecker) lineText(l string) error {
	for i := 0; i < len(l); {
		switch l[i] {
		case '&':
			ref, n, err := c.reference(l[i:])
			if err != nil {
				return err
			}
			c.out.WriteString(ref)
			i += n
		case '>':
			c.out.WriteString("&gt;")
			i++
		case '<':
			n, err := c.tag(l[i:])
			if err != nil {
				return err
			}
			i += n
		default:
			j := strings.IndexAny(l[i:], "&<>")
			if j < 0 {
				j = len(l) - i
			}
			c.out.WriteString(l[i : i+j])
			i += j
		}
	}
	return nil
}

// reference reads the "&" at the start of s: a character reference of
// WebVTT's, kept; an unknown one, an error; or an "&" that starts none
// (or any "&" in SRT), written as &amp;. It returns the text to write and
// how much of s it took.
func (c *textChecker) reference(s string) (string, int, error) {
	ref := entityLike.FindString(s)
	if ref == "" || c.srt {
		return "&amp;", 1, nil
	}
	if _, ok := entities[ref]; !ok {
		return "", 0, errorf(c.line, "unknown character reference %s; WebVTT knows only &amp; &lt; &gt; &lrm; &rlm; &nbsp; (type the character itself)", quoteShort(ref))
	}
	return ref, len(ref), nil
}

// tag reads the tag at the start of s and returns its length.
func (c *textChecker) tag(s string) (int, error) {
	if c.srt && (len(s) < 2 || !(isASCIILetter(s[1]) || s[1] == '/')) {
		c.out.WriteString("&lt;")
		return 1, nil
	}
	end := strings.IndexByte(s, '>')
	if end < 0 {
		if c.srt {
			c.out.WriteString("&lt;")
			return 1, nil
		}
		return 0, errorf(c.line, `"<" starts a tag that is never ended with ">"; write &lt; for a less-than sign`)
	}
	raw := s[:end+1]
	body := s[1:end]
	if c.srt {
		if name := strings.ToLower(strings.TrimPrefix(body, "/")); name == "font" || strings.HasPrefix(name, "font ") {
			return len(raw), nil // see the package comment
		}
		body = strings.ToLower(body)
	}
	if name, ok := strings.CutPrefix(body, "/"); ok {
		return len(raw), c.endTag(name, raw)
	}
	if body != "" && body[0] >= '0' && body[0] <= '9' && !c.srt {
		return len(raw), c.timestampTag(body, raw)
	}
	return len(raw), c.startTag(body, raw)
}

func (c *textChecker) endTag(name, raw string) error {
	k := len(c.open)
	switch {
	case k == 0:
		return errorf(c.line, "%s closes no open tag", quoteShort(raw))
	case c.open[k-1].name != name:
		return errorf(c.line, "%s closes <%s> (opened at line %d) in the wrong order, or was never opened", quoteShort(raw), c.open[k-1].name, c.open[k-1].line)
	}
	c.open = c.open[:k-1]
	c.out.WriteString("</" + name + ">")
	return nil
}

func (c *textChecker) timestampTag(body, raw string) error {
	t, rest, ok := parseTimestamp(body, false)
	switch {
	case !ok || rest != "":
		return errorf(c.line, "%s is not a valid timestamp tag; write <hh:mm:ss.ttt> or <mm:ss.ttt>", quoteShort(raw))
	case t < c.start || t > c.end:
		return errorf(c.line, "the timestamp %s is outside its cue (%s --> %s)", quoteShort(raw), formatTime(c.start), formatTime(c.end))
	case t <= c.last && t != c.start:
		return errorf(c.line, "the timestamp %s is not after the one before it (%s)", quoteShort(raw), formatTime(c.last))
	}
	c.last = t
	c.out.WriteString("<" + formatTime(t) + ">")
	return nil
}

func (c *textChecker) startTag(body, raw string) error {
	head, annotation, _ := strings.Cut(strings.ReplaceAll(body, "\t", " "), " ")
	annotation = strings.Join(strings.Fields(annotation), " ")
	name, classes, hasClasses := strings.Cut(head, ".")
	switch {
	case name == "":
		return errorf(c.line, "%s is not a tag; write &lt; for a less-than sign", quoteShort(raw))
	case c.srt && name != "i" && name != "b" && name != "u":
		return errorf(c.line, "the tag %s has no WebVTT equivalent; SRT files may use <i>, <b>, <u> and <font>", quoteShort(raw))
	case !webVTTTags[name]:
		return errorf(c.line, "the tag %s is not allowed; captions may use WebVTT's tags only: <c>, <i>, <b>, <u>, <ruby>, <rt>, <v> and <lang>", quoteShort(raw))
	case len(c.open) >= maxTagDepth:
		return errorf(c.line, "tags are nested more than %d deep", maxTagDepth)
	case name == "rt" && (len(c.open) == 0 || c.open[len(c.open)-1].name != "ruby"):
		return errorf(c.line, "<rt> must be directly inside <ruby>")
	}
	if hasClasses {
		for _, cl := range strings.Split(classes, ".") {
			if !className.MatchString(cl) {
				return errorf(c.line, "%s has a bad class name %s (letters, digits, - and _ only)", quoteShort(raw), quoteShort(cl))
			}
		}
	}
	switch name {
	case "lang":
		if !languageTag.MatchString(annotation) {
			return errorf(c.line, "%s needs a language tag, as in <lang en>", quoteShort(raw))
		}
	case "v":
		// A player that puts cue text into HTML would read name=value as
		// an attribute; a speaker's name has no "=".
		if strings.ContainsAny(annotation, `=<"`) {
			return errorf(c.line, `%s: a speaker's name cannot contain "=" or quotes; write <v Name>`, quoteShort(raw))
		}
		var err error
		if annotation, err = c.annotationText(annotation); err != nil {
			return err
		}
	default:
		if annotation != "" {
			return errorf(c.line, "%s: tags cannot have attributes; only <v> (a speaker) and <lang> (a language) take a word after the name", quoteShort(raw))
		}
	}
	c.open = append(c.open, openTag{name: name, line: c.line})
	c.out.WriteString("<" + head)
	if annotation != "" {
		c.out.WriteString(" " + annotation)
	}
	c.out.WriteString(">")
	return nil
}

// annotationText checks the character references of a <v> annotation.
func (c *textChecker) annotationText(a string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(a); {
		if a[i] != '&' {
			b.WriteByte(a[i])
			i++
			continue
		}
		ref, n, err := c.reference(a[i:])
		if err != nil {
			return "", err
		}
		b.WriteString(ref)
		i += n
	}
	return b.String(), nil
}

func isASCIILetter(b byte) bool { return (b|0x20) >= 'a' && (b|0x20) <= 'z' }

// PlainText is the cue's text for search and transcripts: markup removed,
// entities decoded (a no-break space becomes a space, direction marks go),
// lines joined by a space.
func (c Cue) PlainText() string {
	var b strings.Builder
	s := c.Payload
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				end = len(s) - i - 1
			}
			i += end + 1
		case '&':
			ref := entityLike.FindString(s[i:])
			if r, ok := entities[ref]; ok {
				b.WriteString(r)
				i += len(ref)
			} else {
				b.WriteByte('&')
				i++
			}
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
