// Package captionfiles is the domain's CaptionFormat on top of package
// captions (the WebVTT and SRT parser, the HLS segmenter): it finds the
// media timeline of a video's stream in the blob store, and turns the
// parser's errors into the domain's.
package captionfiles

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captions"
)

// Format implements edustream.CaptionFormat.
type Format struct {
	// Blobs holds the videos' streams, whose timelines the segments follow.
	Blobs edustream.BlobStore
}

var _ edustream.CaptionFormat = (*Format)(nil)

// ParseCaptions validates a WebVTT or SRT file within the domain's limits:
// EINVALID with the parser's message, which names the line.
func (f *Format) ParseCaptions(content []byte, duration time.Duration) (*edustream.CaptionTrack, error) {
	t, err := captions.Parse(content, limits(duration))
	if err != nil {
		var pe *captions.ParseError
		if errors.As(err, &pe) {
			return nil, edustream.Errorf(edustream.EINVALID, "the caption file is not valid: %s", pe.Error())
		}
		return nil, err
	}
	out := &edustream.CaptionTrack{WebVTT: t.WebVTT(), Cues: make([]edustream.CaptionCue, len(t.Cues))}
	for i, c := range t.Cues {
		out.Cues[i] = edustream.CaptionCue{Start: c.Start, End: c.End, Text: c.PlainText()}
	}
	return out, nil
}

func limits(duration time.Duration) captions.Limits {
	return captions.Limits{MaxBytes: edustream.MaxCaptionBytes, MaxCues: edustream.MaxCaptionCues, Duration: duration}
}

// SegmentCaptions cuts a normalised track into v's HLS subtitle playlist
// and segments, on the timeline of v's stream: the published one, or for
// a video still in the chain, the transcode's outputs.
func (f *Format) SegmentCaptions(ctx context.Context, v *edustream.Video, webvtt []byte) (map[string][]byte, error) {
	t, err := captions.Parse(webvtt, limits(0))
	if err != nil {
		return nil, fmt.Errorf("read back a normalised track: %w", err)
	}
	timeline, err := f.timeline(ctx, v)
	if err != nil {
		return nil, err
	}
	playlist, files, err := captions.Segment(t, timeline)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files)+1)
	for _, file := range files {
		out[file.Name] = file.Data
	}
	out[edustream.CaptionPlaylistName] = playlist
	return out, nil
}

// timeline reads the media timeline of v's first variant: its playlist's
// segment lengths and the first PTS of its first segment.
func (f *Format) timeline(ctx context.Context, v *edustream.Video) (captions.MediaTimeline, error) {
	var none captions.MediaTimeline
	prefix := v.HLSPrefix()
	master, err := f.read(ctx, prefix+edustream.MasterPlaylistName, maxPlaylistBytes)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		prefix = v.WorkPrefix()
		master, err = f.read(ctx, prefix+edustream.MasterPlaylistName, maxPlaylistBytes)
	}
	if err != nil {
		return none, fmt.Errorf("read the master playlist of video %d: %w", v.ID, err)
	}
	variantName, ok := firstURI(master)
	if !ok {
		return none, fmt.Errorf("the master playlist of video %d names no variant", v.ID)
	}
	variantKey := path.Clean(prefix + variantName)
	variant, err := f.read(ctx, variantKey, maxPlaylistBytes)
	if err != nil {
		return none, fmt.Errorf("read %s: %w", variantKey, err)
	}
	segmentName, ok := firstURI(variant)
	if !ok {
		return none, fmt.Errorf("%s names no segment", variantKey)
	}
	segmentKey := path.Clean(path.Dir(variantKey) + "/" + segmentName)
	if !strings.HasPrefix(segmentKey, edustream.VideoPrefix(v.ID)) {
		return none, fmt.Errorf("%s names %q outside its video", variantKey, segmentName)
	}
	segment, err := f.read(ctx, segmentKey, maxSegmentBytes)
	if err != nil {
		return none, fmt.Errorf("read %s: %w", segmentKey, err)
	}
	return captions.ReadMediaTimeline(variant, segment)
}

// Bounds of what is read: a 4-hour rendition's playlist is about 200 KB;
// the first PTS is in the first packets of a segment.
const (
	maxPlaylistBytes = 8 << 20
	maxSegmentBytes  = 1 << 20
)

// read returns up to limit bytes of key.
func (f *Format) read(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, err := f.Blobs.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

// firstURI returns the first URI line of an HLS playlist.
func firstURI(playlist []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(playlist))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			return line, true
		}
	}
	return "", false
}
