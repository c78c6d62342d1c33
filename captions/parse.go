package captions

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Parse reads a WebVTT or SRT file (told apart by the content), checks it
// against lim and the rules in the package comment and returns the track.
// Every error is a *ParseError.
func Parse(content []byte, lim Limits) (*Track, error) {
	lim = lim.withDefaults()
	if len(content) > lim.MaxBytes {
		return nil, &ParseError{Msg: fmt.Sprintf("the file is %s; a caption file may be at most %s", formatSize(len(content)), formatSize(lim.MaxBytes))}
	}
	content = bytes.TrimPrefix(content, []byte("\uFEFF"))
	if err := checkCharacters(content); err != nil {
		return nil, err
	}
	p := &parser{lines: newLineReader(string(content)), lim: lim, track: &Track{}}
	first, n := p.lines.peekNonBlank()
	switch {
	case n == 1 && isWebVTTSignature(first):
		if err := p.webVTT(); err != nil {
			return nil, err
		}
	case isSRTCounter(first) || strings.Contains(first, arrow):
		p.srt = true
		if err := p.srtFile(); err != nil {
			return nil, err
		}
	case n == 0:
		return nil, &ParseError{Msg: "the file is empty"}
	case isWebVTTSignature(first):
		return nil, errorf(n, `"WEBVTT" must be the file's very first line`)
	default:
		return nil, errorf(n, `this is not a caption file: a WebVTT file starts with "WEBVTT", an SRT file with a subtitle number`)
	}
	return p.track, nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxCues <= 0 {
		l.MaxCues = DefaultMaxCues
	}
	return l
}

const arrow = "-->"

func errorf(line int, format string, args ...any) *ParseError {
	return &ParseError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

func formatSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkCharacters refuses what is not UTF-8 text: an instructor who
// uploads a Latin-1 file or a video by mistake is told so at the line
// where it shows.
func checkCharacters(b []byte) error {
	line := 1
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return errorf(line, "the file is not UTF-8 text (save it as UTF-8)")
		case r == '\n':
			line++
		case r == '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				line++
			}
		case r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return errorf(line, "the file contains the control character U+%04X, which has no place in captions; is it a caption file?", r)
		}
		i += size
	}
	return nil
}

// lineReader hands out the lines of a file (ended by CRLF, LF or CR) with
// their 1-based numbers, without splitting the whole file up front.
type lineReader struct {
	s    string
	pos  int
	line int // number of the line last returned
}

func newLineReader(s string) *lineReader { return &lineReader{s: s} }

// next returns the next line and its number; ok is false at the end.
func (r *lineReader) next() (text string, n int, ok bool) {
	if r.pos >= len(r.s) {
		return "", r.line, false
	}
	rest := r.s[r.pos:]
	end := strings.IndexAny(rest, "\r\n")
	r.line++
	if end < 0 {
		r.pos = len(r.s)
		return rest, r.line, true
	}
	r.pos += end + 1
	if rest[end] == '\r' && end+1 < len(rest) && rest[end+1] == '\n' {
		r.pos++
	}
	return rest[:end], r.line, true
}

// peekNonBlank returns the first line that is not blank and its number
// (0 when there is none) without consuming anything.
func (r *lineReader) peekNonBlank() (string, int) {
	saved := *r
	defer func() { *r = saved }()
	for {
		l, n, ok := r.next()
		if !ok {
			return "", 0
		}
		if strings.TrimSpace(l) != "" {
			return l, n
		}
	}
}

// block is a run of non-blank lines; first is the number of its first.
type block struct {
	lines []string
	first int
}

func (b block) line(i int) int { return b.first + i }

// nextBlock skips blank lines and returns the next block; ok is false at
// the end of the file.
func (r *lineReader) nextBlock() (b block, ok bool) {
	for {
		l, n, ok := r.next()
		if !ok {
			return b, len(b.lines) > 0
		}
		if isBlank(l) {
			if len(b.lines) > 0 {
				return b, true
			}
			continue
		}
		if len(b.lines) == 0 {
			b.first = n
		}
		b.lines = append(b.lines, l)
	}
}

// isBlank: WebVTT's blocks end at an empty line; a line of spaces ends
// them too in practice (editors leave them), so it counts as empty.
func isBlank(l string) bool { return strings.TrimLeft(l, " \t") == "" }

