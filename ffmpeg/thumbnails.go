package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the sprite's size is read back
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edustream/edustream"
)

// Poster and storyboard geometry.
const (
	// posterAt is where the poster is taken, as a share of the duration:
	// past the opening black or title card, early enough to be the topic.
	posterAt       = 0.10
	posterMaxWidth = 1280
	// tileWidth is the width of a storyboard frame, what players show
	// above the seek bar.
	tileWidth = 160
	// maxTiles bounds the sprite: a 4-hour lecture gets a frame every
	// 2m24s instead of a sprite too large to download on hover.
	maxTiles    = 100
	spriteWidth = 10 // tiles per row
)

// Thumbnails implements edustream.Thumbnailer. One ffmpeg process makes
// both images: the poster from a seek to 10 % of the video, the sprite from
// one pass over it. The WebVTT track is written from the same layout and
// checked against the sprite's real size.
func (t *Tools) Thumbnails(ctx context.Context, src string, info *edustream.MediaInfo, dir string) error {
	if t.err != nil {
		return t.err
	}
	src, dir, err := absPaths(src, dir)
	if err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	if info == nil {
		if info, err = t.Probe(ctx, src); err != nil {
			return err
		}
	}
	if info.DurationSeconds <= 0 || info.Width <= 0 || info.Height <= 0 {
		return edustream.Errorf(edustream.EINVALID, "the video has no duration or no picture size")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	for _, name := range []string{edustream.PosterFileName, edustream.StoryboardSpriteFileName, edustream.StoryboardVTTFileName} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("thumbnails: %w", err)
		}
	}

	sb := storyboardLayout(info.DurationSeconds, info.Width, info.Height)
	if _, err := t.run(ctx, proc{bin: t.ffmpeg, args: thumbnailArgs(src, info, sb, dir), dir: dir}); err != nil {
		return t.failure(ctx, "thumbnails", err, "making the thumbnails", src, dir)
	}
	for _, name := range []string{edustream.PosterFileName, edustream.StoryboardSpriteFileName} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			// ffmpeg wrote nothing and said nothing: no frame decoded.
			return edustream.Errorf(edustream.EINVALID, "no picture could be decoded from the video")
		}
	}
	w, h, err := imageSize(filepath.Join(dir, edustream.StoryboardSpriteFileName))
	if err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	if w != sb.cols*sb.tileW || h != sb.rows*sb.tileH {
		return fmt.Errorf("thumbnails: sprite is %dx%d, want %dx%d", w, h, sb.cols*sb.tileW, sb.rows*sb.tileH)
	}
	vtt := sb.vtt(edustream.StoryboardSpriteFileName, info.DurationSeconds)
	if err := writeFileAtomic(filepath.Join(dir, edustream.StoryboardVTTFileName), []byte(vtt)); err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	return nil
}

// storyboard is the layout of the sprite: count tiles of tileW×tileH, one
// every interval seconds, in rows of cols.
type storyboard struct {
	interval     int
	count        int
	cols, rows   int
	tileW, tileH int
}

// storyboardLayout lays out the sprite of a video: a whole number of
// seconds between frames, so that there are at most maxTiles; frames keep
// the displayed aspect ratio.
func storyboardLayout(duration float64, width, height int) storyboard {
	sb := storyboard{interval: max(1, int(math.Ceil(duration/maxTiles)))}
	// A frame per whole interval that has started; the last cue runs on
	// to the end, so no tile stands for a moment past the last frame.
	sb.count = max(1, int(duration/float64(sb.interval)))
	sb.cols = min(sb.count, spriteWidth)
	sb.rows = (sb.count + sb.cols - 1) / sb.cols
	sb.tileW = tileWidth
	sb.tileH = evenUp(int(math.Round(float64(tileWidth) * float64(height) / float64(width))))
	return sb
}

// vtt is the WebVTT thumbnails track: cue i covers [i, i+1) intervals (the
// last up to the end) and points at tile i of sprite.
func (sb storyboard) vtt(sprite string, duration float64) string {
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	for i := range sb.count {
		start := float64(i * sb.interval)
		end := float64((i + 1) * sb.interval)
		if i == sb.count-1 {
			end = duration
		}
		x, y := (i%sb.cols)*sb.tileW, (i/sb.cols)*sb.tileH
		fmt.Fprintf(&b, "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n", vttTime(start), vttTime(end), sprite, x, y, sb.tileW, sb.tileH)
	}
	return b.String()
}

// vttTime formats seconds as WebVTT's hh:mm:ss.ttt.
func vttTime(s float64) string {
	ms := int64(math.Round(s * 1000))
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// thumbnailArgs is the ffmpeg command line for the poster and the sprite.
// The same file is opened twice: a seek for the poster costs a few frames,
// and the sprite needs every frame decoded once. Two filter graphs, so the
// poster's input is not read on once its frame is out.
func thumbnailArgs(src string, info *edustream.MediaInfo, sb storyboard, dir string) []string {
	pw := min(evenUp(info.Width), posterMaxWidth)
	ph := evenUp(int(math.Round(float64(pw) * float64(info.Height) / float64(info.Width))))
	at := strconv.FormatFloat(info.DurationSeconds*posterAt, 'f', 3, 64)

	args := globalArgs()
	args = append(args, "-ss", at)
	args = append(args, inputArgs(src)...)
	args = append(args, inputArgs(src)...)
	args = append(args,
		"-filter_complex", fmt.Sprintf("[0:V:0]scale=%d:%d,setsar=1[poster]", pw, ph),
		// fps first, so only the frames kept are scaled.
		"-filter_complex", fmt.Sprintf("[1:V:0]fps=1/%d,scale=%d:%d,setsar=1,tile=%dx%d[sprite]", sb.interval, sb.tileW, sb.tileH, sb.cols, sb.rows),
		"-map", "[poster]", "-frames:v", "1", "-q:v", "3", "-update", "1")
	args = append(args, outputArgs(filepath.Join(dir, edustream.PosterFileName))...)
	args = append(args, "-map", "[sprite]", "-frames:v", "1", "-q:v", "5", "-update", "1")
	args = append(args, outputArgs(filepath.Join(dir, edustream.StoryboardSpriteFileName))...)
	return args
}

// imageSize reads the pixel size of an image file.
func imageSize(path string) (int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return cfg.Width, cfg.Height, nil
}

// evenUp rounds n up to an even number of at least 2, as yuv420p needs.
func evenUp(n int) int {
	if n%2 != 0 {
		n++
	}
	return max(n, 2)
}
