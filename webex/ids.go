package webex

import (
	"strings"
	"time"
)

// IDKind says which of a series' meetings an id names.
type IDKind int

// The kinds of meeting ids.
const (
	// KindUnknown is an id this package cannot read.
	KindUnknown IDKind = iota
	// KindSeries is "<seriesID>", what POST /meetings returns.
	KindSeries
	// KindOccurrence is a scheduled meeting, "<seriesID>_<YYYYMMDDTHHMMSSZ>".
	KindOccurrence
	// KindInstance is a meeting that ran or runs, "<seriesID>_I_<digits>".
	KindInstance
)

// occurrenceLayout is the UTC start time in a scheduled meeting's id.
const occurrenceLayout = "20060102T150405Z"

// MeetingID is a meeting id taken apart.
type MeetingID struct {
	Kind   IDKind
	Series string
	// Start is the scheduled start of an occurrence.
	Start time.Time
	// Instance is the number of an instance.
	Instance string
}

// ParseMeetingID reads id as a series, occurrence or instance id. The
// result has KindUnknown when id has none of those shapes.
func ParseMeetingID(id string) MeetingID {
	series, rest, found := strings.Cut(id, "_")
	if !validSeries(series) {
		return MeetingID{}
	}
	if !found {
		return MeetingID{Kind: KindSeries, Series: series}
	}
	if n, ok := strings.CutPrefix(rest, "I_"); ok {
		if n == "" || strings.Trim(n, "0123456789") != "" {
			return MeetingID{}
		}
		return MeetingID{Kind: KindInstance, Series: series, Instance: n}
	}
	t, err := time.Parse(occurrenceLayout, rest)
	if err != nil {
		return MeetingID{}
	}
	return MeetingID{Kind: KindOccurrence, Series: series, Start: t}
}

// validSeries accepts the hex ids Webex gives series (letters and digits
// only, so the "_" separators are unambiguous).
func validSeries(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// SeriesID returns the series id of a series, occurrence or instance id,
// or "" when id is none of those.
func SeriesID(id string) string { return ParseMeetingID(id).Series }
