package main

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/edustream/edustream/internal/testenv"
)

// clips are the test videos of this package's tests, each made once per
// run of the test binary and shared read-only: encoding them is slow, and
// several tests upload the same clip. TestMain removes them.
var clips clipCache

type clipCache struct {
	mu      sync.Mutex
	dir     string
	dirErr  error
	entries map[testenv.Clip]*clipEntry
}

type clipEntry struct {
	once sync.Once
	path string
	err  error
}

// sharedClip returns the path of the clip c, made on first use. It needs ffmpeg
// (see testenv.FFmpeg).
func sharedClip(t testing.TB, c testenv.Clip) string {
	t.Helper()
	bins := testenv.FFmpeg(t)
	clips.mu.Lock()
	if clips.dir == "" && clips.dirErr == nil {
		clips.dir, clips.dirErr = os.MkdirTemp("", "edustream-cmd-clips-")
		clips.entries = map[testenv.Clip]*clipEntry{}
	}
	dir, err := clips.dir, clips.dirErr
	e := clips.entries[c]
	if e == nil && err == nil {
		e = &clipEntry{}
		clips.entries[c] = e
	}
	clips.mu.Unlock()
	if err != nil {
		t.Fatal(fmt.Errorf("the clips' directory: %w", err))
	}
	e.once.Do(func() { e.path, e.err = testenv.WriteClip(bins, dir, c) })
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.path
}

func (cc *clipCache) cleanup() {
	if cc.dir != "" {
		os.RemoveAll(cc.dir)
	}
}
