package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/edustream/edustream"
)

// probeEntries is all ffprobe is asked to print. Naming the fields keeps a
// file's own metadata (tags can be megabytes) out of the output, except the
// legacy rotate tag.
const probeEntries = "format=format_name,start_time,duration,size,bit_rate" +
	":stream=index,codec_type,codec_name,width,height,sample_aspect_ratio,avg_frame_rate,r_frame_rate,nb_frames,duration" +
	":stream_disposition=attached_pic" +
	":stream_side_data=side_data_type,rotation" +
	":stream_tags=rotate"

// errNotAccepted is the refusal of a file whose container is not on
// formatWhitelist.
var errNotAccepted = edustream.Errorf(edustream.EINVALID, "not a video file in a format we accept (MP4, MOV, WebM, MKV, AVI or MPEG)")

// maxProbeOutput bounds ffprobe's JSON. A lecture has a handful of streams;
// a file with thousands is built to exhaust something.
const maxProbeOutput = 1 << 20

// Probe implements edustream.Prober. It refuses with EINVALID anything that
// is not a single plain video file in an accepted container, including
// files that are damaged or cut short; it reads nothing but path.
func (t *Tools) Probe(ctx context.Context, path string) (*edustream.MediaInfo, error) {
	if t.err != nil {
		return nil, t.err
	}
	src, head, size, err := openSource(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	if size == 0 {
		return nil, edustream.Errorf(edustream.EINVALID, "the file is empty")
	}
	// What the file announces itself as decides before ffprobe runs: the
	// reason is clearer than ffprobe's, and a playlist never reaches a
	// demuxer at all.
	if reason := sniff(head); reason != "" {
		return nil, edustream.Errorf(edustream.EINVALID, "%s", reason)
	}

	pctx, cancel := context.WithTimeout(ctx, t.probeTimeout)
	defer cancel()
	info, start, err := t.readHeaders(pctx, src, head)
	if err == nil && info.DurationSeconds > 0 {
		err = t.checkEnd(pctx, src, start, info.DurationSeconds)
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, edustream.Errorf(edustream.EINVALID, "the file took longer than %s to read; it may be damaged", edustream.FormatDuration(t.probeTimeout.Seconds()))
		}
		return nil, err
	}
	info.SizeBytes = size
	return info, nil
}

// openSource returns src (a path made absolute, or a URL), its first bytes
// and its size.
func openSource(ctx context.Context, src string) (string, []byte, int64, error) {
	if isURL(src) {
		head, size, err := readHeadURL(ctx, src)
		return src, head, size, err
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", nil, 0, err
	}
	head, size, err := readHead(abs)
	return abs, head, size, err
}

// headBytes is how much of a file sniff looks at.
const headBytes = 512

// readHeadURL returns the first bytes of the source at url and its size,
// with one range request.
func readHeadURL(ctx context.Context, url string) ([]byte, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", headBytes-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusRequestedRangeNotSatisfiable:
		return nil, 0, nil // empty
	default:
		return nil, 0, fmt.Errorf("read the start of the source: %s", resp.Status)
	}
	// Content-Range: bytes 0-511/12345
	_, total, ok := strings.Cut(resp.Header.Get("Content-Range"), "/")
	size, err := strconv.ParseInt(total, 10, 64)
	if !ok || err != nil || size < 0 {
		return nil, 0, fmt.Errorf("read the start of the source: bad Content-Range %q", resp.Header.Get("Content-Range"))
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, headBytes))
	return head, size, err
}

// readHead returns the first bytes of the file at path and its size.
func readHead(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", path)
	}
	head := make([]byte, headBytes)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return head[:n], fi.Size(), nil
}

