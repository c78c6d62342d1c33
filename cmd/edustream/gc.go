package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The garbage collector's defaults for the long-running commands (dev,
// serve, work), each overridden by Go's own variable when it is set.
//
// A catalog page of 20 courses × 10 lectures allocates ~800 KB in gqlgen's
// executor, nearly all of it garbage by the time the response is written.
// In the catalog benchmark the page took 0.6 of the time at GOGC=400 that
// it took at Go's default of 100 (docs/benchmarks.md; 200 gave 0.68, 800
// no more than 400), for a heap that may grow to five times what is live
// instead of twice. The memory limit keeps that trade from running a
// container out of memory: near the limit the collector runs as often as
// it must, whatever GOGC says.
const (
	defaultGOGC = 400
	// memoryLimitShare is the share of the cgroup's memory limit given to
	// the Go heap, leaving room for stacks, ffmpeg's pipes and the kernel.
	memoryLimitShare = 0.8
)

// cgroupMemoryFiles hold the container's memory limit, cgroup v2 first.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// applyGCDefaults sets GOGC and GOMEMLIMIT where the environment does not,
// and logs what the process runs with.
func applyGCDefaults(getenv func(string) string, log *slog.Logger) {
	gogc := getenv("GOGC")
	if gogc == "" {
		debug.SetGCPercent(defaultGOGC)
		gogc = strconv.Itoa(defaultGOGC)
	}
	limit := getenv("GOMEMLIMIT")
	if limit == "" {
		limit = "none"
		if cgroup, ok := containerMemoryLimit(); ok {
			debug.SetMemoryLimit(int64(float64(cgroup) * memoryLimitShare))
			limit = strconv.FormatInt(int64(float64(cgroup)*memoryLimitShare), 10)
		}
	}
	log.Info("garbage collector", "gogc", gogc, "memory_limit", limit)
}

// containerMemoryLimit returns the cgroup's memory limit in bytes, if the
// process has one.
func containerMemoryLimit() (int64, bool) {
	for _, name := range cgroupMemoryFiles {
		if raw, err := os.ReadFile(name); err == nil {
			return parseMemoryLimit(string(raw))
		}
	}
	return 0, false
}

// parseMemoryLimit reads a cgroup memory limit: "max" (v2) or a figure
// near 2^63 (v1) mean none.
func parseMemoryLimit(raw string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0, false
	}
	return n, true
}
