package captions

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// MediaTimeline is what Segment needs of a video's HLS rendition: its
// segments' lengths and where its timestamps start.
type MediaTimeline struct {
	// SegmentDurations are the media segments' lengths, in order (the
	// EXTINF values of a variant playlist).
	SegmentDurations []time.Duration
	// FirstPTS is the MPEG-TS presentation time, in 90 kHz ticks, of the
	// video's first frame: the instant the video's time 0 (and so cue time
	// 0) maps to. It is the video's and not the audio's: an AAC encoder's
	// first packet starts before time 0 (its priming samples, 21 ms at
	// 48 kHz), while caption times follow the pictures.
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

// SubtitlePlaylistName is what callers should name Segment's playlist: it
// goes in the same directory as the segment files, whose URIs in it are
// their bare names.
const SubtitlePlaylistName = "index.m3u8"

// maxPTS is where MPEG-TS's 33-bit timestamps wrap.
const maxPTS = 1 << 33

// Segment cuts the track into HLS WebVTT segments aligned to the media's
// segments and returns the subtitle media playlist (its segment URIs
// relative to it) and the segment files. Each segment starts with an
// X-TIMESTAMP-MAP that maps the media's first PTS to cue time 0, so cue
// times stay the track's own (RFC 8216 §3.5); a cue that spans a segment
// boundary is in both segments, as the RFC allows, and a cue past the last
// segment's end is in the last one. Segments without cues are written too:
// a player fetches every segment the playlist lists.
func Segment(t *Track, media MediaTimeline) (playlist []byte, files []File, err error) {
	durs := media.SegmentDurations
	if len(durs) == 0 {
		return nil, nil, errors.New("segment captions: the media has no segments")
	}
	if media.FirstPTS < 0 || media.FirstPTS >= maxPTS {
		return nil, nil, fmt.Errorf("segment captions: first PTS %d is not a 33-bit MPEG-TS time", media.FirstPTS)
	}
	starts := make([]time.Duration, len(durs))
	var at time.Duration
	target := media.TargetDuration
	for i, d := range durs {
		if d <= 0 {
			return nil, nil, fmt.Errorf("segment captions: media segment %d lasts %v", i, d)
		}
		starts[i] = at
		at += d
		if media.TargetDuration == 0 {
			target = max(target, int(math.Round(d.Seconds())), 1)
		}
	}

	// Each cue goes into every segment it overlaps: from the one holding
	// its start to the one holding the instant before its end.
	cues := make([][]Cue, len(durs))
	segmentAt := func(d time.Duration) int {
		return max(sort.Search(len(starts), func(i int) bool { return starts[i] > d })-1, 0)
	}
	for _, c := range t.Cues {
		for i := segmentAt(c.Start); i <= segmentAt(c.End-1); i++ {
			cues[i] = append(cues[i], c)
		}
	}

	var header bytes.Buffer
	fmt.Fprintf(&header, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n", media.FirstPTS)
	for _, r := range t.Regions {
		header.WriteString("\nREGION\n" + r.Settings + "\n")
	}
	var pl bytes.Buffer
	fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n", target)
	files = make([]File, len(durs))
	for i, d := range durs {
		var b bytes.Buffer
		b.Write(header.Bytes())
		for _, c := range cues[i] {
			b.WriteByte('\n')
			writeCue(&b, c)
		}
		// A blank line at the end, so a reader that runs the segments
		// together (ffmpeg 5.1's HLS demuxer) does not take the next
		// segment's header for the last cue's text.
		b.WriteByte('\n')
		files[i] = File{Name: fmt.Sprintf("seg_%05d.vtt", i), Data: b.Bytes()}
		fmt.Fprintf(&pl, "#EXTINF:%.6f,\n%s\n", d.Seconds(), files[i].Name)
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	return pl.Bytes(), files, nil
}
