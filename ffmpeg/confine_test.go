package ffmpeg

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// secretBytes stand for a file on the worker an upload must never read.
var secretBytes = []byte("EDUSTREAM-SECRET-7f3a9c1e-do-not-leak")

// tripwire is a named pipe holding secretBytes. Opening it for reading is
// the only way to get them, and the open itself is observed, so a test
// knows whether ffmpeg touched it, not merely whether the bytes leaked.
type tripwire struct {
	path    string
	opened  atomic.Bool
	closing atomic.Bool
	done    chan struct{}
}

func newTripwire(t *testing.T, path string) *tripwire {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	tw := &tripwire{path: path, done: make(chan struct{})}
	go func() {
		defer close(tw.done)
		for {
			// Blocks until a reader opens the pipe.
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			if tw.closing.Load() {
				f.Close()
				return
			}
			tw.opened.Store(true)
			f.Write(secretBytes)
			f.Close()
		}
	}()
	t.Cleanup(func() {
		// Release the writer by being its reader.
		tw.closing.Store(true)
		if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-tw.done
			r.Close()
		}
	})
	return tw
}

// counter is an HTTP server that counts the requests it gets.
func counter(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write(secretBytes)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestNoReadsBeyondTheInput gives every method uploads that, opened by an
// unconfined ffmpeg, make it read a local file and fetch URLs: an HLS
// playlist and a concat script named .mp4. Nothing may be fetched, the
// local file may not even be opened, and its bytes may appear nowhere.
func TestNoReadsBeyondTheInput(t *testing.T) {
	t.Parallel()
	tools, _ := newTools(t)
	srv, requests := counter(t)
	dir := t.TempDir()
	// The segment extension (.ts) is one ffmpeg's hls demuxer would open.
	secret := newTripwire(t, filepath.Join(dir, "secret.ts"))

	uploads := []struct {
		name, content, reason string
	}{
		{
			name: "playlist.mp4",
			content: "#EXTM3U\n#EXT-X-TARGETDURATION:10\n" +
				"#EXT-X-KEY:METHOD=AES-128,URI=\"" + srv.URL + "/key\"\n" +
				"#EXTINF:10,\n" + secret.path + "\n" +
				"#EXTINF:10,\nsecret.ts\n" +
				"#EXTINF:10,\n" + srv.URL + "/segment.ts\n#EXT-X-ENDLIST\n",
			reason: "an HLS playlist, not a video file",
		},
		{
			name:    "concat.mp4",
			content: "ffconcat version 1.0\nfile secret.ts\nfile '" + srv.URL + "/part.mp4'\n",
			reason:  "a concat script, not a video file",
		},
	}
	// What a caller that trusted a stale probe would pass.
	info := &edustream.MediaInfo{DurationSeconds: 20, Width: 640, Height: 360, FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"}
	// A confinement that fails may leave ffmpeg waiting on the pipe; the
	// test then fails instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	var errs []error
	for _, up := range uploads {
		src := writeFile(t, dir, up.name, []byte(up.content))
		out := filepath.Join(dir, "out-"+up.name)
		t.Run(up.name, func(t *testing.T) {
			t.Run("Probe", func(t *testing.T) {
				_, err := tools.Probe(ctx, src)
				wantCode(t, err, edustream.EINVALID, up.reason)
				errs = append(errs, err)
			})
			// Below the sniffing, ffprobe itself must refuse.
			t.Run("ffprobe", func(t *testing.T) {
				_, _, err := tools.readHeaders(ctx, src, nil)
				wantCode(t, err, edustream.EINVALID, "not a video file in a format we accept")
				errs = append(errs, err)
			})
			t.Run("Transcode", func(t *testing.T) {
				err := tools.Transcode(ctx, src, info, edustream.Ladder(info), out, nil)
				wantCode(t, err, edustream.EINVALID, "not a video file in a format we accept")
				errs = append(errs, err)
			})
			t.Run("Thumbnails", func(t *testing.T) {
				err := tools.Thumbnails(ctx, src, info, out)
				wantCode(t, err, edustream.EINVALID, "not a video file in a format we accept")
				errs = append(errs, err)
			})
		})
	}

	if n := requests.Load(); n != 0 {
		t.Errorf("the HTTP server got %d requests", n)
	}
	if secret.opened.Load() {
		t.Error("the secret file was opened")
	}
	for _, err := range errs {
		if err != nil && strings.Contains(err.Error(), string(secretBytes)) {
			t.Errorf("an error carries the secret: %v", err)
		}
	}
	if hits := treeContains(t, dir, secretBytes); len(hits) > 0 {
		t.Errorf("outputs carry the secret: %v", hits)
	}
}

// TestTripwireControl shows the hostile upload above is a real threat and
// the tripwire sees it: an unconfined ffprobe opens the local file the
// concat script names.
func TestTripwireControl(t *testing.T) {
	t.Parallel()
	_, bins := newTools(t)
	dir := t.TempDir()
	secret := newTripwire(t, filepath.Join(dir, "secret.ts"))
	src := writeFile(t, dir, "concat.mp4", []byte("ffconcat version 1.0\nfile secret.ts\n"))
	out, _ := testCommand(t, bins.FFprobe, "-hide_banner", "-loglevel", "error", src).CombinedOutput()
	if !secret.opened.Load() {
		t.Fatalf("unconfined ffprobe did not open the secret; the tripwire proves nothing\n%s", out)
	}
}

// TestOddFileNames checks that names which look like protocol specs are
// read as plain files.
func TestOddFileNames(t *testing.T) {
	t.Parallel()
	tools, bins := newTools(t)
	dir := t.TempDir()
	data, err := os.ReadFile(makeClip(t, bins, clip{width: 320, height: 240, seconds: 2}))
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"http:", "concat:a.mp4|b.mp4", "subfile,,start,0,end,0,,:x.mp4", "-i"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := filepath.Join(dir, fmt.Sprint(i))
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(d, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			// Relative, as a caller might pass it.
			rel, err := filepath.Rel(mustGetwd(t), path)
			if err != nil {
				t.Fatal(err)
			}
			info, err := tools.Probe(context.Background(), rel)
			if err != nil {
				t.Fatalf("Probe(%q): %v", rel, err)
			}
			if info.Width != 320 || info.Height != 240 {
				t.Errorf("Probe(%q) = %+v", rel, info)
			}
		})
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
