package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/edustream/edustream"
)

// stderrTail is how much of a child's stderr is kept: the end, where
// ffmpeg says why it stopped. A hostile file can make ffmpeg log a line per
// packet, so all of it is never kept.
const stderrTail = 64 << 10

// waitDelay bounds how long Wait waits for the output pipes after the child
// is gone.
const waitDelay = 5 * time.Second

// proc is one run of ffmpeg or ffprobe.
type proc struct {
	bin  string
	args []string
	// dir is the working directory; "" is "/", so a stray relative path
	// cannot land anywhere useful.
	dir string
	// stdout receives the child's stdout; nil discards it.
	stdout io.Writer
	// cpu is the CPU time the child may use; 0 is no limit (only for
	// runs that read no upload).
	cpu time.Duration
	// stderrLine, if set, is called with each line of the child's stderr,
	// for runs whose answer is in their log (the asr filter's text): the
	// kept tail is for errors, and a long run's log outgrows it.
	stderrLine func(line string)
}

// result is what a finished run left behind.
type result struct {
	// stderr is the tail of the child's stderr.
	stderr string
	// cpu is the child's user plus system time.
	cpu  time.Duration
	wall time.Duration
	// maxRSS is the child's peak resident memory, in bytes.
	maxRSS int64
}

// confine applies the resource limits to the child pid: address space
// (so a hostile frame or a leak ends in ENOMEM, not the OOM killer picking
// a neighbour) and CPU time (so a decoder made to spin is killed). Go's
// SysProcAttr has no rlimits, and setting them in this process would bind
// every thread of it, so they are applied to the running child: it has
// just exec'd and is loading its libraries, long before it reads a byte of
// the input.
func (t *Tools) confine(pid int, cpu time.Duration) error {
	as := uint64(t.memoryLimit)
	if err := unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: as, Max: as}, nil); err != nil {
		return fmt.Errorf("memory limit: %w", err)
	}
	if cpu > 0 {
		// Soft and hard the same: SIGKILL, not the SIGXCPU ffmpeg would
		// take as a request to finish writing a partial output.
		secs := uint64(cpuRlimit(cpu).Seconds())
		if err := unix.Prlimit(pid, unix.RLIMIT_CPU, &unix.Rlimit{Cur: secs, Max: secs}, nil); err != nil {
			return fmt.Errorf("CPU limit: %w", err)
		}
	}
	return nil
}

// killedAtCPULimit reports whether the kernel's SIGKILL at RLIMIT_CPU
// ended the child: the rusage times lag the scheduler's exact count the
// limit is checked against, so a child killed at 1 s may show 0.95 s, and
// less on a loaded machine (CI saw a kill at the limit fall below 0.9 s);
// three quarters of the limit still tells it from a kill that came early.
func killedAtCPULimit(st *os.ProcessState, used, limit time.Duration) bool {
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL && used >= cpuRlimit(limit)*3/4
}

// cpuRlimit is d as RLIMIT_CPU holds it: whole seconds, at least one.
func cpuRlimit(d time.Duration) time.Duration {
	return max(time.Second, d.Round(time.Second))
}

// exitError is a child that ran and failed.
type exitError struct {
	bin    string
	status syscall.WaitStatus
	stderr string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.bin, exitText(e.status), lastLine(e.stderr))
}

