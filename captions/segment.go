package captions

import (
	"errors"
	"time"
)

// MediaTimeline is what Segment needs of a video's HLS rendition: its
// segments' lengths and where its timestamps start.
type MediaTimeline struct {
	// SegmentDurations are the media segments' lengths, in order (the
	// EXTINF values of a variant playlist).
	SegmentDurations []time.Duration
	// FirstPTS is the MPEG-TS presentation time of the media's first
	// sample, in 90 kHz ticks: the instant the video's time 0 maps to.
	FirstPTS int64
	// TargetDuration is the media playlist's EXT-X-TARGETDURATION in
	// seconds (0: computed from SegmentDurations).
	TargetDuration int
}

// File is one file Segment writes; Name is relative to the playlist.
type File struct {
	Name string
	Data []byte
}

// Segment cuts the track into HLS WebVTT segments aligned to the media's
// segments, each starting with an X-TIMESTAMP-MAP that maps the media's
// first PTS to cue time 0, and returns the subtitle media playlist (its
// segment URIs relative to it) and the segment files. Cue times stay the
// track's own; a cue that spans a segment boundary is in both segments.
func Segment(t *Track, media MediaTimeline) (playlist []byte, files []File, err error) {
	return nil, nil, errors.New("not implemented yet")
}

// ReadMediaTimeline reads the media timeline of a rendition from its
// variant playlist and the bytes of its first MPEG-TS segment.
func ReadMediaTimeline(variantPlaylist, firstSegment []byte) (MediaTimeline, error) {
	return MediaTimeline{}, errors.New("not implemented yet")
}