func isWebVTTSignature(l string) bool {
	rest, ok := strings.CutPrefix(l, "WEBVTT")
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// isSRTCounter: an SRT block starts with its number.
func isSRTCounter(l string) bool { return allDigits(strings.TrimSpace(l)) }

type parser struct {
	lines *lineReader
	lim   Limits
	srt   bool
	track *Track
	// ids are the cue ids seen, and their lines: WebVTT wants them unique.
	ids map[string]int
}

// webVTT reads a WebVTT file after its first line was found to be the
// signature.
func (p *parser) webVTT() error {
	p.lines.next()
	// Header lines (before the first blank line) carry nothing we keep.
	for {
		l, n, ok := p.lines.next()
		if !ok || isBlank(l) {
			break
		}
		if strings.Contains(l, arrow) {
			return errorf(n, "a blank line must separate the WEBVTT line from the first cue")
		}
	}
	for {
		b, ok := p.lines.nextBlock()
		if !ok {
			return nil
		}
		if err := p.webVTTBlock(b); err != nil {
			return err
		}
	}
}

func (p *parser) webVTTBlock(b block) error {
	switch {
	case strings.Contains(b.lines[0], arrow):
		return p.cue(b, "", 0)
	case len(b.lines) > 1 && strings.Contains(b.lines[1], arrow):
		return p.cue(b, b.lines[0], 1)
	}
	first := strings.TrimRight(b.lines[0], " \t")
	kind, _, _ := strings.Cut(first, " ")
	kind, _, _ = strings.Cut(kind, "\t")
	switch kind {
	case "NOTE", "STYLE", "REGION":
	default:
		return errorf(b.first, `expected a cue, whose timing line reads like "00:01.000 --> 00:04.000", but found %s`, quoteShort(b.lines[0]))
	}
	for i, l := range b.lines {
		if strings.Contains(l, arrow) {
			return errorf(b.line(i), `a %s block cannot contain "-->"; is a blank line missing before a cue?`, kind)
		}
	}
	if kind == "NOTE" {
		return nil
	}
	if len(p.track.Cues) > 0 {
		return errorf(b.first, "a %s block must come before the first cue", kind)
	}
	if first != kind {
		return errorf(b.first, "the %s line must have nothing after %s", kind, kind)
	}
	if kind == "REGION" {
		return p.region(b)
	}
	// A STYLE block is dropped (see the package comment).
	return nil
}

// cue reads the cue in b whose timing line is b.lines[timing].
func (p *parser) cue(b block, id string, timing int) error {
	n := b.line(timing)
	if len(p.track.Cues) >= p.lim.MaxCues {
		return errorf(n, "the file has more than %d cues, the most a track may have", p.lim.MaxCues)
	}
	c := Cue{ID: strings.TrimSpace(id), Line: n}
	if c.ID != "" {
		if p.ids == nil {
			p.ids = map[string]int{}
		}
		switch first, seen := p.ids[c.ID]; {
		case seen && p.srt:
			c.ID = "" // a repeated subtitle number says nothing
		case seen:
			return errorf(b.first, "the cue id %s is already used at line %d; cue ids must be unique", quoteShort(c.ID), first)
		default:
			p.ids[c.ID] = b.first
		}
	}
	var err error
	if c.Start, c.End, c.Settings, err = p.timingLine(b.lines[timing], n); err != nil {
		return err
	}
	payload := b.lines[timing+1:]
	for i, l := range payload {
		if strings.Contains(l, arrow) {
			return errorf(b.line(timing+1+i), `cue text cannot contain "-->"; is a blank line missing before this cue?`)
		}
	}
	if c.Payload, err = checkText(payload, b.line(timing+1), c.Start, c.End, p.srt); err != nil {
		return err
	}
	if err := p.place(&c); err != nil {
		return err
	}
	p.track.Cues = append(p.track.Cues, c)
	return nil
}

// timingLine reads "start --> end [settings]".
func (p *parser) timingLine(l string, n int) (start, end time.Duration, settings string, err error) {
	rest := strings.TrimLeft(l, " \t")
	if start, rest, err = p.timestamp(rest, n); err != nil {
		return
	}
	rest = strings.TrimLeft(rest, " \t")
	var ok bool
	if rest, ok = strings.CutPrefix(rest, arrow); !ok {
		err = errorf(n, `expected "-->" after the cue's start %s`, formatTime(start))
		return
	}
	rest = strings.TrimLeft(rest, " \t")
	if end, rest, err = p.timestamp(rest, n); err != nil {
		return
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		err = errorf(n, "expected a space after the cue's end %s, found %s", formatTime(end), quoteShort(rest))
		return
	}
	if end <= start {
		err = errorf(n, "cue end %s is not after its start %s", formatTime(end), formatTime(start))
		return
	}
	if p.srt {
		// SRT's optional X1:… Y2: box coordinates have no WebVTT meaning.
		return start, end, "", nil
	}
	settings, err = cueSettings(rest, n, p.track.Regions)
	return
}

// place checks the cue's order and its times against the video's length,
// clamping an end that overruns it a little.
func (p *parser) place(c *Cue) error {
	if k := len(p.track.Cues); k > 0 && c.Start < p.track.Cues[k-1].Start {
		prev := p.track.Cues[k-1]
		return errorf(c.Line, "this cue starts at %s, before the cue at line %d (%s); cues must be in time order", formatTime(c.Start), prev.Line, formatTime(prev.Start))
	}
	// Cue times are whole milliseconds; so is the end a cue is clamped to.
	d := p.lim.Duration.Truncate(time.Millisecond)
	if d <= 0 {
		return nil
	}
	switch {
	case c.Start >= d:
		return errorf(c.Line, "this cue starts at %s, after the video ends (%s)", formatTime(c.Start), formatTime(d))
	case c.End > d+MaxOverrun:
		return errorf(c.Line, "this cue ends at %s, more than %s after the video ends (%s)", formatTime(c.End), MaxOverrun, formatTime(d))
	case c.End > d:
		c.End = d
	}
	return nil
}

// srtFile reads an SRT file: blocks of a counter line (which some tools
// leave out), a timing line with "," before the milliseconds, and text.
func (p *parser) srtFile() error {
	for {
		b, ok := p.lines.nextBlock()
		if !ok {
			return nil
		}
		var err error
		switch {
		case strings.Contains(b.lines[0], arrow):
			err = p.cue(b, "", 0)
		case isSRTCounter(b.lines[0]) && len(b.lines) > 1 && strings.Contains(b.lines[1], arrow):
			err = p.cue(b, b.lines[0], 1)
		default:
			err = errorf(b.first, `expected a subtitle number or a timing line like "00:00:01,000 --> 00:00:04,000", but found %s`, quoteShort(b.lines[0]))
		}
		if err != nil {
			return err
		}
	}
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", s)
}