// sniff names what a file is from its first bytes when that is something a
// person might upload by mistake, or something built to make ffmpeg open
// other files. "" means "let ffprobe decide".
func sniff(head []byte) string {
	text := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	has := func(prefix string) bool { return bytes.HasPrefix(head, []byte(prefix)) }
	riff := func(kind string) bool { return has("RIFF") && len(head) >= 12 && string(head[8:12]) == kind }
	switch {
	case bytes.HasPrefix(text, []byte("#EXTM3U")):
		return "an HLS playlist, not a video file"
	case bytes.HasPrefix(text, []byte("ffconcat version")):
		return "a concat script, not a video file"
	case has("\x89PNG\r\n\x1a\n"), has("\xff\xd8\xff"), has("GIF87a"), has("GIF89a"), riff("WEBP"),
		has("II*\x00"), has("MM\x00*"), isoBrand(head, "heic", "heix", "mif1", "msf1", "avif"):
		return "an image, not a video file"
	case has("%PDF-"):
		return "a PDF document, not a video file"
	case has("PK\x03\x04"):
		return "an archive or office document (such as slides), not a video file"
	case has("ID3"), has("fLaC"), riff("WAVE"), isoBrand(head, "M4A ", "M4B "):
		return "an audio file, not a video file"
	}
	return ""
}

// isoBrand reports whether head starts an ISO base media file (mp4, heif)
// whose major brand is one of brands.
func isoBrand(head []byte, brands ...string) bool {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return false
	}
	for _, b := range brands {
		if string(head[8:12]) == b {
			return true
		}
	}
	return false
}

// looksLikeContainer reports whether head starts one of the accepted
// containers, so a file that then fails to open is damaged rather than
// something else.
func looksLikeContainer(head []byte) bool {
	if len(head) >= 8 {
		switch string(head[4:8]) {
		case "ftyp", "moov", "mdat", "free", "wide", "skip", "pnot":
			return true
		}
	}
	switch {
	case bytes.HasPrefix(head, []byte("\x1a\x45\xdf\xa3")): // EBML: Matroska, WebM
		return true
	case bytes.HasPrefix(head, []byte("RIFF")) && len(head) >= 12 && string(head[8:11]) == "AVI":
		return true
	case bytes.HasPrefix(head, []byte("\x00\x00\x01\xba")): // MPEG program stream
		return true
	case len(head) > 188 && head[0] == 0x47 && head[188] == 0x47: // MPEG transport stream
		return true
	}
	return false
}

