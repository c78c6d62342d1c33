package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The playground is GraphiQL served from the binary, so it works on a laptop
// with no internet and in locked-down VPCs. playground/update.sh re-fetches
// the vendored files at pinned versions.
//
//go:embed playground/index.html playground/edustream.js playground/vendor
var playgroundFiles embed.FS

// playgroundCSP keeps the playground to this origin: it may load only our own
// scripts and styles and talk only to our own /query, over HTTP and (for
// subscriptions) websockets. GraphiQL sets inline styles and its CSS inlines
// its fonts, hence 'unsafe-inline' for styles and data: for fonts and images.
// Older browsers do not count ws:// as 'self', so the page's own host is
// named for websockets too (host is the request's, so a forged Host only
// changes the forger's own page).
func playgroundCSP(host string) string {
	ws := ""
	if isPlainHost(host) {
		ws = " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data:; font-src 'self' data:; connect-src 'self'" + ws + "; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// isPlainHost reports whether host is a host[:port] that cannot break out
// of a CSP source expression.
func isPlainHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':' || r == '[' || r == ']') {
			return false
		}
	}
	return true
}

// Cache policies: vendored files have the version in their name, so they can
// be cached for a year; our own files must be revalidated (cheap, by ETag)
// so a deploy shows at once.
const (
	cacheImmutable   = "public, max-age=31536000, immutable"
	cacheRevalidate  = "no-cache"
	minGzipSize      = 1 << 10
	playgroundPrefix = "playground/"
)

// contentTypes is explicit rather than mime.TypeByExtension, which consults
// the host's mime.types and so can differ between machines.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

type asset struct {
	body         []byte
	contentType  string
	etag         string
	cacheControl string

	gzipOnce sync.Once
	gzipBody []byte
	gzipETag string
}

// assets are the embedded files keyed by their path under playground/, read
// once.
var assets = sync.OnceValue(func() map[string]*asset {
	m := map[string]*asset{}
	err := fs.WalkDir(playgroundFiles, "playground", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := playgroundFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, playgroundPrefix)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "text/plain; charset=utf-8" // the LICENSE files
		}
		cache := cacheRevalidate
		if strings.HasPrefix(name, "vendor/") {
			cache = cacheImmutable
		}
		m[name] = &asset{body: body, contentType: ct, etag: etag(body, ""), cacheControl: cache}
		return nil
	})
	if err != nil {
		// The files are compiled in; this cannot fail at run time.
		panic(err)
	}
	return m
})

// playgroundIndex serves the GraphiQL page at /.
func playgroundIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", playgroundCSP(r.Host))
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	assets()["index.html"].serve(w, r)
}

// playgroundAssets serves the page's scripts and styles; it expects the
// /playground/ prefix stripped.
func playgroundAssets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets()[r.URL.Path]
		if !ok || r.URL.Path == "index.html" {
			http.NotFound(w, r)
			return
		}
		a.serve(w, r)
	})
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	body, tag := a.body, a.etag
	if len(a.body) >= minGzipSize {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, tag = a.gzipped()
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", tag)
	// ServeContent answers If-None-Match, HEAD and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// gzipped compresses the asset on first use: GraphiQL's bundle is 3.5 MB
// and about a fifth of that compressed, which matters for admins far from
// the region. Compressing lazily keeps start-up fast and costs nothing when
// the playground is off.
func (a *asset) gzipped() ([]byte, string) {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
		_, _ = zw.Write(a.body)                                  // writes to a bytes.Buffer do not fail
		_ = zw.Close()
		a.gzipBody = buf.Bytes()
		a.gzipETag = etag(a.body, "-gzip")
	})
	return a.gzipBody, a.gzipETag
}

// etag is a strong validator from the content, so it changes exactly when
// the bytes do; each encoding gets its own.
func etag(body []byte, suffix string) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + suffix + `"`
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip, that
// is, names it (or *) without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}
