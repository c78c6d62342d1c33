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
// head) looks good at.
var ladderRungs = []struct {
	height, videoKbps, audioKbps int
}{
	{1080, 5000, 128},
	{720, 2800, 128},
	{480, 1400, 96},
	{360, 800, 96},
}

// Ladder returns the renditions for a source: every rung at or below the
// source's displayed height, never upscaled, widths keeping the aspect
// ratio (even, as H.264 needs). A source smaller than the smallest rung
// gets one rendition at its own size. Both transcoders use this rule.
func Ladder(m *MediaInfo) []Rendition {
	var out []Rendition
	add := func(height, videoKbps, audioKbps int) {
		width := even(int(float64(m.Width) * float64(height) / float64(m.Height)))
		r := Rendition{
			Name:         fmt.Sprintf("%dp", height),
			Width:        width,
			Height:       height,
			VideoBitrate: videoKbps * 1000,
		}
		if m.HasAudio() {
			r.AudioBitrate = audioKbps * 1000
		}
		// BANDWIDTH is a peak: the encoder's cap on video, plus audio and
		// about 5 % of container overhead.
		r.Bitrate = int(float64(r.PeakVideoBitrate())*1.05) + r.AudioBitrate
		r.Codecs = hlsCodecs(height, m.HasAudio())
		out = append(out, r)
	}
	for _, rung := range ladderRungs {
		if rung.height <= m.Height {
			add(rung.height, rung.videoKbps, rung.audioKbps)
		}
	}
	if len(out) == 0 && m.Height > 0 {
		smallest := ladderRungs[len(ladderRungs)-1]
		add(even(m.Height), smallest.videoKbps*m.Height/smallest.height+100, smallest.audioKbps)
	}
	return out
}

// hlsCodecs is the CODECS attribute for H.264 High profile at a level that
// fits the height (30 fps and below), with AAC-LC audio.
func hlsCodecs(height int, audio bool) string {
	level := "avc1.640028" // 4.0
	switch {
	case height <= 480:
		level = "avc1.64001e" // 3.0
	case height <= 720:
		level = "avc1.64001f" // 3.1
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
