package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestParseMemoryLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{"2147483648\n", 2147483648, true},
		{"max\n", 0, false},
		{"9223372036854771712\n", 0, false}, // cgroup v1's "unlimited"
		{"0", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseMemoryLimit(tt.raw); got != tt.want || ok != tt.ok {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}

// Not in parallel: the GC percent is the process's, and every instance a
// parallel test starts sets it.
func TestGCDefaults(t *testing.T) {
	restore := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(restore) })
	tests := []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{}, defaultGOGC},
		{map[string]string{"GOGC": "150"}, 100}, // the runtime read GOGC at start; it is left alone
	}
	for _, tt := range tests {
		debug.SetGCPercent(100)
		applyGCDefaults(func(k string) string { return tt.env[k] }, slog.New(slog.DiscardHandler))
		if got := debug.SetGCPercent(100); got != tt.want {
			t.Errorf("with %v GOGC is %d, want %d", tt.env, got, tt.want)
		}
	}
}
