package local_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/storage/blobtest"
	"github.com/edustream/edustream/storage/local"
)

// clock is the injected clock: URLs expire when a test says so.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testKey = bytes.Repeat([]byte("k"), local.MinSigningKeyLength)

type setup struct {
	store  *local.Store
	server *httptest.Server
	clock  *clock
	dir    string
}

// newSetup starts a store served at /blobs/ by a test server, the way the
// API mounts it, with options applied to its config.
func newSetup(t *testing.T, opts ...func(*local.Config)) *setup {
	t.Helper()
	s := &setup{dir: t.TempDir(), clock: &clock{now: time.Unix(1_800_000_000, 0)}}
	mux := http.NewServeMux()
	s.server = httptest.NewServer(mux)
	t.Cleanup(s.server.Close)
	cfg := local.Config{Dir: s.dir, BaseURL: s.server.URL, SigningKey: testKey, Now: s.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	if s.store, err = local.New(cfg); err != nil {
		t.Fatal(err)
	}
	mux.Handle(local.RoutePrefix, s.store.Handler())
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) *blobtest.Harness {
		s := newSetup(t)
		return &blobtest.Harness{
			Store:  s.store,
			Prefix: "test/",
			Expire: func(t *testing.T, ttl time.Duration) { s.clock.advance(ttl + time.Second) },
		}
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		cfg  local.Config
	}{
		{"no dir", local.Config{BaseURL: "http://127.0.0.1:8080", SigningKey: testKey}},
		{"short key", local.Config{Dir: dir, BaseURL: "http://127.0.0.1:8080", SigningKey: testKey[:31]}},
		{"relative base URL", local.Config{Dir: dir, BaseURL: "/api", SigningKey: testKey}},
		{"base URL with query", local.Config{Dir: dir, BaseURL: "http://x/?a=b", SigningKey: testKey}},
		{"no base URL", local.Config{Dir: dir, SigningKey: testKey}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := local.New(tt.cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
	s, err := local.New(local.Config{Dir: dir, BaseURL: "https://edustream.example/", SigningKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.PresignGet(context.Background(), "videos/1/poster.jpg", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, "https://edustream.example/blobs/videos/1/poster.jpg?") {
		t.Errorf("signed URL %s does not start with BaseURL + /blobs/ + key", raw)
	}
}

// TestKeys: unusual valid keys map to files and back.
func TestKeys(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	keys := []string{"a", "videos/1/hls/720p/seg_00001.ts", "ünïcødé/ключ", "a b/c+d/e%20f", "..a/b..", strings.Repeat("x", edustream.MaxBlobKeySegmentLength)}
	for _, key := range keys {
		if err := s.store.Put(ctx, key, strings.NewReader(key), int64(len(key)), edustream.BlobMeta{}); err != nil {
			t.Errorf("Put %q: %v", key, err)
		}
		rc, err := s.store.Get(ctx, key, 0, -1)
		if err != nil {
			t.Errorf("Get %q: %v", key, err)
			continue
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(b) != key {
			t.Errorf("Get %q: %q, %v", key, b, err)
		}
	}
	got, err := s.store.List(ctx, "")
	if err != nil || len(got) != len(keys) {
		t.Errorf("List: %d blobs, %v; want %d", len(got), err, len(keys))
	}
}

// TestUncheckedKeys: the store trusts its caller with keys (callers go
// through edustream.CheckedBlobStore), yet even a key that tries to climb
// out is written inside the store's directory, and a URL the store signed
// for a malformed key is refused.
func TestUncheckedKeys(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	s := newSetup(t, func(c *local.Config) { c.Dir = dir })
	ctx := context.Background()
	for _, key := range []string{"../escape", "a/../../escape", "..", "/abs", "a//b", "", "../../../../../../../../tmp/escape"} {
		s.store.Put(ctx, key, strings.NewReader("x"), 1, edustream.BlobMeta{})
		raw, err := s.store.PresignGet(ctx, key, time.Minute)
		if err != nil {
			t.Fatalf("PresignGet %q: %v", key, err)
		}
		// Straight to the handler: a server's mux would clean the path.
		rec := httptest.NewRecorder()
		s.store.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, raw, nil))
		if rec.Code != http.StatusForbidden {
			t.Errorf("GET of the signed URL for %q: %d, want 403", key, rec.Code)
		}
	}
	objects := filepath.Join(dir, "objects") + string(filepath.Separator)
	filepath.WalkDir(parent, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(path, objects) {
			t.Errorf("a file outside the objects directory: %s", path)
		}
		return nil
	})
}

// TestLongestMeta: the longest metadata BlobMeta.Validate allows, every
// byte escaped in JSON, still fits the blob file's fixed header.
func TestLongestMeta(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	longest := edustream.BlobMeta{
		ContentType:  strings.Repeat(`"`, edustream.MaxContentTypeLength),
		CacheControl: strings.Repeat(`\`, edustream.MaxCacheControlLen),
	}
	if err := longest.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.store.Put(context.Background(), "long", strings.NewReader("x"), 1, longest); err != nil {
		t.Fatal(err)
	}
	info, err := s.store.Head(context.Background(), "long")
	if err != nil || info.ContentType != longest.ContentType || info.CacheControl != longest.CacheControl {
		t.Errorf("Head: %v, %v", info, err)
	}
}

func request(t *testing.T, method, rawURL string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestHandlerHeaders(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	// Served as text/plain, a browser must not sniff it into HTML.
	if err := s.store.Put(ctx, "page", strings.NewReader("<html><script>alert(1)</script>"), 31, edustream.BlobMeta{}); err != nil {
		t.Fatal(err)
	}
	raw, err := s.store.PresignGet(ctx, "page", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp := request(t, http.MethodGet, raw, nil, map[string]string{"Origin": "https://spa.example"})
	for name, want := range map[string]string{
		"Content-Type":                  "application/octet-stream",
		"X-Content-Type-Options":        "nosniff",
		"Access-Control-Allow-Origin":   "*",
		"Access-Control-Expose-Headers": "ETag, Content-Length, Content-Range, Accept-Ranges",
		"Accept-Ranges":                 "bytes",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}

	// HEAD works with a GET URL (S3 would want a URL signed for HEAD).
	if resp := request(t, http.MethodHead, raw, nil, nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != "31" {
		t.Errorf("HEAD: %d, Content-Length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
	etag := resp.Header.Get("ETag")
	if resp := request(t, http.MethodGet, raw, nil, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", resp.StatusCode)
	}
}

func TestHandlerCORSPreflight(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	id, err := s.store.CreateMultipartUpload(ctx, "videos/1/source", "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.store.PresignUploadPart(ctx, "videos/1/source", id, 1, int64(len("part")), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp := request(t, http.MethodOptions, raw, nil, map[string]string{
		"Origin":                         "https://spa.example",
		"Access-Control-Request-Method":  "PUT",
		"Access-Control-Request-Headers": "content-type",
	})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Allow-Origin %q", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "PUT") {
		t.Errorf("Allow-Methods %q has no PUT", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Content-Type") {
		t.Errorf("Allow-Headers %q has no Content-Type", got)
	}

	resp = request(t, http.MethodPut, raw, strings.NewReader("part"), map[string]string{"Origin": "https://spa.example", "Content-Type": "video/mp4"})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("part PUT: %d, headers %v", resp.StatusCode, resp.Header)
	}
}

func TestHandlerStatuses(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	id, err := s.store.CreateMultipartUpload(ctx, "up", "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	partURL, err := s.store.PresignUploadPart(ctx, "up", id, 1, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	getURL, err := s.store.PresignGet(ctx, "up", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A chunked body: the size is only known while reading it.
	chunked := func(n int) io.Reader { return io.MultiReader(strings.NewReader(strings.Repeat("x", n))) }
	for _, tt := range []struct {
		name   string
		method string
		url    string
		body   io.Reader
		status int
		says   string
	}{
		{"DELETE", http.MethodDelete, getURL, nil, http.StatusMethodNotAllowed, ""},
		{"POST", http.MethodPost, partURL, strings.NewReader("x"), http.StatusMethodNotAllowed, ""},
		{"unsigned", http.MethodGet, s.server.URL + "/blobs/up", nil, http.StatusForbidden, ""},
		{"part too large by Content-Length", http.MethodPut, partURL, strings.NewReader(strings.Repeat("x", 101)), http.StatusRequestEntityTooLarge, "longer than the 100 bytes"},
		{"part too large, chunked", http.MethodPut, partURL, chunked(101), http.StatusRequestEntityTooLarge, "longer than the 100 bytes"},
		{"part too short by Content-Length", http.MethodPut, partURL, strings.NewReader(strings.Repeat("x", 99)), http.StatusBadRequest, "shorter than the 100 bytes"},
		{"part too short, chunked", http.MethodPut, partURL, chunked(99), http.StatusBadRequest, "shorter than the 100 bytes"},
		{"part URL with another size", http.MethodPut, strings.Replace(partURL, "size=100", "size=101", 1), strings.NewReader(strings.Repeat("x", 101)), http.StatusForbidden, ""},
		{"part URL without its size", http.MethodPut, strings.Replace(partURL, "&size=100", "", 1), strings.NewReader(strings.Repeat("x", 100)), http.StatusForbidden, ""},
		{"part of its size", http.MethodPut, partURL, strings.NewReader(strings.Repeat("x", 100)), http.StatusOK, ""},
		{"GET of a missing blob", http.MethodGet, getURL, nil, http.StatusNotFound, ""},
		{"duplicated signature", http.MethodGet, getURL + "&signature=x", nil, http.StatusForbidden, ""},
		{"GET URL with a size", http.MethodGet, getURL + "&size=5", nil, http.StatusForbidden, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.url == partURL && tt.name != "POST" && !strings.Contains(tt.url, "size=100") {
				t.Fatalf("part URL %s has no size=100", tt.url)
			}
			resp := request(t, tt.method, tt.url, tt.body, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if len(body) > 100 || !strings.Contains(string(body), tt.says) {
				t.Errorf("error body of %d bytes: %q, want one that says %q", len(body), body, tt.says)
			}
		})
	}
	// The refused PUTs stored nothing; the accepted one is the part.
	parts, err := filepath.Glob(filepath.Join(s.dir, "uploads", id, "*.part"))
	if err != nil || len(parts) != 1 {
		t.Errorf("parts on disk: %v, %v; want the one accepted", parts, err)
	}
	if tmp, err := os.ReadDir(filepath.Join(s.dir, "tmp")); err != nil || len(tmp) != 0 {
		t.Errorf("temp files left by refused parts: %v, %v", tmp, err)
	}

	if err := s.store.AbortMultipartUpload(ctx, "up", id); err != nil {
		t.Fatal(err)
	}
	resp := request(t, http.MethodPut, partURL, strings.NewReader(strings.Repeat("x", 100)), nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("part PUT to an aborted upload: %d, want 404", resp.StatusCode)
	}
	// The aborted upload's parts are gone from disk.
	if entries, err := os.ReadDir(filepath.Join(s.dir, "uploads")); err != nil || len(entries) != 0 {
		t.Errorf("uploads after abort: %v, %v", entries, err)
	}
}

// TestHandlerCacheControl: a signed GET is private to its URL, and fresh
// only for the seconds the URL has left, whatever the blob was stored with.
func TestHandlerCacheControl(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	for _, stored := range []string{"", edustream.CacheControlPrivate, "public, max-age=31536000, immutable"} {
		t.Run(stored, func(t *testing.T) {
			key := "videos/1/hls/seg_" + strings.NewReplacer(" ", "", ",", "", "=", "").Replace(stored) + ".ts"
			if err := s.store.Put(ctx, key, strings.NewReader("segment"), 7, edustream.BlobMeta{ContentType: "video/mp2t", CacheControl: stored}); err != nil {
				t.Fatal(err)
			}
			raw, err := s.store.PresignGet(ctx, key, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if got := request(t, http.MethodGet, raw, nil, nil).Header.Get("Cache-Control"); got != "private, max-age=3600" {
				t.Errorf("Cache-Control %q, want private, max-age=3600", got)
			}
		})
	}
	if err := s.store.Put(ctx, "later", strings.NewReader("x"), 1, edustream.BlobMeta{CacheControl: "public, max-age=31536000, immutable"}); err != nil {
		t.Fatal(err)
	}
	raw, err := s.store.PresignGet(ctx, "later", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.clock.advance(59 * time.Minute)
	if got := request(t, http.MethodGet, raw, nil, nil).Header.Get("Cache-Control"); got != "private, max-age=60" {
		t.Errorf("a minute before the URL expires: Cache-Control %q, want private, max-age=60", got)
	}
}

// TestForbiddenSaysNothing: every refused signature gets the same answer, so
// a prober learns nothing about which check failed.
func TestForbiddenSaysNothing(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	if err := s.store.Put(ctx, "k", strings.NewReader("x"), 1, edustream.BlobMeta{}); err != nil {
		t.Fatal(err)
	}
	raw, err := s.store.PresignGet(ctx, "k", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set("expires", "9999999999")
	u.RawQuery = q.Encode()
	tampered := request(t, http.MethodGet, u.String(), nil, nil)
	tamperedBody, _ := io.ReadAll(tampered.Body)
	s.clock.advance(2 * time.Second)
	expired := request(t, http.MethodGet, raw, nil, nil)
	expiredBody, _ := io.ReadAll(expired.Body)
	if tampered.StatusCode != http.StatusForbidden || expired.StatusCode != http.StatusForbidden || !bytes.Equal(tamperedBody, expiredBody) {
		t.Errorf("tampered: %d %q; expired: %d %q", tampered.StatusCode, tamperedBody, expired.StatusCode, expiredBody)
	}
}

// TestConcurrentPutsAndGets: readers see either the old or the new blob,
// whole, never a mix or a blob with another's ETag.
func TestConcurrentPutsAndGets(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	versions := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 32<<10)}
	if err := s.store.Put(ctx, "k", bytes.NewReader(versions[0]), int64(len(versions[0])), edustream.BlobMeta{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		v := versions[i%2]
		wg.Go(func() {
			if err := s.store.Put(ctx, "k", bytes.NewReader(v), int64(len(v)), edustream.BlobMeta{}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			rc, err := s.store.Get(ctx, "k", 0, -1)
			if err != nil {
				t.Error(err)
				return
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Error(err)
			}
			if !bytes.Equal(b, versions[0]) && !bytes.Equal(b, versions[1]) {
				t.Errorf("read a mix of versions: %d bytes", len(b))
			}
		})
	}
	wg.Wait()
}

// TestConcurrentCompletes: of two completions of one upload, one wins and
// the other finds the upload gone.
func TestConcurrentCompletes(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	id, err := s.store.CreateMultipartUpload(ctx, "k", "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.store.PresignUploadPart(ctx, "k", id, 1, int64(len("only part")), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp := request(t, http.MethodPut, raw, strings.NewReader("only part"), nil)
	parts := []edustream.UploadPart{{PartNumber: 1, ETag: resp.Header.Get("ETag")}}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = s.store.CompleteMultipartUpload(ctx, "k", id, parts) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch edustream.ErrorCode(err) {
		case "":
			won++
		case edustream.ENOTFOUND:
		default:
			t.Errorf("complete: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d completions succeeded, want 1", won)
	}
}
