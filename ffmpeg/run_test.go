package ffmpeg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// workerEnv, when set, makes the test binary act as a worker that runs one
// long ffmpeg through Tools and prints its pid (see TestWorkerDeathKillsFFmpeg).
const workerEnv = "EDUSTREAM_FFMPEG_TEST_WORKER"

// workerSource is what the worker's ffmpeg reads.
const workerSource = "testsrc2=size=64x64:rate=5:duration=300"

func runWorker() int {
	bin := os.Getenv(workerEnv)
	tools := New(Config{FFmpegPath: bin})
	tools.onStart = func(pid int) { fmt.Printf("pid %d\n", pid) }
	// Real-time reading of a tiny synthetic source: a child that lives for
	// minutes and costs almost nothing.
	_, err := tools.run(context.Background(), proc{bin: tools.ffmpeg, args: []string{
		"-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", workerSource, "-f", "null", "-",
	}})
	fmt.Fprintln(os.Stderr, "worker: ffmpeg ended:", err)
	return 1
}

// procState returns the state and process group of pid from /proc, and
// false when there is no such process.
func procState(pid int) (state byte, pgrp int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	pgrp, _ = strconv.Atoi(f[2])
	return f[0][0], pgrp, true
}

// groupMembers lists the live processes (not zombies) in process group pgid.
func groupMembers(t testing.TB, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pgrp, ok := procState(pid); ok && pgrp == pgid && state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestTranscodeCanceledLeavesNoFFmpeg(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	src := makeClip(t, bins, clip{width: 1280, height: 720, seconds: 10, audio: true})
	info, err := tools.Probe(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	var pid atomic.Int64
	tools.onStart = func(p int) { pid.Store(int64(p)) }

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	var canceled bool
	progress := func(p edustream.TranscodeProgress) {
		// Cancel once ffmpeg is demonstrably encoding, the state a
		// worker's shutdown meets.
		if p.Fraction > 0 {
			once.Do(func() {
				canceled = true
				cancel()
			})
		}
	}
	out := t.TempDir()
	ladder := edustream.Ladder(info)
	err = tools.Transcode(ctx, src, info, ladder, out, progress)
	if !canceled {
		t.Fatalf("Transcode finished (%v) before any progress to cancel at", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Transcode = %v, want context.Canceled", err)
	}
	if code := edustream.ErrorCode(err); code == edustream.EINVALID {
		t.Errorf("a canceled transcode is %s; the job layer would not retry it", code)
	}
	// Killed, ffmpeg ends no playlist: one that ran on to the end of the
	// source, or was asked to stop (SIGTERM or q) and finished its files,
	// would have.
	for _, r := range ladder {
		if pl, err := os.ReadFile(filepath.Join(out, r.Name, "index.m3u8")); err == nil && strings.Contains(string(pl), "#EXT-X-ENDLIST") {
			t.Errorf("%s's playlist is complete: ffmpeg was not killed when the transcode was cancelled", r.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(out, edustream.MasterPlaylistName)); !os.IsNotExist(err) {
		t.Errorf("a cancelled transcode left a master playlist (%v)", err)
	}
	p := int(pid.Load())
	if p == 0 {
		t.Fatal("onStart never saw ffmpeg start")
	}
	if left := groupMembers(t, p); len(left) > 0 {
		t.Errorf("processes left in ffmpeg's group %d: %v", p, left)
	}
	if _, _, ok := procState(p); ok {
		t.Errorf("ffmpeg %d still exists", p)
	}
}

// TestWorkerDeathKillsFFmpeg kills a worker process with SIGKILL (no
// cleanup runs) and checks that its ffmpeg dies with it.
func TestWorkerDeathKillsFFmpeg(t *testing.T) {
	t.Parallel()
	bins := testenv.FFmpeg(t)
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	worker := exec.Command(os.Args[0], "-test.run=^$")
	worker.Env = append(os.Environ(), workerEnv+"="+bins.FFmpeg)
	stdout, err := worker.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	worker.Stderr = &stderr
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	defer worker.Process.Kill()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		worker.Wait()
		t.Fatalf("worker said nothing: %v\n%s", err, stderr.String())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if err != nil {
		t.Fatalf("worker said %q", line)
	}
	// Should the kernel not kill it, the test does, so a failure leaves
	// nothing running.
	t.Cleanup(func() {
		// Only if the pid is still that ffmpeg, not a reuse.
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmd), workerSource) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	state, pgrp, ok := procState(pid)
	if !ok || state == 'Z' {
		t.Fatalf("ffmpeg %d is not running before the worker dies\n%s", pid, stderr.String())
	}
	if pgrp != pid {
		t.Errorf("ffmpeg's process group = %d, want its own (%d)", pgrp, pid)
	}

	if err := worker.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	worker.Wait()
	testenv.Eventually(t, fmt.Sprintf("ffmpeg %d to die with its worker", pid), func() bool {
		state, _, ok := procState(pid)
		return !ok || state == 'Z'
	})
}

func TestNotInstalled(t *testing.T) {
	t.Parallel()
	tools := New(Config{FFmpegPath: filepath.Join(t.TempDir(), "ffmpeg"), FFprobePath: filepath.Join(t.TempDir(), "ffprobe")})
	ctx := context.Background()
	if err := tools.Check(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Check = %v, want ErrNotInstalled", err)
	}
	info := &edustream.MediaInfo{DurationSeconds: 10, Width: 640, Height: 360}
	dir := t.TempDir()
	for name, err := range map[string]error{
		"Probe":      func() error { _, err := tools.Probe(ctx, "/dev/null"); return err }(),
		"Transcode":  tools.Transcode(ctx, "in.mp4", info, edustream.Ladder(info), dir, nil),
		"Thumbnails": tools.Thumbnails(ctx, "in.mp4", info, dir),
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, err, edustream.EINVALID, "ffmpeg is not installed on the worker")
		})
	}
}

// TestRemovedAfterStart covers a binary that New found and that is gone
// when a run starts.
func TestRemovedAfterStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ffprobe")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tools := New(Config{FFmpegPath: bin, FFprobePath: bin})
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, dir, "in.mp4", []byte("\x00\x00\x00\x18ftypisom"))
	_, err := tools.Probe(context.Background(), src)
	wantCode(t, err, edustream.EINVALID, "ffmpeg is not installed on the worker")
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		cfg  Config
		want string
	}{
		"preset":  {Config{Preset: "ludicrous"}, "unknown x264 preset"},
		"segment": {Config{SegmentSeconds: -4}, "segment length"},
		"timeout": {Config{ProbeTimeout: -time.Second}, "negative probe timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			// Real binaries, so that only the configuration can be wrong.
			bins := testenv.FFmpeg(t)
			tt.cfg.FFmpegPath, tt.cfg.FFprobePath = bins.FFmpeg, bins.FFprobe
			if err := New(tt.cfg).Check(context.Background()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ij", "0123456789xyz"} {
		b.Write([]byte(s))
	}
	if got := b.String(); got != "56789xyz" {
		t.Errorf("tail = %q", got)
	}
	b.Write([]byte("!"))
	if got := b.String(); got != "6789xyz!" {
		t.Errorf("tail = %q", got)
	}
}

func TestLineWriter(t *testing.T) {
	t.Parallel()
	var lines []string
	w := &lineWriter{fn: func(l string) { lines = append(lines, l) }}
	w.Write([]byte("frame=1\r\nout_ti"))
	w.Write([]byte("me_us=5\nprogress=continue\n"))
	w.Write([]byte(strings.Repeat("x", maxLine+10)))
	w.Write([]byte("tail\nlast="))
	w.Write([]byte("1\n"))
	want := []string{"frame=1", "out_time_us=5", "progress=continue", "last=1"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", lines, want)
	}
}

func TestLastLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stderr, want string
	}{
		{"addresses go", "[h264 @ 0x55d0c1a2b3c0] error while decoding MB 10 5\nConversion failed!\n", "h264: error while decoding MB 10 5"},
		{"paths go", "file:/work/job/source: Invalid data found when processing input\n", "input: Invalid data found when processing input"},
		{"control characters go", "bad \x1b[31mred\x1b[0m\tline\n", "bad [31mred [0m line"},
		{"long lines are cut", strings.Repeat("é", 200), strings.Repeat("é", 80) + "…"},
		{"nothing said", "\n\nConversion failed!\n", "no error message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastLine(tt.stderr, "file:/work/job/source", "input"); got != tt.want {
				t.Errorf("lastLine = %q, want %q", got, tt.want)
			}
		})
	}
}
