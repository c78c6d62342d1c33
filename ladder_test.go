package edustream_test

import (
	"fmt"
	"testing"

	"github.com/edustream/edustream"
)

// sizes lists each rendition's name, picture size and level, as the tests
// compare them.
func sizes(ladder []edustream.Rendition) []string {
	var out []string
	for _, r := range ladder {
		out = append(out, fmt.Sprintf("%s %dx%d %s", r.Name, r.Width, r.Height, r.H264Level()))
	}
	return out
}

func TestLadder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		width, height int
		want          []string
	}{
		{"1080p landscape", 1920, 1080, []string{"1080p 1920x1080 4.0", "720p 1280x720 3.1", "480p 854x480 3.1", "360p 640x360 3.0"}},
		// Keyed on the short side: the same rungs, turned.
		{"1080p portrait", 1080, 1920, []string{"1080p 1080x1920 4.0", "720p 720x1280 3.1", "480p 480x854 3.1", "360p 360x640 3.0"}},
		{"720p portrait", 720, 1280, []string{"720p 720x1280 3.1", "480p 480x854 3.1", "360p 360x640 3.0"}},
		{"square", 1080, 1080, []string{"1080p 1080x1080 3.2", "720p 720x720 3.1", "480p 480x480 3.0", "360p 360x360 3.0"}},
		// A phone's 20:9: 1080×2400 is more macroblocks than level 4.0
		// allows, so it names 5.0.
		{"tall phone", 1080, 2400, []string{"1080p 1080x2400 5.0", "720p 720x1600 3.2", "480p 480x1066 3.1", "360p 360x800 3.0"}},
		{"4K", 3840, 2160, []string{"1080p 1920x1080 4.0", "720p 1280x720 3.1", "480p 854x480 3.1", "360p 640x360 3.0"}},
		// Odd sizes come out even.
		{"odd portrait", 721, 1283, []string{"720p 720x1282 3.2", "480p 480x854 3.1", "360p 360x640 3.0"}},
		{"small portrait", 240, 426, []string{"240p 240x426 3.0"}},
		{"small odd", 319, 179, []string{"180p 320x180 3.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sizes(edustream.Ladder(&edustream.MediaInfo{Width: tt.width, Height: tt.height}))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Ladder(%dx%d) =\n %q\nwant\n %q", tt.width, tt.height, got, tt.want)
			}
		})
	}
}

// TestLadderLevels checks every rung of many shapes against the level it
// names: both sides even, and the picture within the level's macroblock
// limits at the highest frame rate a rendition gets.
func TestLadderLevels(t *testing.T) {
	t.Parallel()
	limits := map[string][2]int{"3.0": {1620, 40500}, "3.1": {3600, 108000}, "3.2": {5120, 216000},
		"4.0": {8192, 245760}, "4.2": {8704, 522240}, "5.0": {22080, 589824}, "5.1": {36864, 983040}}
	for w := 160; w <= 4096; w += 97 {
		for h := 160; h <= 4096; h += 89 {
			for _, r := range edustream.Ladder(&edustream.MediaInfo{Width: w, Height: h, AudioCodec: "aac"}) {
				lim, ok := limits[r.H264Level()]
				mbs := ((r.Width + 15) / 16) * ((r.Height + 15) / 16)
				switch {
				case r.Width%2 != 0 || r.Height%2 != 0:
					t.Fatalf("%dx%d: rendition %s is %dx%d, not even", w, h, r.Name, r.Width, r.Height)
				case !ok:
					t.Fatalf("%dx%d: rendition %s names level %q (%s)", w, h, r.Name, r.H264Level(), r.Codecs)
				case mbs > lim[0] || mbs*edustream.MaxFrameRate > lim[1]:
					t.Fatalf("%dx%d: rendition %s (%dx%d, %d MBs) exceeds level %s", w, h, r.Name, r.Width, r.Height, mbs, r.H264Level())
				case (w > h && r.Width < r.Height) || (w < h && r.Width > r.Height):
					t.Fatalf("%dx%d: rendition %s is %dx%d, turned", w, h, r.Name, r.Width, r.Height)
				}
			}
		}
	}
}
