package ffmpeg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// crf is x264's constant quality. Each rendition is encoded at this quality
// and capped at its bitrate: slides and a talking head need a fraction of
// the cap, and only motion reaches it.
const crf = 23

// segmentPattern names the segments in each rendition's directory.
const segmentPattern = "seg_%05d.ts"

// Transcode implements edustream.Transcoder. One ffmpeg process decodes the
// source once and encodes every rendition of ladder from it. progress is
// called from another goroutine while ffmpeg runs. When ctx ends it returns
// an error wrapping ctx.Err(); when the source turns out to be broken,
// EINVALID with the point it got to and ffmpeg's reason.
func (t *Tools) Transcode(ctx context.Context, src string, info *edustream.MediaInfo, ladder []edustream.Rendition, dir string, progress func(edustream.TranscodeProgress)) error {
	_, err := t.transcode(ctx, src, info, ladder, dir, progress)
	return err
}

// transcode is Transcode returning the run's resource use, for the
// benchmark.
func (t *Tools) transcode(ctx context.Context, src string, info *edustream.MediaInfo, ladder []edustream.Rendition, dir string, progress func(edustream.TranscodeProgress)) (result, error) {
	if t.err != nil {
		return result{}, t.err
	}
	if err := checkLadder(ladder); err != nil {
		return result{}, err
	}
	src, dir, err := absPaths(src, dir)
	if err != nil {
		return result{}, fmt.Errorf("transcode: %w", err)
	}
	if info == nil {
		if info, err = t.Probe(ctx, src); err != nil {
			return result{}, err
		}
	}
	if err := prepareOutputs(dir, ladder); err != nil {
		return result{}, fmt.Errorf("transcode: %w", err)
	}

	pr := &progressReader{duration: info.DurationSeconds, fn: progress}
	res, err := t.run(ctx, proc{
		bin:    t.ffmpeg,
		args:   t.transcodeArgs(src, info, ladder, dir),
		dir:    dir,
		stdout: &lineWriter{fn: pr.line},
		cpu:    t.cpuLimit(info.DurationSeconds),
	})
	if err != nil {
		return res, t.failure(ctx, "transcode", err, fmt.Sprintf("at %d %%", pr.percent()), src, dir)
	}
	if d := info.DurationSeconds; d > 0 && d-pr.outTime > truncationSlack(d) {
		return res, fmt.Errorf("transcode: %w", edustream.Errorf(edustream.EINVALID, "the file is damaged or truncated: ffmpeg could read only %s of its %s",
			edustream.FormatDuration(pr.outTime), edustream.FormatDuration(d)))
	}
	if err := writeMaster(dir, ladder, edustream.OutputFrameRate(info.FrameRate)); err != nil {
		return res, fmt.Errorf("transcode: %w", err)
	}
	return res, nil
}

