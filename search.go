package edustream

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Search finds courses, lectures and moments of lectures: it matches the
// titles and descriptions of courses and lectures and the text of their
// READY caption tracks, and returns hits a student can click, a caption
// hit with the second the cue starts at.

// MaxSearchQueryLength bounds a query, in characters: enough for a
// sentence, short of a pasted page.
const MaxSearchQueryLength = 200

// MaxSearchHits bounds what one query ranks: the engine picks the best
// this many matches, and the hits, pages and totals are taken from those.
// A common word matches a good part of a million caption cues; nobody
// pages through more than this, and ranking them all would cost the time
// of every search.
const MaxSearchHits = 1000

// SnippetWidth is about how many characters of text a hit's snippet shows.
const SnippetWidth = 160

// SearchQuery is one page of a search.
type SearchQuery struct {
	// Text is what the user typed (see ValidateSearchText).
	Text string
	// AllDrafts and DraftsOf widen what the caller sees exactly as the
	// catalog does (see CatalogFilter): admins see every draft course,
	// instructors their own; everyone sees published courses, and nobody
	// a deleted one.
	AllDrafts bool
	DraftsOf  int64
	// Offset is how many hits earlier pages held; Limit the page size.
	Offset, Limit int
}

// SearchHit is one match: a course (LectureID 0), a lecture (At nil) or a
// cue of a lecture's caption track.
type SearchHit struct {
	CourseID  int64
	LectureID int64
	// At is where the matching cue starts; nil for a title or description.
	At *time.Duration
	// Snippet is HTML: the matching text around the first match, matches in
	// <mark>…</mark>, the rest escaped (see fulltext.Snippet).
	Snippet string
}

// SearchResult is one page of hits, best first.
type SearchResult struct {
	Hits []SearchHit
	// Total counts the hits the caller may see among the best
	// MaxSearchHits matches, on all pages.
	Total   int
	HasMore bool
}

// SearchService searches what the storage holds, keeping its index in step
// with every write of courses, lectures and captions.
//
// Order: hits whose title matches first, then by the engine's relevance,
// then by course id, lecture position and cue start, so pages are stable
// while nothing is written. At most MaxSearchHits matches are ranked. Every term of the query must match (the last
// one also as a prefix, when it has three characters or more).
type SearchService interface {
	// Search returns one page of hits. A query without a searchable term
	// (only punctuation or operators) finds nothing; EINVALID for bad text
	// (see ValidateSearchText) or a negative offset or limit.
	Search(ctx context.Context, q SearchQuery) (*SearchResult, error)
}

// ValidateSearchText checks what a user typed into the search box and
// returns it trimmed: EINVALID when it is empty, longer than
// MaxSearchQueryLength characters or not UTF-8.
func ValidateSearchText(text string) (string, error) {
	if !utf8.ValidString(text) {
		return "", Errorf(EINVALID, "search query must be valid UTF-8")
	}
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return "", Errorf(EINVALID, "search query must not be empty")
	}
	if n := utf8.RuneCountInString(trimmed); n > MaxSearchQueryLength {
		return "", Errorf(EINVALID, "search query must be at most %d characters, got %d", MaxSearchQueryLength, n)
	}
	return trimmed, nil
}
