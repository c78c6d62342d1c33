package captions

import (
	"bytes"
	"strings"
)

// WebVTT is the track as a normalised WebVTT file: the "WEBVTT" line, the
// regions, and each cue with hh:mm:ss.ttt times. Parse reads it back to
// the same track.
func (t *Track) WebVTT() []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	for _, r := range t.Regions {
		b.WriteString("\nREGION\n" + r.Settings + "\n")
	}
	for _, c := range t.Cues {
		b.WriteByte('\n')
		writeCue(&b, c)
	}
	return b.Bytes()
}

// writeCue writes one cue block, without the blank line that separates it
// from the one before.
func writeCue(b *bytes.Buffer, c Cue) {
	if c.ID != "" {
		b.WriteString(c.ID + "\n")
	}
	b.WriteString(formatTime(c.Start) + " --> " + formatTime(c.End))
	if c.Settings != "" {
		b.WriteString(" " + c.Settings)
	}
	b.WriteByte('\n')
	if c.Payload != "" {
		b.WriteString(c.Payload + "\n")
	}
}

// cueTextEscaper makes plain text safe as cue text.
var cueTextEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// EscapeText turns plain text (a speech engine's words) into cue text that
// Parse accepts and shows as written: &, < and > escaped, blank lines
// (which would end the cue) and surrounding space removed.
func EscapeText(s string) string {
	var lines []string
	for l := range strings.Lines(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, cueTextEscaper.Replace(l))
		}
	}
	return strings.Join(lines, "\n")
}
