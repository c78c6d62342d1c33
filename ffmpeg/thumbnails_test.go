package ffmpeg

import (
	"bufio"
	"context"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/edustream/edustream"
)

// cue is one WebVTT cue of a thumbnails track.
type cue struct {
	start, end float64
	file       string
	x, y, w, h int
}

var (
	cueTimingRE = regexp.MustCompile(`^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})$`)
	xywhRE      = regexp.MustCompile(`^([^#\s]+)#xywh=(\d+),(\d+),(\d+),(\d+)$`)
)

// parseVTT parses a WebVTT thumbnails track strictly: the header, then
// blocks of a timing line and one payload line, separated by blank lines.
func parseVTT(t *testing.T, path string) []cue {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() || sc.Text() != "WEBVTT" {
		t.Fatalf("%s does not start with WEBVTT", path)
	}
	seconds := func(m []string) float64 {
		h, _ := strconv.Atoi(m[0])
		mi, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		ms, _ := strconv.Atoi(m[3])
		return float64(h*3600+mi*60+s) + float64(ms)/1000
	}
	var cues []cue
	for sc.Scan() {
		if sc.Text() != "" {
			t.Fatalf("want a blank line between cues, got %q", sc.Text())
		}
		if !sc.Scan() {
			t.Fatal("blank line at the end")
		}
		m := cueTimingRE.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("bad cue timing %q", sc.Text())
		}
		c := cue{start: seconds(m[1:5]), end: seconds(m[5:9])}
		if !sc.Scan() {
			t.Fatal("cue without payload")
		}
		p := xywhRE.FindStringSubmatch(sc.Text())
		if p == nil {
			t.Fatalf("bad cue payload %q", sc.Text())
		}
		c.file = p[1]
		c.x, _ = strconv.Atoi(p[2])
		c.y, _ = strconv.Atoi(p[3])
		c.w, _ = strconv.Atoi(p[4])
		c.h, _ = strconv.Atoi(p[5])
		cues = append(cues, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cues
}

func decodeJPEG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// meanLuma is the average brightness (0..255) of r in img.
func meanLuma(img image.Image, r image.Rectangle) float64 {
	var sum float64
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			sum += (0.299*float64(cr) + 0.587*float64(cg) + 0.114*float64(cb)) / 257
			n++
		}
	}
	return sum / float64(n)
}

func TestThumbnails(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	tests := []struct {
		name               string
		clip               clip
		posterW, posterH   int
		tiles, cols, tileH int
	}{
		{"720p", clip{width: 1280, height: 720, seconds: 10, audio: true}, 1280, 720, 10, 10, 90},
		{"1080p poster is scaled down", clip{width: 1920, height: 1080, seconds: 3}, 1280, 720, 3, 3, 90},
		{"rotated", clip{width: 640, height: 360, seconds: 4, rotate: 90}, 360, 640, 4, 4, 284},
		{"anamorphic", clip{width: 480, height: 360, seconds: 3, sar: "4/3"}, 640, 360, 3, 3, 90},
		{"more than a row, not a whole number of seconds", clip{width: 320, height: 240, seconds: 9.6, fps: 10}, 320, 240, 9, 9, 120},
		{"shorter than a second", clip{width: 320, height: 180, seconds: 0.5}, 320, 180, 1, 1, 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := makeClip(t, bins, tt.clip)
			info, err := tools.Probe(context.Background(), src)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			// A % in the directory must be taken literally.
			dir := filepath.Join(t.TempDir(), "job %d 100%")
			if err := tools.Thumbnails(context.Background(), src, info, dir); err != nil {
				t.Fatalf("Thumbnails: %v", err)
			}

			poster := decodeJPEG(t, filepath.Join(dir, edustream.PosterFileName))
			if b := poster.Bounds(); b.Dx() != tt.posterW || b.Dy() != tt.posterH {
				t.Errorf("poster %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.posterW, tt.posterH)
			}
			sprite := decodeJPEG(t, filepath.Join(dir, edustream.StoryboardSpriteFileName))
			sb := sprite.Bounds()
			rows := (tt.tiles + tt.cols - 1) / tt.cols
			if sb.Dx() != tt.cols*edustream.StoryboardTileWidth || sb.Dy() != rows*tt.tileH {
				t.Errorf("sprite %dx%d, want %dx%d", sb.Dx(), sb.Dy(), tt.cols*edustream.StoryboardTileWidth, rows*tt.tileH)
			}

			cues := parseVTT(t, filepath.Join(dir, edustream.StoryboardVTTFileName))
			if len(cues) != tt.tiles {
				t.Fatalf("%d cues, want %d", len(cues), tt.tiles)
			}
			if cues[0].start != 0 {
				t.Errorf("first cue starts at %v", cues[0].start)
			}
			if end := cues[len(cues)-1].end; math.Abs(end-info.DurationSeconds) > 0.001 {
				t.Errorf("last cue ends at %v, the video at %v", end, info.DurationSeconds)
			}
			seen := map[image.Point]bool{}
			for i, c := range cues {
				if i > 0 && c.start != cues[i-1].end {
					t.Errorf("cue %d starts at %v, the one before ends at %v", i, c.start, cues[i-1].end)
				}
				if c.end <= c.start {
					t.Errorf("cue %d is empty: %v --> %v", i, c.start, c.end)
				}
				if c.file != edustream.StoryboardSpriteFileName {
					t.Errorf("cue %d points at %q", i, c.file)
				}
				r := image.Rect(c.x, c.y, c.x+c.w, c.y+c.h)
				if c.w != edustream.StoryboardTileWidth || c.h != tt.tileH || !r.In(sb) {
					t.Errorf("cue %d: tile %v outside the %v sprite or not %dx%d", i, r, sb, edustream.StoryboardTileWidth, tt.tileH)
					continue
				}
				if seen[r.Min] {
					t.Errorf("cue %d reuses tile %v", i, r.Min)
				}
				seen[r.Min] = true
				// testsrc2 is bright everywhere; a black tile is
				// padding, a frame the sprite did not get.
				if l := meanLuma(sprite, r); l < 40 {
					t.Errorf("cue %d: tile %v is dark (luma %.0f), not a frame", i, r, l)
				}
			}
		})
	}
}