// Rendition names become directory names and playlist lines, CODECS a
// quoted attribute; nothing else may get in.
var (
	renditionName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]*$`)
	codecsValue   = regexp.MustCompile(`^[A-Za-z0-9.,]*$`)
)

// checkLadder refuses a ladder that would make ffmpeg write outside its
// directory, break the master playlist, or fail for reasons that are not
// the source's.
func checkLadder(ladder []edustream.Rendition) error {
	if len(ladder) == 0 {
		return errors.New("transcode: empty ladder")
	}
	seen := map[string]bool{}
	for _, r := range ladder {
		switch {
		case !renditionName.MatchString(r.Name) || seen[r.Name]:
			return fmt.Errorf("transcode: bad rendition name %q", r.Name)
		case !codecsValue.MatchString(r.Codecs):
			return fmt.Errorf("transcode: rendition %s: bad CODECS %q", r.Name, r.Codecs)
		case r.Width <= 0 || r.Height <= 0 || r.Width%2 != 0 || r.Height%2 != 0:
			return fmt.Errorf("transcode: rendition %s: bad size %dx%d", r.Name, r.Width, r.Height)
		case r.VideoBitrate <= 0:
			return fmt.Errorf("transcode: rendition %s: no video bitrate", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// absPaths makes src and dir absolute and checks that src is there: a
// missing source is the caller's mistake, not a broken upload, and must not
// come back as EINVALID from ffmpeg.
func absPaths(src, dir string) (string, string, error) {
	src, err := filepath.Abs(src)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(src); err != nil {
		return "", "", err
	}
	dir, err = filepath.Abs(dir)
	return src, dir, err
}

// prepareOutputs empties what an earlier attempt may have left, so a
// shorter retry leaves no stale segments and no master points at them.
func prepareOutputs(dir string, ladder []edustream.Rendition) error {
	if err := os.Remove(filepath.Join(dir, edustream.MasterPlaylistName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, r := range ladder {
		d := filepath.Join(dir, r.Name)
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// transcodeArgs is the ffmpeg command line (without the binary) for ladder.
// The filter graph decodes and rotates the source once, splits it, and
// scales each branch; each rendition is then its own HLS output with
// libx264 and, when the source has sound, AAC-LC.
func (t *Tools) transcodeArgs(src string, info *edustream.MediaInfo, ladder []edustream.Rendition, dir string) []string {
	args := append(globalArgs(), "-progress", "pipe:1")
	args = append(args, t.inputArgs(src)...)

	fps := edustream.OutputFrameRate(info.FrameRate)
	var fc strings.Builder
	// 0:V is the first video stream that is not cover art, as Probe chose.
	fc.WriteString("[0:V:0]")
	if fps != info.FrameRate {
		fmt.Fprintf(&fc, "fps=%s,", strconv.FormatFloat(fps, 'f', -1, 64))
	}
	fmt.Fprintf(&fc, "split=%d", len(ladder))
	for i := range ladder {
		fmt.Fprintf(&fc, "[s%d]", i)
	}
	for i, r := range ladder {
		// The ladder keeps the displayed aspect ratio, so square pixels
		// at exactly its size also undo anamorphic sources.
		fmt.Fprintf(&fc, ";[s%d]scale=%d:%d,setsar=1,format=yuv420p[v%d]", i, r.Width, r.Height, i)
	}
	args = append(args, "-filter_complex", fc.String())

	seg := strconv.Itoa(t.segment)
	for i, r := range ladder {
		// The cap is what the ladder's BANDWIDTH assumes. The buffer lets a segment exceed it by buffer/segment
		// length at worst; one second of it (≤ 25 % over with 4 s
		// segments, and far less in practice, as CRF rarely fills it)
		// is the usual trade of quality against peaks.
		capKbps := kbps(r.PeakVideoBitrate())
		args = append(args,
			"-map", fmt.Sprintf("[v%d]", i),
			"-c:v", "libx264", "-preset", t.preset, "-profile:v", "high")
		if lvl := r.H264Level(); lvl != "" {
			args = append(args, "-level:v", lvl)
		}
		args = append(args,
			"-crf", strconv.Itoa(crf), "-maxrate", capKbps, "-bufsize", capKbps,
			// A keyframe at every segment boundary and nowhere else, the
			// same in every rendition, so players can switch between
			// them at any segment.
			"-force_key_frames", "expr:gte(t,n_forced*"+seg+")", "-sc_threshold", "0")
		if fps > 0 {
			args = append(args, "-g", strconv.Itoa(int(math.Ceil(2*float64(t.segment)*fps))))
		}
		if info.HasAudio() && r.AudioBitrate > 0 {
			args = append(args, "-map", "0:a:0", "-c:a", "aac", "-b:a", kbps(r.AudioBitrate), "-ac", "2", "-ar", "48000")
		}
		args = append(args,
			"-f", "hls", "-hls_time", seg, "-hls_playlist_type", "vod",
			"-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
			// Relative to ffmpeg's working directory, dir: the name is a
			// pattern, and the hls muxer would take a % in dir for one.
			"-hls_segment_filename", "file:"+r.Name+"/"+segmentPattern)
		args = append(args, outputArgs(filepath.Join(dir, r.Name, "index.m3u8"))...)
	}
	return args
}

func kbps(bps int) string { return strconv.Itoa(max(bps/1000, 1)) + "k" }

// progressReader follows ffmpeg's -progress output: blocks of key=value
// lines, each ended by progress=continue or progress=end.
type progressReader struct {
	duration float64
	fn       func(edustream.TranscodeProgress)
	// outTime is how much of the source has been encoded, in seconds.
	outTime float64
	speed   float64
}

func (p *progressReader) line(l string) {
	k, v, _ := strings.Cut(l, "=")
	switch k {
	case "out_time_us":
		if us, err := strconv.ParseInt(v, 10, 64); err == nil && us >= 0 {
			p.outTime = float64(us) / 1e6
		}
	case "speed":
		p.speed = parseFloat(strings.TrimSuffix(strings.TrimSpace(v), "x"))
	case "progress":
		if p.fn != nil {
			p.fn(p.progress())
		}
	}
}

func (p *progressReader) progress() edustream.TranscodeProgress {
	var pr edustream.TranscodeProgress
	if p.duration > 0 {
		pr.Fraction = min(max(p.outTime/p.duration, 0), 1)
	}
	pr.Speed = p.speed
	if p.speed > 0 && p.duration > 0 {
		left := max(p.duration-p.outTime, 0) / p.speed
		pr.ETA = time.Duration(left * float64(time.Second)).Round(time.Second)
	}
	return pr
}

// percent is how far the run got, for error messages.
func (p *progressReader) percent() int { return int(p.progress().Fraction * 100) }

// resourceErrors are what ffmpeg says when the machine, not the source,
// is at fault; another attempt may succeed.
var resourceErrors = []string{
	"No space left on device", "Cannot allocate memory", "Too many open files",
	"Permission denied", "Input/output error", "Disk quota exceeded", "Read-only file system",
}

// failure turns a failed run into the error a step returns. Cancellation
// and machine trouble stay plain errors (the job layer retries them);
// anything else was the source's doing and is EINVALID with ffmpeg's last
// word, paths removed.
func (t *Tools) failure(ctx context.Context, step string, err error, where, src, dir string) error {
	var ee *exitError
	if ctx.Err() != nil || !errors.As(err, &ee) || ee.status.Signaled() {
		return fmt.Errorf("%s: %w", step, err)
	}
	if err := t.pixelRefusal(ee.stderr); err != nil {
		// The caller skipped Probe, or the file changed since.
		return fmt.Errorf("%s: %w", step, err)
	}
	for _, s := range resourceErrors {
		if strings.Contains(ee.stderr, s) {
			return fmt.Errorf("%s: %w", step, err)
		}
	}
	if strings.Contains(ee.stderr, "not on whitelist") {
		// The caller skipped Probe, or the file changed since.
		return fmt.Errorf("%s: %w", step, errNotAccepted)
	}
	line := lastLine(ee.stderr, "file:"+src, "input", src, "input", dir+string(filepath.Separator), "")
	return fmt.Errorf("%s: %w", step, edustream.Errorf(edustream.EINVALID, "ffmpeg failed %s: %s", where, line))
}

// writeMaster writes the master playlist from the ladder, so RESOLUTION,
// CODECS and FRAME-RATE are exactly what the ladder and the encoder
// settings promise (ffmpeg's own master would guess them from the bytes
// written). BANDWIDTH is the ladder's too, unless a segment came out above
// it: RFC 8216 requires BANDWIDTH to cover the peak segment, and the rate
// cap allows short bursts past it (see transcodeArgs). AVERAGE-BANDWIDTH
// is measured.
func writeMaster(dir string, ladder []edustream.Rendition, fps float64) error {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, r := range ladder {
		st, err := readMediaPlaylist(filepath.Join(dir, r.Name))
		if err != nil {
			return fmt.Errorf("rendition %s: %w", r.Name, err)
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d", max(r.Bitrate, st.peakBitrate()))
		if avg := st.averageBitrate(); avg > 0 {
			fmt.Fprintf(&b, ",AVERAGE-BANDWIDTH=%d", avg)
		}
		fmt.Fprintf(&b, ",RESOLUTION=%dx%d", r.Width, r.Height)
		if r.Codecs != "" {
			fmt.Fprintf(&b, ",CODECS=%q", r.Codecs)
		}
		if fps > 0 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", fps)
		}
		fmt.Fprintf(&b, "\n%s/index.m3u8\n", r.Name)
	}
	return writeFileAtomic(filepath.Join(dir, edustream.MasterPlaylistName), []byte(b.String()))
}

// mediaPlaylist is what a rendition's index.m3u8 and its segments add up to.
type mediaPlaylist struct {
	segments []segment
}

type segment struct {
	name     string
	duration float64
	bytes    int64
}

// peakBitrate is the highest bit rate of any segment.
func (m *mediaPlaylist) peakBitrate() int {
	peak := 0.0
	for _, s := range m.segments {
		if s.duration > 0 {
			peak = max(peak, float64(s.bytes)*8/s.duration)
		}
	}
	return int(math.Ceil(peak))
}

// averageBitrate is the bit rate of the whole rendition.
func (m *mediaPlaylist) averageBitrate() int {
	var bytes int64
	var secs float64
	for _, s := range m.segments {
		bytes += s.bytes
		secs += s.duration
	}
	if secs <= 0 {
		return 0
	}
	return int(math.Round(float64(bytes) * 8 / secs))
}

// readMediaPlaylist reads the index.m3u8 ffmpeg wrote in dir and the sizes
// of the segments it lists.
func readMediaPlaylist(dir string) (*mediaPlaylist, error) {
	f, err := os.Open(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var m mediaPlaylist
	var dur float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			d, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			dur = parseFloat(d)
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			fi, err := os.Stat(filepath.Join(dir, filepath.Base(line)))
			if err != nil {
				return nil, err
			}
			m.segments = append(m.segments, segment{name: line, duration: dur, bytes: fi.Size()})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(m.segments) == 0 {
		return nil, errors.New("index.m3u8 lists no segments")
	}
	return &m, nil
}

// writeFileAtomic writes a file that readers see whole or not at all.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
