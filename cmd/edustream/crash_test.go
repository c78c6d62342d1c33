package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// execEnv, when set, makes this test binary run the edustream command it
// names instead of the tests, so a test can start a worker as a process of
// its own and kill it.
const execEnv = "EDUSTREAM_TEST_EXEC"

func TestMain(m *testing.M) {
	if runHelperProcess() {
		os.Exit(0)
	}
	if args := os.Getenv(execEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, strings.Fields(args), os.Getenv, os.Stdout)
		stop()
		if err != nil {
			os.Stderr.WriteString("edustream: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	clips.cleanup()
	os.Exit(code)
}

// process is an edustream command in a process of its own.
type process struct {
	cmd *exec.Cmd
	out *testenv.LogBuffer
	// exited is closed once the process has exited; err is then what
	// cmd.Wait returned. One goroutine waits, so that a test can both
	// watch for an early exit and kill the process.
	exited chan struct{}
	err    error
}

// startProcess runs `edustream args...` as a child process with env.
func startProcess(t testing.TB, env map[string]string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), execEnv+"="+strings.Join(args, " "))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, out: &testenv.LogBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := testenv.StartChild(cmd); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%v (pid %d) wrote:\n%s", args, cmd.Process.Pid, p.out)
		}
	})
	return p
}

// kill ends the process with SIGKILL, as a crash or the OOM killer does
// (no deferred cleanup runs), and waits until it is gone.
func (p *process) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	p.wait(t)
}

// wait waits, at most testenv.WaitLimit, for the process to exit and
// returns its exit status.
func (p *process) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(testenv.WaitLimit):
		t.Fatalf("%v (pid %d) still runs %v after it was told to stop", p.cmd.Args, p.cmd.Process.Pid, testenv.WaitLimit)
		return nil
	}
}

// processesUnder returns the pids of processes whose command line names
// dir: the ffmpeg runs of a worker whose work dir it is.
func processesUnder(t testing.TB, dir string) []int {
	t.Helper()
	return testenv.ProcessesNaming(t, dir, "")
}

// A worker killed in the middle of a transcode leaves no ffmpeg behind, and
// once a worker runs again the video ends READY, once.
func TestWorkerKilledMidTranscode(t *testing.T) {
	t.Parallel()
	testenv.FFmpeg(t)
	if testing.Short() {
		t.Skip("waits out a task lease")
	}
	env, _ := backendEnv(t)
	env["EDUSTREAM_WORK"] = "false"
	workDir := t.TempDir()
	env["EDUSTREAM_WORK_DIR"] = workDir
	in := start(t, env, "serve")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lectureID := in.publishedLecture(t, ada)
	progress, err := in.subscribe(t, ada, lectureID)
	if err != nil {
		t.Fatal(err)
	}

	first := startProcess(t, env, "work")
	uploadID := in.uploadClip(t, ada, lectureID, sharedClip(t, testenv.Clip{Width: 1280, Height: 720, Seconds: 10, Audio: true}))

	events := untilTranscoding(t, progress)
	if len(processesUnder(t, workDir)) == 0 {
		t.Fatal("no ffmpeg runs while the worker transcodes: the test would prove nothing")
	}
	first.kill(t)
	testenv.Eventually(t, "the dead worker's ffmpeg to be gone", func() bool { return len(processesUnder(t, workDir)) == 0 })

	// The worker started next sees the dead one's lease go stale
	// (EDUSTREAM_TASK_LEASE) and takes the task back.
	second := startProcess(t, env, "work")
	events = append(events, progress.until(t, "READY", 4*time.Minute)...)
	if n := countEvents(events, "READY"); n != 1 {
		t.Errorf("READY seen %d times, want once", n)
	}
	completed := `"task_id":"video:complete:` + uploadID + `"`
	if n := strings.Count(second.out.String(), completed); n != 1 || strings.Contains(first.out.String(), completed) {
		t.Errorf("the complete step ran %d times in the second worker (want 1, and never in the first)", n)
	}
	if !strings.Contains(second.out.String(), "removed the work files of a dead worker") {
		t.Error("the second worker did not clear the dead worker's files")
	}
}
