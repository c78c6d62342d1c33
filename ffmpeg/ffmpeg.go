// Package ffmpeg implements edustream.MediaTools with the ffmpeg and ffprobe
// binaries installed on the worker: it probes uploads, transcodes them into
// an HLS ladder in a single ffmpeg process, and makes the poster and the
// storyboard.
//
// Uploaded files are hostile until probed, and ffmpeg can do far more than
// read a local video (fetch URLs, follow playlists to other local files,
// open sockets). Every run is therefore confined: only the file protocol,
// only the demuxers of the formats uploads may have, no stdin, bounded
// output capture, its own process group that is killed with the job or
// with the worker, limits on its address space and CPU time, and decoders
// that refuse a frame beyond the picture limit before allocating it.
package ffmpeg

import (
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// Defaults of Config.
const (
	DefaultSegmentSeconds = edustream.DefaultSegmentSeconds
	DefaultProbeTimeout   = 30 * time.Second
	DefaultPreset         = "veryfast"
	// DefaultMemoryLimit is the address space each ffmpeg and ffprobe may
	// map. A 1080p ladder in one ffmpeg on two cores maps 1.4 GB (its
	// libraries and threads' stacks included) and keeps 0.5 GB resident;
	// more cores mean more encoder threads, so a many-core worker may need
	// more.
	DefaultMemoryLimit = 4 << 30
	// DefaultCPUPerSecond is the CPU time ffmpeg may use per second of the
	// source: far above what the slowest preset needs for a 4K source's
	// ladder (a 1080p ladder at veryfast takes 1.4 s, see
	// docs/benchmarks-ffmpeg.md), so only a file built to make the decoder
	// spin reaches it.
	DefaultCPUPerSecond = 60 * time.Second
	// MinMemoryLimit is the least MemoryLimit New accepts: ffmpeg maps
	// some 300 MB of libraries before it reads anything (at 256 MiB it
	// cannot start), and a frame must fit beside them.
	MinMemoryLimit = 512 << 20
	// minCPULimit is the least CPU time a run is given, whatever the
	// length: starting up and the first frames cost the same for a short
	// clip.
	minCPULimit = time.Minute
)

// ErrNotInstalled is the error of every method when ffmpeg or ffprobe cannot
// be run. It is EINVALID because the job layer treats EINVALID as
// permanent: retrying on the same worker cannot succeed.
var ErrNotInstalled = edustream.ErrNoMediaTools

// formatWhitelist lists the demuxers ffmpeg may use on an upload: the
// containers of edustream.UploadContentTypes (mov covers mp4 and m4v,
// matroska covers webm). Everything else, in particular the playlist and
// script demuxers (hls, concat) that open further files, is refused before
// it reads a byte past the header.
const formatWhitelist = "mov,matroska,avi,mpeg,mpegts"

// x264Presets are the libx264 presets Config.Preset may name. Not
// ultrafast: it turns off CABAC and the 8x8 transform, so the streams would
// be Constrained Baseline while the ladder's CODECS say High.
var x264Presets = []string{"superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}

// Config configures Tools. The zero value is usable.
type Config struct {
	// FFmpegPath and FFprobePath are the binaries; empty means "ffmpeg" and
	// "ffprobe" looked up on PATH.
	FFmpegPath  string
	FFprobePath string
	// SegmentSeconds is the length of an HLS segment, and so the keyframe
	// interval of every rendition; 0 means DefaultSegmentSeconds.
	SegmentSeconds int
	// ProbeTimeout bounds one Probe; 0 means DefaultProbeTimeout. ffprobe
	// only reads headers, so a probe that takes longer is a file built to
	// make it slow, and is refused.
	ProbeTimeout time.Duration
	// Preset is the libx264 preset, the trade of encoding speed against
	// size at the same quality; "" means DefaultPreset.
	Preset string
	// MaxWidth and MaxHeight bound the picture as VideoLimits does; 0
	// means edustream.DefaultMaxVideoSide. Every decoder refuses a frame
	// of more than MaxWidth×MaxHeight pixels before allocating it, so a
	// hostile frame costs nothing to refuse.
	MaxWidth, MaxHeight int
	// MemoryLimit bounds the address space of each ffmpeg and ffprobe
	// (RLIMIT_AS), in bytes; 0 means DefaultMemoryLimit.
	MemoryLimit int64
	// CPUPerSecond is the CPU time a transcode or thumbnail run may use
	// per second of the source (RLIMIT_CPU; at least a minute); 0 means
	// DefaultCPUPerSecond. A probe may use ProbeTimeout of CPU time.
	CPUPerSecond time.Duration
}

// Tools runs ffmpeg and ffprobe. It implements edustream.MediaTools and is
// safe for concurrent use.
type Tools struct {
	ffmpeg, ffprobe string
	segment         int
	probeTimeout    time.Duration
	preset          string
	// maxWidth and maxHeight bound a frame (see Config).
	maxWidth, maxHeight int
	memoryLimit         int64
	cpuPerSecond        time.Duration
	// cpuFloor is the least CPU time a run over a source gets.
	cpuFloor time.Duration
	// err is why nothing can run (binaries missing, bad config); every
	// method returns it.
	err error

	// onStart, when set by a test, is told the pid of each child.
	onStart func(pid int)
	// onEnd, when set by a test, is told what each child used.
	onEnd func(res result)
}

var _ edustream.MediaTools = (*Tools)(nil)

// New returns Tools for cfg. It never fails: when the binaries are missing
// or cfg is invalid, Check says so and every method returns the error, so a
// binary that does not transcode can still start.
func New(cfg Config) *Tools {
	t := &Tools{
		segment:      cfg.SegmentSeconds,
		probeTimeout: cfg.ProbeTimeout,
		preset:       cfg.Preset,
		maxWidth:     cmp.Or(cfg.MaxWidth, edustream.DefaultMaxVideoSide),
		maxHeight:    cmp.Or(cfg.MaxHeight, edustream.DefaultMaxVideoSide),
		memoryLimit:  cmp.Or(cfg.MemoryLimit, DefaultMemoryLimit),
		cpuPerSecond: cmp.Or(cfg.CPUPerSecond, DefaultCPUPerSecond),
		cpuFloor:     minCPULimit,
	}
	if t.segment == 0 {
		t.segment = DefaultSegmentSeconds
	}
	if t.probeTimeout == 0 {
		t.probeTimeout = DefaultProbeTimeout
	}
	if t.preset == "" {
		t.preset = DefaultPreset
	}
	switch {
	case t.segment < 1 || t.segment > 60:
		t.err = fmt.Errorf("ffmpeg: segment length %ds is outside 1..60s", t.segment)
	case t.probeTimeout < 0:
		t.err = fmt.Errorf("ffmpeg: negative probe timeout %v", t.probeTimeout)
	case t.maxWidth < 0 || t.maxHeight < 0:
		t.err = fmt.Errorf("ffmpeg: negative picture limit %d×%d", t.maxWidth, t.maxHeight)
	case t.memoryLimit < MinMemoryLimit:
		t.err = fmt.Errorf("ffmpeg: memory limit %d bytes is below %s, too little to run ffmpeg", t.memoryLimit, edustream.FormatBytes(MinMemoryLimit))
	case t.cpuPerSecond < 0:
		t.err = fmt.Errorf("ffmpeg: negative CPU time per second %v", t.cpuPerSecond)
	case !slices.Contains(x264Presets, t.preset):
		t.err = fmt.Errorf("ffmpeg: unknown x264 preset %q; use one of %s", t.preset, strings.Join(x264Presets, ", "))
	}
	var err error
	if t.ffmpeg, err = lookPath(cfg.FFmpegPath, "ffmpeg"); err != nil && t.err == nil {
		t.err = err
	}
	if t.ffprobe, err = lookPath(cfg.FFprobePath, "ffprobe"); err != nil && t.err == nil {
		t.err = err
	}
	return t
}

func lookPath(configured, name string) (string, error) {
	if configured == "" {
		configured = name
	}
	p, err := exec.LookPath(configured)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNotInstalled, name, err)
	}
	return p, nil
}

