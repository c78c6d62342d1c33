package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// syncBuffer is a strings.Builder that the upload command writes to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The upload command rides out a restart of the server: its progress
// subscription subscribes again, the first event is the state as it is
// then, and the command ends when the video is READY instead of dying
// with a websocket error.
func TestUploadSurvivesRestart(t *testing.T) {
	t.Parallel()
	testenv.FFmpeg(t)
	env, _ := backendEnv(t)
	// A port of our own, kept for the second run.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env["EDUSTREAM_HTTP_ADDR"] = addr
	// No workers at first: the video waits, UPLOADED, for the restart.
	env["EDUSTREAM_WORK"] = "false"
	first := start(t, env, "serve")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lectureID := first.publishedLecture(t, ada)

	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"upload", "-url", first.url, "-token", ada, "-lecture", lectureID, lectureClip(t)}, func(string) string { return "" }, out)
	}()
	deadline := time.Now().Add(testenv.WaitLimit)
	// The subscription's first event (a line that starts with the status).
	for !strings.Contains(out.String(), "\nUPLOADED ") {
		if time.Now().After(deadline) {
			t.Fatalf("the upload did not reach UPLOADED:\n%s", out)
		}
		select {
		case err := <-done:
			t.Fatalf("upload ended early: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	first.stop(t)
	env["EDUSTREAM_WORK"] = "true"
	start(t, env, "serve")

	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "is ready") {
			t.Errorf("upload = %v\n%s", err, out)
		}
	case <-ctx.Done():
		t.Fatalf("the upload did not end:\n%s", out)
	}
	if !strings.Contains(out.String(), "subscribing again") {
		t.Errorf("the output does not say it subscribed again:\n%s", out)
	}
}

// The byte bar redraws one line with \r on a terminal only; into a log
// it writes plain lines, one per tenth and the last.
func TestByteBar(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{true, false} {
		var out strings.Builder
		bar := newByteBar(&out, 1000, tty)
		r := bar.reader(strings.NewReader(strings.Repeat("x", 1000)))
		buf := make([]byte, 50)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
			bar.lastDrawn = time.Time{} // draw every read, as if slow
		}
		bar.done()
		got := out.String()
		if tty {
			if strings.Count(got, "\r") < 10 || !strings.HasSuffix(got, "\n") {
				t.Errorf("on a terminal got %q, want redraws with \\r", got)
			}
			continue
		}
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if strings.Contains(got, "\r") || len(lines) != 10 || !strings.HasPrefix(lines[9], "uploaded 100.0 %") || !strings.HasPrefix(lines[0], "uploading  10.0 %") {
			t.Errorf("into a log got %d lines %q, want 9 tenths and the last, without \\r", len(lines), got)
		}
	}
}
