package captions

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ReadMediaTimeline reads the media timeline of an HLS rendition from its
// variant (media) playlist and the bytes of its first MPEG-TS segment, so
// captions can be segmented for a video long after it was transcoded,
// whatever made it (ffmpeg or MediaConvert).
func ReadMediaTimeline(variantPlaylist, firstSegment []byte) (MediaTimeline, error) {
	var m MediaTimeline
	sc := bufio.NewScanner(bytes.NewReader(variantPlaylist))
	for first := true; sc.Scan(); first = false {
		line := strings.TrimSpace(sc.Text())
		if first && line != "#EXTM3U" {
			return m, errors.New("read media playlist: it does not start with #EXTM3U")
		}
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			v, err := strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
			if err != nil || v <= 0 {
				return m, fmt.Errorf("read media playlist: bad %s", line)
			}
			m.TargetDuration = v
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			return m, errors.New("read media playlist: fragmented MP4 segments; captions need MPEG-TS")
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || secs <= 0 || secs > 3600 || math.IsNaN(secs) {
				return m, fmt.Errorf("read media playlist: bad %s", line)
			}
			m.SegmentDurations = append(m.SegmentDurations, time.Duration(math.Round(secs*1e6))*time.Microsecond)
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("read media playlist: %w", err)
	}
	if len(m.SegmentDurations) == 0 {
		return m, errors.New("read media playlist: it lists no segments")
	}
	pts, err := FirstVideoPTS(firstSegment)
	if err != nil {
		return m, err
	}
	m.FirstPTS = pts
	return m, nil
}

// MPEG-TS stream types of video (ISO/IEC 13818-1 table 2-34 and its
// registrations): MPEG-1/2, MPEG-4 part 2, H.264, HEVC, VVC.
var videoStreamTypes = map[byte]bool{0x01: true, 0x02: true, 0x10: true, 0x1b: true, 0x24: true, 0x33: true}

const tsPacketSize = 188

// FirstVideoPTS returns the earliest presentation time (90 kHz) of the
// video in an MPEG-TS segment: the PTS of its first frame in display
// order. Without a video stream it is that of the earliest stream. A
// partial packet at the end (a segment cut short) is ignored.
func FirstVideoPTS(ts []byte) (int64, error) {
	if len(ts) < tsPacketSize || ts[0] != 0x47 {
		return 0, errors.New("first PTS: the segment is not MPEG-TS")
	}
	var pmtPID = -1
	streamTypes := map[int]byte{}
	minPTS := map[int]int64{}
	for off := 0; off+tsPacketSize <= len(ts); off += tsPacketSize {
		p := ts[off : off+tsPacketSize]
		if p[0] != 0x47 {
			return 0, fmt.Errorf("first PTS: lost MPEG-TS sync at byte %d", off)
		}
		pid := int(p[1]&0x1f)<<8 | int(p[2])
		start := p[1]&0x40 != 0
		payload := p[4:]
		if afc := p[3] >> 4 & 3; afc&1 == 0 {
			continue
		} else if afc&2 != 0 {
			if int(p[4]) >= len(payload) {
				continue
			}
			payload = payload[1+int(p[4]):]
		}
		if !start {
			continue
		}
		switch {
		case pid == 0:
			if id := patPMT(payload); id >= 0 {
				pmtPID = id
			}
		case pid == pmtPID:
			pmtStreams(payload, streamTypes)
		default:
			if pts, ok := pesPTS(payload); ok {
				if cur, seen := minPTS[pid]; !seen || pts < cur {
					minPTS[pid] = pts
				}
			}
		}
	}
	best := int64(-1)
	for _, videoOnly := range []bool{true, false} {
		for pid, pts := range minPTS {
			if _, listed := streamTypes[pid]; !listed && len(streamTypes) > 0 {
				continue
			}
			if videoOnly && !videoStreamTypes[streamTypes[pid]] {
				continue
			}
			if best < 0 || pts < best {
				best = pts
			}
		}
		if best >= 0 {
			return best, nil
		}
	}
	return 0, errors.New("first PTS: the segment has no timestamped media")
}

// section returns the PSI section that starts in a packet's payload (after
// its pointer field), cut to its section_length.
func section(payload []byte) []byte {
	if len(payload) < 1 || int(payload[0])+1 > len(payload) {
		return nil
	}
	s := payload[1+int(payload[0]):]
	if len(s) < 3 {
		return nil
	}
	n := int(s[1]&0x0f)<<8 | int(s[2])
	if 3+n > len(s) || n < 9 {
		return nil
	}
	return s[:3+n-4] // without the CRC
}

// patPMT returns the PMT PID of the first program of a PAT, or -1.
func patPMT(payload []byte) int {
	s := section(payload)
	if s == nil || s[0] != 0x00 {
		return -1
	}
	for e := s[8:]; len(e) >= 4; e = e[4:] {
		if program := int(e[0])<<8 | int(e[1]); program != 0 {
			return int(e[2]&0x1f)<<8 | int(e[3])
		}
	}
	return -1
}

// pmtStreams adds the elementary streams of a PMT to types.
func pmtStreams(payload []byte, types map[int]byte) {
	s := section(payload)
	if s == nil || s[0] != 0x02 || len(s) < 12 {
		return
	}
	infoLen := int(s[10]&0x0f)<<8 | int(s[11])
	if 12+infoLen > len(s) {
		return
	}
	for e := s[12+infoLen:]; len(e) >= 5; {
		pid := int(e[1]&0x1f)<<8 | int(e[2])
		types[pid] = e[0]
		esLen := int(e[3]&0x0f)<<8 | int(e[4])
		if 5+esLen > len(e) {
			return
		}
		e = e[5+esLen:]
	}
}

// pesPTS reads the PTS of a PES packet header.
func pesPTS(b []byte) (int64, bool) {
	if len(b) < 14 || b[0] != 0 || b[1] != 0 || b[2] != 1 || b[7]&0x80 == 0 {
		return 0, false
	}
	p := b[9:14]
	pts := int64(p[0]>>1&7)<<30 | int64(p[1])<<22 | int64(p[2]>>1)<<15 | int64(p[3])<<7 | int64(p[4]>>1)
	return pts, true
}