// Check reports whether ffmpeg and ffprobe run and have what Transcode and
// Thumbnails need (libx264, aac, mjpeg), so a binary can say so once at
// start-up. The error wraps ErrNotInstalled when a binary is missing or
// cannot run.
func (t *Tools) Check(ctx context.Context) error {
	if t.err != nil {
		return t.err
	}
	if _, err := t.run(ctx, proc{bin: t.ffprobe, args: []string{"-hide_banner", "-version"}}); err != nil {
		return fmt.Errorf("%w: %s -version: %v", ErrNotInstalled, t.ffprobe, err)
	}
	var out limitBuffer
	out.max = 1 << 20
	res, err := t.run(ctx, proc{bin: t.ffmpeg, args: []string{"-hide_banner", "-nostdin", "-encoders"}, stdout: &out})
	if err != nil {
		return fmt.Errorf("%w: %s -encoders: %v %s", ErrNotInstalled, t.ffmpeg, err, res.stderr)
	}
	var missing []string
	for _, enc := range []string{"libx264", "aac", "mjpeg"} {
		if !hasEncoder(out.String(), enc) {
			missing = append(missing, enc)
		}
	}
	if len(missing) > 0 {
		return edustream.Errorf(edustream.EINVALID, "ffmpeg on the worker lacks the %s encoder(s)", strings.Join(missing, ", "))
	}
	return nil
}