// probeOutput is ffprobe's JSON for probeEntries.
type probeOutput struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		StartTime  string `json:"start_time"`
		Duration   string `json:"duration"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

type probeStream struct {
	Index             int    `json:"index"`
	CodecType         string `json:"codec_type"`
	CodecName         string `json:"codec_name"`
	Width             int    `json:"width"`
	Height            int    `json:"height"`
	SampleAspectRatio string `json:"sample_aspect_ratio"`
	AvgFrameRate      string `json:"avg_frame_rate"`
	RFrameRate        string `json:"r_frame_rate"`
	NbFrames          string `json:"nb_frames"`
	Duration          string `json:"duration"`
	Disposition       struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
	Tags struct {
		Rotate string `json:"rotate"`
	} `json:"tags"`
	SideData []struct {
		Type     string  `json:"side_data_type"`
		Rotation float64 `json:"rotation"`
	} `json:"side_data_list"`
}

// readHeaders reads the container and stream headers of src. It also returns
// the format's start time, which the end check needs.
func (t *Tools) readHeaders(ctx context.Context, src string, head []byte) (*edustream.MediaInfo, float64, error) {
	out := &limitBuffer{max: maxProbeOutput}
	res, err := t.run(ctx, proc{bin: t.ffprobe, args: t.probeArgs(src), stdout: out, cpu: t.probeTimeout})
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			return nil, 0, fmt.Errorf("probe: %w", err)
		}
		if err := t.pixelRefusal(ee.stderr); err != nil {
			return nil, 0, err
		}
		return nil, 0, probeFailure(ee, head)
	}
	// The decoder refused the frame and ffprobe went on without it.
	if err := t.pixelRefusal(res.stderr); err != nil {
		return nil, 0, err
	}
	if out.overflow {
		return nil, 0, edustream.Errorf(edustream.EINVALID, "the file has too many streams to be a lecture video")
	}
	var po probeOutput
	if err := json.Unmarshal(out.Bytes(), &po); err != nil {
		return nil, 0, fmt.Errorf("probe: decode ffprobe output: %w: %s", err, lastLine(res.stderr))
	}
	info, err := mediaInfo(&po)
	return info, parseFloat(po.Format.StartTime), err
}

// probeArgs is the ffprobe command line that reads the headers of src.
func (t *Tools) probeArgs(src string) []string {
	return append([]string{"-hide_banner", "-loglevel", "error", "-of", "json", "-show_entries", probeEntries}, t.inputArgs(src)...)
}

// endArgs is the ffprobe command line that lists the timing of the packets
// of src from the second from on.
func (t *Tools) endArgs(src string, from float64) []string {
	return append([]string{
		"-hide_banner", "-loglevel", "error",
		"-read_intervals", strconv.FormatFloat(from, 'f', 3, 64) + "%",
		"-show_entries", "packet=pts_time,duration_time",
		"-of", "csv=p=0",
	}, t.inputArgs(src)...)
}

// pixelsExceeded is how libavutil says a decoder refused a frame larger
// than -max_pixels.
var pixelsExceeded = regexp.MustCompile(`Picture size (\d+)x(\d+) exceeds specified max pixel count`)

// pixelRefusal returns the refusal of a source whose frames are larger
// than the limit, if stderr says a decoder refused one; nil otherwise.
func (t *Tools) pixelRefusal(stderr string) error {
	m := pixelsExceeded.FindStringSubmatch(stderr)
	if m == nil {
		return nil
	}
	return edustream.Errorf(edustream.EINVALID, "the picture is %s×%s, larger than the %d×%d limit", m[1], m[2], t.maxWidth, t.maxHeight)
}

// probeFailure turns ffprobe's refusal to open a file into the reason a
// person can act on.
func probeFailure(ee *exitError, head []byte) error {
	switch {
	case ee.status.Signaled():
		// Nothing in a file makes ffprobe die of a signal; the machine
		// did (out of memory), so the job may try again.
		return fmt.Errorf("probe: %w", ee)
	case strings.Contains(ee.stderr, "Permission denied"), strings.Contains(ee.stderr, "No such file or directory"),
		strings.Contains(ee.stderr, "Server returned"), strings.Contains(ee.stderr, "Connection refused"):
		// The file could not be read (for a URL, the server that reads it
		// from storage failed): not the file's fault, so worth a retry.
		return fmt.Errorf("probe: %w", ee)
	case strings.Contains(ee.stderr, "not on whitelist"):
		return errNotAccepted
	case looksLikeContainer(head):
		// Not "moov atom not found" alone: for a name ending in .mp4
		// ffprobe tries the mov demuxer on anything, text included.
		return edustream.Errorf(edustream.EINVALID, "the file is damaged or truncated")
	default:
		return edustream.Errorf(edustream.EINVALID, "not a video file")
	}
}

// mediaInfo picks the video and audio streams the transcoder will use (the
// first of each; ffmpeg's 0:V:0 and 0:a:0) and describes the file by them.
func mediaInfo(po *probeOutput) (*edustream.MediaInfo, error) {
	info := &edustream.MediaInfo{
		FormatName:      po.Format.FormatName,
		DurationSeconds: parseFloat(po.Format.Duration),
	}
	info.BitRate, _ = strconv.ParseInt(po.Format.BitRate, 10, 64)
	var video *probeStream
	for i := range po.Streams {
		s := &po.Streams[i]
		switch {
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && video == nil:
			video = s
		case s.CodecType == "audio" && info.AudioCodec == "":
			info.AudioCodec = s.CodecName
		}
	}
	switch {
	case video == nil && info.AudioCodec != "":
		return nil, edustream.Errorf(edustream.EINVALID, "the file has only sound, no video stream")
	case video == nil:
		return nil, edustream.Errorf(edustream.EINVALID, "the file has no video stream")
	case video.NbFrames == "1":
		return nil, edustream.Errorf(edustream.EINVALID, "a still image, not a video")
	case video.CodecName == "" || video.CodecName == "none":
		return nil, edustream.Errorf(edustream.EINVALID, "the video is in a format ffmpeg cannot decode")
	}
	info.VideoCodec = video.CodecName
	if info.DurationSeconds <= 0 {
		info.DurationSeconds = parseFloat(video.Duration)
	}
	info.FrameRate = parseRate(video.AvgFrameRate)
	if info.FrameRate <= 0 {
		info.FrameRate = parseRate(video.RFrameRate)
	}
	info.Width, info.Height = video.Width, video.Height
	// Anamorphic video stores narrower pixels than it shows.
	if sar := parseRate(video.SampleAspectRatio); sar > 0 && sar != 1 {
		info.Width = int(math.Round(float64(info.Width) * sar))
	}
	info.Rotation = rotation(video)
	if info.Rotation == 90 || info.Rotation == 270 {
		info.Width, info.Height = info.Height, info.Width
	}
	return info, nil
}

// rotation returns how far the picture is turned clockwise for display, as
// ffmpeg's autorotate (and so the transcode) turns it: the display matrix's
// counter-clockwise angle negated, or the legacy rotate tag.
func rotation(s *probeStream) int {
	deg := 0.0
	found := false
	for _, sd := range s.SideData {
		if sd.Type == "Display Matrix" {
			deg, found = -sd.Rotation, true
		}
	}
	if !found && s.Tags.Rotate != "" {
		deg = parseFloat(s.Tags.Rotate)
	}
	r := int(math.Round(deg/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

// checkEnd refuses a file whose data stops before its headers say it ends:
// an upload cut short, or a file whose index (moov at the start) survived
// while the media did not. It reads the packets of the last seconds only,
// without decoding them, and compares where the latest one ends (in any
// stream, as the format's duration is the longest stream's) with the
// duration.
func (t *Tools) checkEnd(ctx context.Context, src string, start, duration float64) error {
	// Packets come in decode order and streams interleave, so the latest
	// one is among the last few lines, not necessarily the last.
	var tail []string
	lw := &lineWriter{fn: func(line string) {
		if tail = append(tail, line); len(tail) > 64 {
			tail = tail[1:]
		}
	}}
	_, err := t.run(ctx, proc{bin: t.ffprobe, args: t.endArgs(src, start+max(duration-5, 0)), stdout: lw, cpu: t.probeTimeout})
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && !ee.status.Signaled() {
			// Some files cannot seek; the transcode checks again.
			return nil
		}
		return fmt.Errorf("probe: read the end: %w", err)
	}
	end := 0.0
	seen := false
	for _, line := range tail {
		pts, dur, ok := strings.Cut(line, ",")
		p, err := strconv.ParseFloat(pts, 64)
		if !ok || err != nil {
			continue
		}
		seen = true
		end = max(end, p+parseFloat(dur))
	}
	if !seen {
		// No timestamps to judge by (some AVI); the transcode checks.
		return nil
	}
	if readable := end - start; duration-readable > truncationSlack(duration) {
		return edustream.Errorf(edustream.EINVALID, "the file is damaged or truncated: only %s of its %s can be read",
			edustream.FormatDuration(max(readable, 0)), edustream.FormatDuration(duration))
	}
	return nil
}

// truncationSlack is how much shorter than its stated duration a file's
// data may end before it counts as cut short: streams of a healthy file do
// not all end together.
func truncationSlack(duration float64) float64 { return max(1, duration/100) }

// parseRate parses ffprobe's "30000/1001" (or "1:1"); 0 when undefined.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		num, den, ok = strings.Cut(s, ":")
	}
	if !ok {
		return parseFloat(s)
	}
	n, d := parseFloat(num), parseFloat(den)
	if n <= 0 || d <= 0 {
		return 0
	}
	return n / d
}

// parseFloat parses a number ffprobe printed; "N/A" and garbage are 0.
func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
