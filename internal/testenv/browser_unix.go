//go:build unix

package testenv

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
)

// RunChromium opens url in headless Chromium, with every host but
// 127.0.0.1 unresolvable and media allowed to play without a gesture,
// until the test ends, and returns what it prints.
func RunChromium(t testing.TB, bin, url string) *LogBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--autoplay-policy=no-user-gesture-required",
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
		// Keeps the browser up until the test ends it.
		"--remote-debugging-port=0",
		url)
	// Chromium's helpers go with it: the whole group is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	return out
}
