//go:build unix

package testenv

import (
	"syscall"
	"testing"
	"time"
)

// ReportCPU starts measuring the CPU time the process spends (user and
// system, every thread, the garbage collector's included) and returns the
// function that stops and reports it as cpu-ns/op. On a machine shared with
// other jobs, wall time per op moves with the neighbours' load; CPU time
// per op moves far less, so comparisons are made on it. Call the returned
// function before the benchmark's other cleanups run.
func ReportCPU(b *testing.B) (stop func()) {
	b.Helper()
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
