package edustream

import (
	"context"
	"time"
)

// The media tools the chain runs. The ffmpeg package implements them with
// ffmpeg and ffprobe on the worker; each works on local files, since the
// workers download the source into a temporary directory first.

// Prober reads what a source file is.
type Prober interface {
	// Probe inspects the file at path and refuses anything that is not a
	// single plain video file: EINVALID with a reason a person can act on
	// ("not a video file", "a playlist, not a video file"). It does not
	// apply VideoLimits; the caller does.
	Probe(ctx context.Context, path string) (*MediaInfo, error)
}

// TranscodeProgress is how far a transcode has got.
type TranscodeProgress struct {
	// Fraction is 0..1 of the source's duration encoded so far.
	Fraction float64
	// Speed is the encoder's speed relative to real time (2 = twice as
	// fast as playback); 0 while unknown.
	Speed float64
	// ETA is the time the rest should take at this speed; 0 while unknown.
	ETA time.Duration
}

// Transcoder turns a source into an HLS ladder.
type Transcoder interface {
	// Transcode writes into dir the master playlist (MasterPlaylistName)
	// and, per rendition of ladder, "<name>/index.m3u8" with its segments.
	// progress is called as the work goes on (throttling is the caller's).
	// EINVALID when the source turns out to be broken; other errors may be
	// retried.
	Transcode(ctx context.Context, src string, info *MediaInfo, ladder []Rendition, dir string, progress func(TranscodeProgress)) error
}

// Thumbnailer makes the still images of a video.
type Thumbnailer interface {
	// Thumbnails writes into dir a poster (PosterFileName) and a storyboard:
	// a sprite of small frames (StoryboardSpriteFileName) and a WebVTT
	// thumbnails track (StoryboardVTTFileName) whose cues point into the
	// sprite with #xywh fragments relative to the sprite's file name.
	Thumbnails(ctx context.Context, src string, info *MediaInfo, dir string) error
}

// File names the Thumbnailer writes.
const (
	PosterFileName           = "poster.jpg"
	StoryboardSpriteFileName = "storyboard.jpg"
	StoryboardVTTFileName    = "storyboard.vtt"
)

// ErrNoMediaTools is why a step that needs ffmpeg fails on a worker
// without it. EINVALID, so the video fails for good with this reason
// instead of waiting for a worker that will never come.
var ErrNoMediaTools = Errorf(EINVALID, "ffmpeg is not installed on the worker")

// MediaTools bundles what the workers run on media.
type MediaTools interface {
	Prober
	Transcoder
	Thumbnailer
	AudioExtractor
}
