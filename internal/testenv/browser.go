package testenv

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Chromium returns the path of a Chromium (EDUSTREAM_TEST_CHROMIUM, or the
// first of chromium, chromium-browser, google-chrome on PATH). Without one
// it skips the test, or fails it when EDUSTREAM_TEST_REQUIRE names
// chromium.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("EDUSTREAM_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if Required("chromium") {
		t.Fatalf("chromium is required (%s) but none is on PATH", EnvRequire)
	}
	t.Skip("no chromium on PATH: skipping the browser test")
	return ""
}

// HLSJS returns the path of hls.min.js in the npm project at dir (its
// package-lock.json committed), installing it with npm ci first if need
// be. Without npm the test skips, unless EDUSTREAM_TEST_REQUIRE names
// chromium.
func HLSJS(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "node_modules", "hls.js", "dist", "hls.min.js")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		if Required("chromium") {
			t.Fatalf("the browser test needs hls.js, and npm to install it: %v", err)
		}
		t.Skip("npm is needed to install hls.js for the browser test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return path
}

// PageReports routes POST pattern on mux to a channel that keeps the first
// body posted: how a browser test's page reports what it saw.
func PageReports(mux *http.ServeMux, pattern string) <-chan []byte {
	reports := make(chan []byte, 1)
	mux.HandleFunc("POST "+pattern, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case reports <- b:
		default:
		}
	})
	return reports
}
