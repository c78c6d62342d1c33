package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the sprite's size is read back
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edustream/edustream"
)

// Thumbnails implements edustream.Thumbnailer. One ffmpeg process makes
// both images: the poster from a seek to 10 % of the video, the sprite from
// one pass over it. The WebVTT track is written from the same layout and
// checked against the sprite's real size. src is a video file, or the URL
// of a rendition's HLS playlist on the worker's loopback.
func (t *Tools) Thumbnails(ctx context.Context, src string, info *edustream.MediaInfo, dir string) error {
	if t.err != nil {
		return t.err
	}
	var err error
	if isURL(src) {
		dir, err = filepath.Abs(dir)
	} else {
		src, dir, err = absPaths(src, dir)
	}
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

	sb := edustream.StoryboardFor(info.DurationSeconds, info.Width, info.Height)
	if _, err := t.run(ctx, proc{bin: t.ffmpeg, args: t.thumbnailArgs(src, info, sb, dir), dir: dir, cpu: t.cpuLimit(info.DurationSeconds)}); err != nil {
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
	if w != sb.Cols*sb.TileWidth || h != sb.Rows*sb.TileHeight {
		return fmt.Errorf("thumbnails: sprite is %dx%d, want %dx%d", w, h, sb.Cols*sb.TileWidth, sb.Rows*sb.TileHeight)
	}
	vtt := sb.VTT(edustream.StoryboardSpriteFileName, info.DurationSeconds)
	if err := writeFileAtomic(filepath.Join(dir, edustream.StoryboardVTTFileName), []byte(vtt)); err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	return nil
}

// thumbnailArgs is the ffmpeg command line for the poster and the sprite.
// The same file is opened twice: a seek for the poster costs a few frames,
// and the sprite needs every frame decoded once. Two filter graphs, so the
// poster's input is not read on once its frame is out.
func (t *Tools) thumbnailArgs(src string, info *edustream.MediaInfo, sb edustream.Storyboard, dir string) []string {
	pw, ph := edustream.PosterSize(info.Width, info.Height)
	at := strconv.FormatFloat(info.DurationSeconds*edustream.PosterAt, 'f', 3, 64)

	input := t.inputArgs
	if isURL(src) && strings.HasSuffix(src, ".m3u8") {
		input = renditionInputArgs
	}
	args := globalArgs()
	args = append(args, "-ss", at)
	args = append(args, input(src)...)
	args = append(args, input(src)...)
	args = append(args,
		"-filter_complex", fmt.Sprintf("[0:V:0]scale=%d:%d,setsar=1[poster]", pw, ph),
		// fps first, so only the frames kept are scaled.
		"-filter_complex", fmt.Sprintf("[1:V:0]fps=1/%d,scale=%d:%d,setsar=1,tile=%dx%d[sprite]", sb.Interval, sb.TileWidth, sb.TileHeight, sb.Cols, sb.Rows),
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
