// Package captions reads, checks and writes caption files: WebVTT (W3C
// WebVTT) and SRT in, normalised WebVTT out, cut into HLS WebVTT segments
// that line up with a video's media segments, and announced in its master
// playlist. It knows nothing of databases or GraphQL; what it refuses is a
// *ParseError that reads well to the instructor who uploaded the file.
//
// Decisions the WebVTT spec leaves to us, or that we make stricter than it:
//   - Only UTF-8 (a BOM is allowed); NUL, other C0 and C1 controls and DEL
//     are refused, since no caption needs them and they break players and
//     search.
//   - The header's text and header lines after "WEBVTT" (e.g. YouTube's
//     "Kind:"/"Language:") and NOTE blocks are dropped. STYLE blocks are
//     dropped too: their CSS would restyle (or hide) the player's text, and
//     the track's look is the player's business. REGION blocks are checked
//     and kept, as cues may point at them.
//   - Cue ids must be unique (a repeated SRT number is dropped instead).
//   - Cues must be in start order with end > start; a cue that ends up to
//     MaxOverrun past the video's end is clamped to it, later than that
//     (or one that starts after the end) is an error.
//   - Cue text may hold only WebVTT's own tags (c, i, b, u, ruby, rt, v,
//     lang and timestamps) with classes, balanced, and only WebVTT's
//     entities (&amp; &lt; &gt; &lrm; &rlm; &nbsp;); an annotation is only
//     for v (the speaker) and lang (the language). A bare "&" is taken as
//     text and written back as &amp;.
//   - SRT: <i>, <b>, <u> carry over; <font …> tags are removed (keeping
//     their text) since subtitle editors add them everywhere and their
//     colours are not WebVTT's; ASS overrides like {\an8} are removed; any
//     other tag is an error. A "<" that starts no tag and a "&" are text.
package captions

import (
	"fmt"
	"time"
)

// Defaults of Limits. A three-hour lecture captioned densely has about
// 5,000 cues of under 100 bytes.
const (
	DefaultMaxBytes = 4 << 20
	DefaultMaxCues  = 30000
	// MaxOverrun is how far past the video's end a cue may end before it
	// is an error rather than clamped: caption tools round the last cue's
	// end up, and a video's duration is itself rounded.
	MaxOverrun = time.Second
)

// Limits bound what Parse accepts. Zero fields take the defaults.
type Limits struct {
	// MaxBytes is the largest file accepted (0: DefaultMaxBytes).
	MaxBytes int
	// MaxCues is the most cues a track may have (0: DefaultMaxCues).
	MaxCues int
	// Duration is the video's length; cues must fit in it (see MaxOverrun).
	// 0 means unknown: only the order of cues is checked.
	Duration time.Duration
}

// ParseError is why Parse refused a file.
type ParseError struct {
	// Line is the 1-based line it is about, 0 for the whole file.
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line <= 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Track is a parsed caption file.
type Track struct {
	// Regions are the file's REGION definitions, which cues refer to by id.
	Regions []Region
	Cues    []Cue
}

// Region is a WebVTT region definition: its settings, checked and
// normalised ("id:fred width:40% lines:3 …").
type Region struct {
	ID       string
	Settings string
}

// Cue is one cue of a track.
type Cue struct {
	// ID is the cue's identifier, if it has one (SRT's counter becomes it).
	ID         string
	Start, End time.Duration
	// Settings are the cue settings, checked and normalised
	// ("align:start line:90%"), or "".
	Settings string
	// Payload is the cue text as WebVTT, its lines joined by "\n", with
	// only WebVTT's tags and entities.
	Payload string
	// Line is where the cue's timing line is in the file Parse read.
	Line int
}