func exitText(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// run runs p to the end and returns its result. The child gets its own
// process group, which is killed with SIGKILL when ctx ends, and it is sent
// SIGKILL by the kernel if this worker dies first, so no ffmpeg outlives
// the job that started it. When ctx ends, the error wraps ctx.Err(); when
// the child fails, it is an *exitError.
func (t *Tools) run(ctx context.Context, p proc) (result, error) {
	// Pdeathsig fires when the thread that forked the child exits, not the
	// process; Go may retire an idle thread at any time. The thread stays
	// this goroutine's until the child has been waited for.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var res result
	stderr := &tailBuffer{max: stderrTail}
	cmd := exec.CommandContext(ctx, p.bin, p.args...)
	cmd.Dir = p.dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	// No inherited environment: FFREPORT would make ffmpeg write report
	// files, and proxies or fontconfig settings have no business here.
	// MALLOC_ARENA_MAX keeps glibc from reserving 64 MB of address space
	// per thread on a many-core machine, which would count against the
	// memory limit without being used.
	cmd.Env = []string{"LC_ALL=C", "MALLOC_ARENA_MAX=4"}
	cmd.Stdout = p.stdout
	cmd.Stderr = stderr
	if p.stderrLine != nil {
		cmd.Stderr = io.MultiWriter(stderr, &lineWriter{fn: p.stderrLine})
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		// The negative pid is the whole group the child leads.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay

	start := time.Now()
	if err := cmd.Start(); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrPermission) {
			// Removed or broken after New found it.
			return res, fmt.Errorf("%w: start %s: %v", ErrNotInstalled, p.bin, err)
		}
		return res, fmt.Errorf("start %s: %w", p.bin, err)
	}
	if err := t.confine(cmd.Process.Pid, p.cpu); err != nil {
		cmd.Cancel()
		cmd.Wait()
		return res, fmt.Errorf("confine %s: %w", p.bin, err)
	}
	if t.onStart != nil {
		t.onStart(cmd.Process.Pid)
	}
	err := cmd.Wait()
	res.wall = time.Since(start)
	res.stderr = stderr.String()
	if st := cmd.ProcessState; st != nil {
		res.cpu = st.UserTime() + st.SystemTime()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			res.maxRSS = ru.Maxrss << 10 // KiB on Linux
		}
	}
	if t.onEnd != nil {
		t.onEnd(res)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s: %w", p.bin, context.Cause(ctx))
	}
	if err != nil && p.cpu > 0 && killedAtCPULimit(cmd.ProcessState, res.cpu, p.cpu) {
		return res, edustream.Errorf(edustream.EINVALID, "processing the video took more than %s of CPU time, the limit for its length",
			edustream.FormatDuration(cpuRlimit(p.cpu).Seconds()))
	}
	if err != nil && strings.Contains(res.stderr, "Cannot allocate memory") {
		// Under RLIMIT_AS this is the limit, not the machine: the kernel's
		// own shortage ends in the OOM killer's SIGKILL instead.
		return res, edustream.Errorf(edustream.EINVALID, "processing the video needs more than the %s of memory ffmpeg may use", edustream.FormatBytes(t.memoryLimit))
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ws, _ := ee.Sys().(syscall.WaitStatus)
			return res, &exitError{bin: p.bin, status: ws, stderr: res.stderr}
		}
		return res, fmt.Errorf("%s: %w", p.bin, err)
	}
	return res, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.max {
		p = p[len(p)-b.max:]
		b.buf = b.buf[:0]
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *tailBuffer) String() string { return string(b.buf) }

// limitBuffer keeps the first max bytes written to it and notes whether
// more came.
type limitBuffer struct {
	max      int
	buf      bytes.Buffer
	overflow bool
}

func (b *limitBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - b.buf.Len(); len(p) > room {
		p = p[:max(room, 0)]
		b.overflow = true
	}
	b.buf.Write(p)
	return n, nil
}

func (b *limitBuffer) Bytes() []byte  { return b.buf.Bytes() }
func (b *limitBuffer) String() string { return b.buf.String() }

// lineWriter calls fn with each complete line written to it. A line longer
// than maxLine is dropped: ffmpeg's progress lines are short.
type lineWriter struct {
	fn      func(line string)
	partial []byte
	skip    bool
}

const maxLine = 4 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(w.partial)+len(p) > maxLine {
				w.partial, w.skip = w.partial[:0], true
			} else {
				w.partial = append(w.partial, p...)
			}
			break
		}
		if !w.skip && len(w.partial)+i <= maxLine {
			w.fn(strings.TrimRight(string(append(w.partial, p[:i]...)), "\r"))
		}
		w.partial, w.skip = w.partial[:0], false
		p = p[i+1:]
	}
	return n, nil
}

// logPrefix is the "[h264 @ 0x55d0c1a2b3c0] " ffmpeg puts before a
// component's messages; the address means nothing to a person.
var logPrefix = regexp.MustCompile(`\[([^\]@]+?) @ 0x[0-9a-f]+\] ?`)

// genericLines are ffmpeg's closing words, which say nothing about why.
var genericLines = []string{"Conversion failed!", "Exiting normally", "Received", "To ignore this"}

// lastLine returns the last line of stderr that says something, made safe
// to show to a user: no addresses, no control characters, at most 160
// bytes. replace maps strings (the paths of the work files) to what to say
// instead.
func lastLine(stderr string, replace ...string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	line := ""
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		generic := l == ""
		for _, g := range genericLines {
			generic = generic || strings.HasPrefix(l, g)
		}
		if !generic {
			line = l
			break
		}
	}
	if line == "" {
		return "no error message"
	}
	line = strings.NewReplacer(replace...).Replace(line)
	line = logPrefix.ReplaceAllString(line, "$1: ")
	line = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, line)
	line = strings.Join(strings.Fields(line), " ")
	if len(line) > 160 {
		cut := 160
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…"
	}
	return line
}
