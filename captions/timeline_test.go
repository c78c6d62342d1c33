package captions_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream/captions"
)

// tsPacket is one 188-byte MPEG-TS packet starting a payload on pid.
func tsPacket(pid int, payload []byte) []byte {
	p := []byte{0x47, 0x40 | byte(pid>>8), byte(pid), 0x10}
	p = append(p, payload...)
	for len(p) < 188 {
		p = append(p, 0xff)
	}
	return p[:188]
}

// psi is a PSI section (pointer field first) with a dummy CRC.
func psi(tableID byte, body []byte) []byte {
	n := len(body) + 5 + 4 // the 5 bytes after section_length, the CRC
	s := []byte{0, tableID, 0xb0 | byte(n>>8), byte(n), 0, 1, 0xc1, 0, 0}
	return append(append(s, body...), 0, 0, 0, 0)
}

// pes is the start of a PES packet carrying a PTS.
func pes(streamID byte, pts int64) []byte {
	return []byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5,
		byte(0x21 | (pts>>29)&0x0e), byte(pts >> 22), byte(0x01 | (pts>>14)&0xfe), byte(pts >> 7), byte(0x01 | (pts<<1)&0xfe)}
}

// segment is a TS segment with a PAT, a PMT listing an H.264 stream on
// 0x100 and an AAC one on 0x101, and PES starts with these PTSs.
func segment(audio, video []int64) []byte {
	var ts []byte
	ts = append(ts, tsPacket(0, psi(0x00, []byte{0, 1, 0xf0, 0x00}))...)
	pmt := []byte{0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00}
	ts = append(ts, tsPacket(0x1000, psi(0x02, pmt))...)
	for _, p := range audio {
		ts = append(ts, tsPacket(0x101, pes(0xc0, p))...)
	}
	for _, p := range video {
		ts = append(ts, tsPacket(0x100, pes(0xe0, p))...)
	}
	return ts
}

func TestFirstVideoPTS(t *testing.T) {
	t.Parallel()
	// B-frames: the first video PES in decode order is not the first
	// shown; the audio starts 21 ms earlier (AAC priming).
	ts := segment([]int64{131280, 133200}, []int64{140400, 133200, 136800, 1<<33 - 1})
	if got, err := captions.FirstVideoPTS(ts); err != nil || got != 133200 {
		t.Fatalf("FirstVideoPTS = %d, %v; want 133200", got, err)
	}
	if got, err := captions.FirstVideoPTS(segment([]int64{5000, 4000}, nil)); err != nil || got != 4000 {
		t.Fatalf("audio only: FirstVideoPTS = %d, %v; want 4000", got, err)
	}
	for name, b := range map[string][]byte{
		"empty":           nil,
		"not TS":          []byte(strings.Repeat("WEBVTT\n", 100)),
		"no timestamps":   segment(nil, nil),
		"sync lost later": append(tsPacket(0, nil), make([]byte, 188)...),
	} {
		if got, err := captions.FirstVideoPTS(b); err == nil {
			t.Errorf("%s: FirstVideoPTS = %d, want an error", name, got)
		}
	}
}

func TestReadMediaTimeline(t *testing.T) {
	t.Parallel()
	const playlist = "#EXTM3U\r\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:5\n#EXT-X-MEDIA-SEQUENCE:0\n" +
		"#EXTINF:4.000000,\nseg_00000.ts\n#EXTINF:4.004,title\nseg_00001.ts\n#EXTINF:1.5,\nseg_00002.ts\n#EXT-X-ENDLIST\n"
	got, err := captions.ReadMediaTimeline([]byte(playlist), segment(nil, []int64{900}))
	if err != nil {
		t.Fatal(err)
	}
	want := captions.MediaTimeline{
		SegmentDurations: []time.Duration{4 * time.Second, 4004 * time.Millisecond, 1500 * time.Millisecond},
		FirstPTS:         900,
		TargetDuration:   5,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("ReadMediaTimeline (-want +got):\n%s", d)
	}

	ts := segment(nil, []int64{900})
	for name, pl := range map[string]string{
		"not a playlist": "<html>",
		"no segments":    "#EXTM3U\n#EXT-X-ENDLIST\n",
		"bad EXTINF":     "#EXTM3U\n#EXTINF:four,\ns.ts\n",
		"negative":       "#EXTM3U\n#EXTINF:-4,\ns.ts\n",
		"bad target":     "#EXTM3U\n#EXT-X-TARGETDURATION:x\n#EXTINF:4,\ns.ts\n",
		"fMP4":           "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4,\ns.m4s\n",
	} {
		if _, err := captions.ReadMediaTimeline([]byte(pl), ts); err == nil {
			t.Errorf("%s: ReadMediaTimeline succeeded", name)
		}
	}
	if _, err := captions.ReadMediaTimeline([]byte(playlist), []byte("not TS")); err == nil {
		t.Error("a segment that is not MPEG-TS: ReadMediaTimeline succeeded")
	}
}

// FuzzFirstVideoPTS: whatever the bytes, no panic.
func FuzzFirstVideoPTS(f *testing.F) {
	f.Add(segment([]int64{131280}, []int64{140400, 133200}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = captions.FirstVideoPTS(b)
	})
}
