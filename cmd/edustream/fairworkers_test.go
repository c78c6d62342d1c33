package main

import (
	"strings"
	"testing"
)

// The fair workers' settings refuse what they cannot mean, naming the
// variable.
func TestFairWorkerConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no long-video slot", map[string]string{"EDUSTREAM_VIDEO_LONG_CONCURRENCY": "0"}, "EDUSTREAM_VIDEO_LONG_CONCURRENCY must be at least 1"},
		{"long-video slots not a number", map[string]string{"EDUSTREAM_VIDEO_LONG_CONCURRENCY": "many"}, "EDUSTREAM_VIDEO_LONG_CONCURRENCY"},
		{"negative uploader share", map[string]string{"EDUSTREAM_VIDEO_CONCURRENCY_PER_UPLOADER": "-1"}, "EDUSTREAM_VIDEO_CONCURRENCY_PER_UPLOADER must be 0 (no bound) or more"},
		{"uploader share not a number", map[string]string{"EDUSTREAM_VIDEO_CONCURRENCY_PER_UPLOADER": "two"}, "EDUSTREAM_VIDEO_CONCURRENCY_PER_UPLOADER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"EDUSTREAM_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			if err := runErr(t, env, "work"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// 0 means no bound to the worker, which spells it -1 (its 0 is the
// default).
func TestPerUploader(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]int{0: -1, 1: 1, 5: 5} {
		if got := perUploader(in); got != want {
			t.Errorf("perUploader(%d) = %d, want %d", in, got, want)
		}
	}
}