// hasEncoder finds name in the output of ffmpeg -encoders, whose lines are
// " V....D libx264              libx264 H.264 / AVC ...".
func hasEncoder(list, name string) bool {
	for line := range strings.Lines(list) {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == name {
			return true
		}
	}
	return false
}

// cpuLimit is the CPU time a run over a source of duration seconds may use.
func (t *Tools) cpuLimit(duration float64) time.Duration {
	return max(t.cpuFloor, time.Duration(duration*float64(t.cpuPerSecond)))
}

// Paths returns the ffmpeg and ffprobe binaries in use, for start-up logs.
func (t *Tools) Paths() (ffmpeg, ffprobe string) { return t.ffmpeg, t.ffprobe }

// A source is where ffmpeg reads a video from: a local file, or an
// http:// URL on the worker's own loopback that answers range requests,
// through which the chain lets ffmpeg read a stored blob without
// downloading all of it (see package jobs).
func isURL(src string) bool { return strings.HasPrefix(src, "http://") }

// inputArgs are the options that confine how ffmpeg reads an upload,
// followed by the input itself. They must precede every -i. A URL may use
// http (and the tcp under it) and nothing else: no demuxer on the
// whitelist opens further URLs, and none could open a local file.
//
// -max_pixels makes every decoder refuse a frame larger than the limit
// before it allocates the frame: a 16,000×16,000 PNG would otherwise cost
// 800 MB in ffprobe's stream analysis, before any size check could see the
// probe's answer.
func (t *Tools) inputArgs(src string) []string {
	pixels := []string{"-max_pixels", strconv.Itoa(t.maxWidth * t.maxHeight)}
	if isURL(src) {
		return append(pixels, "-protocol_whitelist", "http,tcp", "-format_whitelist", formatWhitelist, "-i", src)
	}
	return append(pixels,
		"-protocol_whitelist", "file",
		"-format_whitelist", formatWhitelist,
		// The file: prefix keeps a path such as "http:x" or "concat:a|b"
		// from being read as a protocol.
		"-i", "file:"+src,
	)
}

// renditionInputArgs confine how ffmpeg reads a rendition EduStream made
// (an HLS media playlist and its MPEG-TS segments, at a loopback URL):
// the playlist demuxer, trusted here because the playlist is the
// transcoder's own, opens the segments over the same http.
func renditionInputArgs(playlistURL string) []string {
	return []string{"-protocol_whitelist", "http,tcp", "-format_whitelist", "hls,mpegts", "-i", playlistURL}
}

// outputArgs are the options every output file gets before its name.
func outputArgs(path string) []string {
	return []string{
		// Phones record the place a video was taken; it stays private.
		"-map_metadata", "-1", "-map_chapters", "-1",
		"-protocol_whitelist", "file",
		"file:" + path,
	}
}

// globalArgs start every ffmpeg command line.
func globalArgs() []string {
	return []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"}
}
