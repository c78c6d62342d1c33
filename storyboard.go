package edustream

import (
	"fmt"
	"math"
	"strings"
)

// Poster and storyboard geometry, the same whichever tool makes them: an
// external transcoder is asked for frame captures at these sizes and times
// (see TranscodeService), and the thumbnails step lays them out with
// Storyboard. The ffmpeg package lays out its own sprite with them too.
const (
	// PosterAt is where the poster is taken, as a share of the duration:
	// past the opening black or title card, early enough to be the topic.
	PosterAt = 0.10
	// PosterMaxWidth bounds the poster; smaller sources keep their width.
	PosterMaxWidth = 1280
	// StoryboardTileWidth is the width of a storyboard frame, what players
	// show above the seek bar.
	StoryboardTileWidth = 160
	// StoryboardMaxTiles bounds the sprite: a 4-hour lecture gets a frame
	// every 2m24s instead of a sprite too large to download on hover.
	StoryboardMaxTiles = 100
	// StoryboardColumns is the number of tiles per row of the sprite.
	StoryboardColumns = 10
)

// PosterSize returns the poster's size for a picture of width×height: at
// most PosterMaxWidth wide, the aspect ratio kept, both sides even.
func PosterSize(width, height int) (int, int) {
	w := min(even(width), PosterMaxWidth)
	return w, even(int(math.Round(float64(w) * float64(height) / float64(width))))
}

// Storyboard is the layout of a storyboard sprite: Count tiles of
// TileWidth×TileHeight, one every Interval seconds, in rows of Cols.
type Storyboard struct {
	Interval              int
	Count                 int
	Cols, Rows            int
	TileWidth, TileHeight int
}

// StoryboardFor lays out the sprite of a video: a whole number of seconds
// between frames, so that there are at most StoryboardMaxTiles; frames keep
// the displayed aspect ratio.
func StoryboardFor(durationSeconds float64, width, height int) Storyboard {
	sb := Storyboard{
		Interval:   max(1, int(math.Ceil(durationSeconds/StoryboardMaxTiles))),
		TileWidth:  StoryboardTileWidth,
		TileHeight: even(int(math.Round(float64(StoryboardTileWidth) * float64(height) / float64(max(width, 1))))),
	}
	// A frame per whole interval that has started; the last cue runs on to
	// the end, so no tile stands for a moment past the last frame.
	return sb.WithCount(max(1, int(durationSeconds/float64(sb.Interval))))
}

// WithCount returns the layout for n tiles at the same interval and size,
// for when fewer frames exist than the duration promised.
func (sb Storyboard) WithCount(n int) Storyboard {
	sb.Count = max(n, 1)
	sb.Cols = min(sb.Count, StoryboardColumns)
	sb.Rows = (sb.Count + sb.Cols - 1) / sb.Cols
	return sb
}

// TileAt returns the top-left corner of tile i in the sprite.
func (sb Storyboard) TileAt(i int) (x, y int) {
	return (i % sb.Cols) * sb.TileWidth, (i / sb.Cols) * sb.TileHeight
}

// VTT is the WebVTT thumbnails track: cue i covers [i, i+1) intervals (the
// last up to the end) and points at tile i of sprite with a #xywh fragment.
func (sb Storyboard) VTT(sprite string, durationSeconds float64) string {
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	for i := range sb.Count {
		start := float64(i * sb.Interval)
		end := float64((i + 1) * sb.Interval)
		if i == sb.Count-1 {
			end = max(durationSeconds, start)
		}
		x, y := sb.TileAt(i)
		fmt.Fprintf(&b, "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n", vttTime(start), vttTime(end), sprite, x, y, sb.TileWidth, sb.TileHeight)
	}
	return b.String()
}

// vttTime formats seconds as WebVTT's hh:mm:ss.ttt.
func vttTime(s float64) string {
	ms := int64(math.Round(s * 1000))
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
