package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// hostURL matches absolute and protocol-relative URLs such as
// https://cdn.example/x.js, http://localhost:8080 and //unpkg.com/x, but not
// a "// comment" or the "'//' + location.host" that builds our own
// websocket URL.
var hostURL = regexp.MustCompile(`(?i)\b(?:https?|wss?)://|//[a-z0-9-]+(?:\.[a-z0-9-]+)+`)

// assetRefs are the src and href attributes of the playground page.
var assetRefs = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func playgroundPage(t *testing.T) string {
	t.Helper()
	b, err := playgroundFiles.ReadFile("playground/index.html")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlaygroundServed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	w := b.do(t, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", w.Code)
	}
	h := w.Header()
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") ||
		!strings.Contains(csp, "connect-src 'self' ws://example.com wss://example.com;") {
		t.Errorf("Content-Security-Policy = %q, want scripts and connections (websockets too) limited to this origin", csp)
	}
	// A Host that could add sources to the policy gets no websocket sources.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "evil.example; script-src *"
	if csp := b.do(t, req).Header().Get("Content-Security-Policy"); strings.Contains(csp, "evil") || strings.Contains(csp, "script-src *") {
		t.Errorf("a forged Host reached the policy: %q", csp)
	}
	if cc := h.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index Cache-Control = %q, want no-cache", cc)
	}
	page := w.Body.String()
	if page != playgroundPage(t) {
		t.Fatal("GET / did not serve playground/index.html")
	}

	refs := assetRefs.FindAllStringSubmatch(page, -1)
	if len(refs) < 5 {
		t.Fatalf("page references %d assets, want GraphiQL's CSS and JS, React, ReactDOM and ours", len(refs))
	}
	wantTypes := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, ref := range refs {
		url := ref[1]
		if url == "data:," { // the empty favicon, so the browser asks for none
			continue
		}
		t.Run(url, func(t *testing.T) {
			if !strings.HasPrefix(url, "/playground/") {
				t.Fatalf("asset %q is not served locally", url)
			}
			w := b.do(t, httptest.NewRequest(http.MethodGet, url, nil))
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", url, w.Code)
			}
			ext := url[strings.LastIndex(url, "."):]
			if ct := w.Header().Get("Content-Type"); ct != wantTypes[ext] {
				t.Errorf("Content-Type = %q, want %q", ct, wantTypes[ext])
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("missing X-Content-Type-Options: nosniff")
			}
			wantCache := cacheRevalidate
			if strings.HasPrefix(url, "/playground/vendor/") {
				wantCache = cacheImmutable
			}
			if cc := w.Header().Get("Cache-Control"); cc != wantCache {
				t.Errorf("Cache-Control = %q, want %q", cc, wantCache)
			}
			embedded, err := playgroundFiles.ReadFile(strings.TrimPrefix(url, "/"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w.Body.Bytes(), embedded) {
				t.Fatalf("body differs from the embedded file")
			}

			// A revalidation costs no body.
			r := httptest.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("If-None-Match", w.Header().Get("ETag"))
			if w := b.do(t, r); w.Code != http.StatusNotModified {
				t.Errorf("conditional GET = %d, want 304", w.Code)
			}
		})
	}
}

func TestPlaygroundGzip(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const url = "/playground/vendor/react-dom-18.3.1.production.min.js"
	plain := b.do(t, httptest.NewRequest(http.MethodGet, url, nil))
	r := httptest.NewRequest(http.MethodGet, url, nil)
	r.Header.Set("Accept-Encoding", "br, gzip;q=0.8")
	w := b.do(t, r)
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", w.Header().Get("Content-Encoding"))
	}
	if w.Header().Get("ETag") == plain.Header().Get("ETag") {
		t.Error("gzip and identity responses share an ETag")
	}
	if !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Accept-Encoding") {
		t.Error("missing Vary: Accept-Encoding")
	}
	if w.Body.Len() >= plain.Body.Len()/2 {
		t.Errorf("gzip body is %d bytes of %d; not compressed", w.Body.Len(), plain.Body.Len())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Fatal("gzip body does not decompress to the asset")
	}

	for header, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip": true, "gzip;q=0": false,
		"gzip; q=0.0": false, "*": true, "identity": false, "br": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestPlaygroundNotFound(t *testing.T) {
	t.Parallel()
	enabled := setup(t, nil)
	disabled := setup(t, func(c *Config) { c.Playground = false })
	tests := []struct {
		name string
		b    *bundle
		path string
	}{
		{"disabled page", disabled, "/"},
		{"disabled asset", disabled, "/playground/vendor/graphiql-3.8.3.min.js"},
		{"disabled script", disabled, "/playground/edustream.js"},
		{"unknown asset", enabled, "/playground/vendor/nope.js"},
		{"index under the asset path", enabled, "/playground/index.html"},
		{"not embedded", enabled, "/playground/update.sh"},
		{"unknown path", enabled, "/admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := tt.b.do(t, httptest.NewRequest(http.MethodGet, tt.path, nil)); w.Code != http.StatusNotFound {
				t.Fatalf("GET %s = %d, want 404", tt.path, w.Code)
			}
		})
	}
	// The rest of the API does not depend on the playground.
	if w := disabled.do(t, httptest.NewRequest(http.MethodGet, "/healthz", nil)); w.Code != http.StatusOK {
		t.Fatalf("healthz with the playground off = %d", w.Code)
	}
}

