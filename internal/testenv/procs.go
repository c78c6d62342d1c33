package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ProcessesNaming returns the pids of the processes whose command line
// holds s, such as a worker's work dir: the ffmpeg runs it started. With
// program set, only those whose executable's base name is program. It
// skips the test where there is no /proc to read.
func ProcessesNaming(t testing.TB, s, program string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to look for processes: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		if exe, _, _ := strings.Cut(string(cmdline), "\x00"); program == "" || filepath.Base(exe) == program {
			pids = append(pids, pid)
		}
	}
	return pids
}
