package edustream

import (
	"fmt"
	"strconv"
	"strings"
)

// The HLS ladder and the codec rules both transcoders (ffmpeg and
// MediaConvert) follow, so a stream is the same whichever made it.

// Rendition is one variant of the HLS ladder.
type Rendition struct {
	// Name is the rendition's label and directory, e.g. "720p".
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Bitrate is the peak bits per second of video and audio together, the
	// master playlist's BANDWIDTH.
	Bitrate int `json:"bitrate"`
	// VideoBitrate and AudioBitrate are the encoder's targets.
	VideoBitrate int `json:"videoBitrate"`
	AudioBitrate int `json:"audioBitrate"`
	// Codecs is the RFC 6381 string of the master playlist's CODECS.
	Codecs string `json:"codecs,omitempty"`
}

// ladderRungs are the renditions an upload can get, largest first: the
// usual 16:9 ladder with bitrates a lecture (mostly slides and a talking
// head) looks good at. A rung is the picture's short side, so portrait
// video (a phone held upright) gets the same rungs as landscape, turned.
var ladderRungs = []struct {
	short, videoKbps, audioKbps int
}{
	{1080, 5000, 128},
	{720, 2800, 128},
	{480, 1400, 96},
	{360, 800, 96},
}

// Ladder returns the renditions for a source: every rung at or below the
// source's displayed short side, never upscaled, the long side keeping the
// aspect ratio (both sides even, as H.264 needs). A 1080×1920 portrait
// source gets 1080×1920, 720×1280 and so on, named by the short side as
// 1920×1080 would be. A source smaller than the smallest rung gets one
// rendition at its own size. Both transcoders use this rule.
func Ladder(m *MediaInfo) []Rendition {
	short, long := min(m.Width, m.Height), max(m.Width, m.Height)
	portrait := m.Height > m.Width
	var out []Rendition
	add := func(side, videoKbps, audioKbps int) {
		w, h := even(int(float64(long)*float64(side)/float64(short))), side
		if portrait {
			w, h = h, w
		}
		r := Rendition{
			Name:         fmt.Sprintf("%dp", side),
			Width:        w,
			Height:       h,
			VideoBitrate: videoKbps * 1000,
		}
		if m.HasAudio() {
			r.AudioBitrate = audioKbps * 1000
		}
		// BANDWIDTH is a peak: the encoder's cap on video, plus audio and
		// about 5 % of container overhead.
		r.Bitrate = int(float64(r.PeakVideoBitrate())*1.05) + r.AudioBitrate
		r.Codecs = hlsCodecs(w, h, m.HasAudio())
		out = append(out, r)
	}
	for _, rung := range ladderRungs {
		if rung.short <= short {
			add(rung.short, rung.videoKbps, rung.audioKbps)
		}
	}
	if len(out) == 0 && short > 0 {
		smallest := ladderRungs[len(ladderRungs)-1]
		add(even(short), smallest.videoKbps*short/smallest.short+100, smallest.audioKbps)
	}
	return out
}

// h264Levels are the H.264 levels a rendition may name, smallest first,
// with their limits (ITU-T H.264 table A-1): macroblocks per frame and per
// second.
var h264Levels = []struct {
	code                   string // profile_idc 100 (High), constraints 0, level_idc
	frameMBs, mbsPerSecond int
}{
	{"avc1.64001e", 1620, 40500},   // 3.0
	{"avc1.64001f", 3600, 108000},  // 3.1
	{"avc1.640020", 5120, 216000},  // 3.2
	{"avc1.640028", 8192, 245760},  // 4.0
	{"avc1.64002a", 8704, 522240},  // 4.2
	{"avc1.640032", 22080, 589824}, // 5.0
	{"avc1.640033", 36864, 983040}, // 5.1
}

// hlsCodecs is the CODECS attribute for H.264 High profile at the lowest
// level whose limits fit a width×height picture at MaxFrameRate (the
// orientation does not matter: the limits count macroblocks), with
// AAC-LC audio.
func hlsCodecs(width, height int, audio bool) string {
	mbs := ((width + 15) / 16) * ((height + 15) / 16)
	level := h264Levels[len(h264Levels)-1].code
	for _, l := range h264Levels {
		if mbs <= l.frameMBs && mbs*MaxFrameRate <= l.mbsPerSecond {
			level = l.code
			break
		}
	}
	if audio {
		return level + ",mp4a.40.2"
	}
	return level
}

// The rules both transcoders follow, so a stream is the same whichever
// made it.
const (
	// DefaultSegmentSeconds is the HLS segment length, and so the keyframe
	// interval of every rendition.
	DefaultSegmentSeconds = 4
	// MaxFrameRate is the highest frame rate a rendition gets: the
	// ladder's CODECS levels assume 30 fps, and a lecture gains nothing
	// from more.
	MaxFrameRate = 30
)

// OutputFrameRate is the frame rate the renditions of a src fps source
// get: src, halved until it is at most MaxFrameRate (60 → 30, 50 → 25), so
// motion stays even. 0 (unknown) stays 0.
func OutputFrameRate(src float64) float64 {
	for src > MaxFrameRate {
		src /= 2
	}
	return src
}

// PeakVideoBitrate is the cap the encoder holds the rendition's video to:
// 1.1× its target, which BANDWIDTH assumes.
func (r Rendition) PeakVideoBitrate() int { return r.VideoBitrate * 11 / 10 }

// H264Level returns the level ("3.1") the rendition's CODECS names, which
// the stream must keep to; "" if it names none.
func (r Rendition) H264Level() string {
	for c := range strings.SplitSeq(r.Codecs, ",") {
		hex, ok := strings.CutPrefix(strings.TrimSpace(c), "avc1.")
		if !ok || len(hex) != 6 {
			continue
		}
		lvl, err := strconv.ParseUint(hex[4:], 16, 8)
		if err != nil || lvl == 0 {
			continue
		}
		return fmt.Sprintf("%d.%d", lvl/10, lvl%10)
	}
	return ""
}

func even(n int) int {
	if n%2 != 0 {
		n++
	}
	return max(n, 2)
}