// TestPlaygroundIsOffline guards the "works with no internet" promise: our
// own files name no other host.
func TestPlaygroundIsOffline(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"playground/index.html", "playground/edustream.js"} {
		b, err := playgroundFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if m := hostURL.Find(b); m != nil {
			t.Errorf("%s names a host, %q: the playground must load only local assets", name, m)
		}
		if bytes.Contains(b, []byte("@import")) {
			t.Errorf("%s imports a stylesheet", name)
		}
	}
	for _, ref := range assetRefs.FindAllStringSubmatch(playgroundPage(t), -1) {
		if !strings.HasPrefix(ref[1], "/playground/") && ref[1] != "data:," {
			t.Errorf("index.html references %q", ref[1])
		}
	}
}

// TestPlaygroundVendorChecksums ties the vendored files to SHA256SUMS, which
// update.sh writes, so a hand edit or a partial update shows up here.
func TestPlaygroundVendorChecksums(t *testing.T) {
	t.Parallel()
	sums, err := os.ReadFile("playground/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("bad SHA256SUMS line %q", line)
		}
		want[name] = sum
	}
	vendor, err := fs.Sub(playgroundFiles, "playground/vendor")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(vendor, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("vendor has %d files, SHA256SUMS lists %d", len(entries), len(want))
	}
	page := playgroundPage(t)
	for _, e := range entries {
		b, err := fs.ReadFile(vendor, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want[e.Name()] {
			t.Errorf("vendor/%s: sha256 %s, SHA256SUMS says %q", e.Name(), got, want[e.Name()])
		}
		if !strings.HasPrefix(e.Name(), "LICENSE") && !strings.Contains(page, "/playground/vendor/"+e.Name()) {
			t.Errorf("vendor/%s is not used by index.html", e.Name())
		}
	}
}

// adminOperations is the document of saved operations in edustream.js.
var adminOperations = regexp.MustCompile("(?s)var adminOperations = `(.*?)`;")

// The Operate panel's saved operations are valid against the schema, one
// operation each, and there is one for every admin field, so that the
// panel keeps up with the schema.
func TestPlaygroundSavedOperations(t *testing.T) {
	script, err := playgroundFiles.ReadFile("playground/edustream.js")
	if err != nil {
		t.Fatal(err)
	}
	m := adminOperations.FindSubmatch(script)
	if m == nil {
		t.Fatal("edustream.js has no adminOperations document")
	}
	schemaText, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(schemaText)})
	if gerr != nil {
		t.Fatalf("schema: %v", gerr)
	}
	doc, errs := gqlparser.LoadQuery(schema, string(m[1]))
	if len(errs) > 0 {
		t.Fatalf("the saved operations are not valid against the schema: %v", errs)
	}
	used := map[string]bool{}
	for _, op := range doc.Operations {
		if op.Name == "" {
			t.Errorf("an operation without a name: the panel lists them by name")
		}
		for _, sel := range op.SelectionSet {
			if f, ok := sel.(*ast.Field); ok {
				used[f.Name] = true
			}
		}
	}
	for _, field := range []string{"queues", "workers", "tasks", "videos", "auditLog", "retryVideo",
		"runTask", "archiveTask", "deleteTask", "cancelTask", "pauseQueue", "resumeQueue", "runAllArchivedTasks"} {
		if !used[field] {
			t.Errorf("no saved operation uses %s", field)
		}
	}
}
