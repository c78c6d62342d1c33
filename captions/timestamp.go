package captions

import (
	"fmt"
	"time"
)

// maxHourDigits bounds a timestamp's hours: 99,999 hours is far past any
// video and far from overflowing a time.Duration.
const maxHourDigits = 5

// timestamp reads a timestamp at the start of s: [hh…:]mm:ss.ttt (with
// "," instead of "." in SRT) and returns it and what follows.
func (p *parser) timestamp(s string, line int) (time.Duration, string, error) {
	d, rest, ok := parseTimestamp(s, p.srt)
	if ok {
		return d, rest, nil
	}
	tok := s
	for i, c := range s {
		if c == ' ' || c == '\t' {
			tok = s[:i]
			break
		}
	}
	if !p.srt && len(tok) > 4 && tok[len(tok)-4] == ',' {
		return 0, "", errorf(line, `%s: a WebVTT timestamp has "." before the milliseconds, not ","`, quoteShort(tok))
	}
	if tok == "" {
		return 0, "", errorf(line, "a timestamp is missing; write hh:mm:ss.ttt or mm:ss.ttt")
	}
	return 0, "", errorf(line, "%s is not a valid timestamp; write hh:mm:ss.ttt or mm:ss.ttt (minutes and seconds below 60)", quoteShort(tok))
}

// parseTimestamp is the WebVTT timestamp syntax. The first number is the
// hours when it is not two digits or above 59, or when three numbers follow
// (the WebVTT parser's rule).
func parseTimestamp(s string, srt bool) (d time.Duration, rest string, ok bool) {
	first, s, n := digits(s)
	if n == 0 || n > maxHourDigits {
		return 0, "", false
	}
	var h, m, sec int64
	hours := n != 2 || first > 59
	if len(s) == 0 || s[0] != ':' {
		return 0, "", false
	}
	second, s, n := digits(s[1:])
	if n != 2 {
		return 0, "", false
	}
	if hours || (len(s) > 0 && s[0] == ':') {
		if len(s) == 0 || s[0] != ':' {
			return 0, "", false
		}
		var third int64
		if third, s, n = digits(s[1:]); n != 2 {
			return 0, "", false
		}
		h, m, sec = first, second, third
	} else {
		m, sec = first, second
	}
	if len(s) == 0 || !(s[0] == '.' || (srt && s[0] == ',')) {
		return 0, "", false
	}
	ms, s, n := digits(s[1:])
	if n != 3 || m > 59 || sec > 59 {
		return 0, "", false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond, s, true
}

// digits reads the ASCII digits at the start of s: their value (up to
// 18 digits), the rest and how many there were.
func digits(s string) (v int64, rest string, n int) {
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		if n < 18 {
			v = v*10 + int64(s[n]-'0')
		}
		n++
	}
	return v, s[n:], n
}

// formatTime writes d as WebVTT does, hh:mm:ss.ttt; it is also how error
// messages show times.
func formatTime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
