package gqlhttp_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
)

// How /query responses may be cached over HTTP: ETags and 304 on GET,
// public caching only for what every anonymous caller shares, private for
// the rest, and the headers they vary by.
func TestHTTPCaching(t *testing.T) {
	t.Parallel()
	b := newServer(t, withCache(gqlhttptest.NewCache(nil)))
	const catalog = `{ greeting books { id title related(first: 2) { title } } }`
	const visits = `{ books { id } visits }`
	const me = `{ me greeting }`
	tests := []struct {
		name         string
		user         *edustream.User
		method       string
		target, body string
		accept       string

		status       int
		etag         bool
		cacheControl string
	}{
		{name: "anonymous GET of the catalog", method: "GET", target: getTarget(catalog), status: 200, etag: true, cacheControl: "public, max-age=10"},
		{name: "the same, graphql-response+json", method: "GET", target: getTarget(catalog), accept: "application/graphql-response+json", status: 200, etag: true, cacheControl: "public, max-age=10"},
		{name: "anonymous GET, a field anonymous callers share", method: "GET", target: getTarget(me), status: 200, etag: true, cacheControl: "public, max-age=10"},
		{name: "member GET of the catalog", user: alice, method: "GET", target: getTarget(catalog), status: 200, etag: true, cacheControl: "private, no-store"},
		{name: "staff GET", user: staff, method: "GET", target: getTarget(catalog), status: 200, etag: true, cacheControl: "private, no-store"},
		{name: "anonymous GET of a field nobody shares", method: "GET", target: getTarget(visits), status: 200, etag: true, cacheControl: "private, no-store"},
		{name: "anonymous POST", method: "POST", target: "/query", body: `{"query":"` + catalog + `"}`, status: 200, cacheControl: "private, no-store"},
		{name: "GET with a field error", method: "GET", target: getTarget(`{ book(id: "424242") { id } }`), status: 200, cacheControl: "private, no-store"},
		{name: "GET of a mutation", method: "GET", target: getTarget(`mutation { setGreeting(text: "x") }`), status: 405, cacheControl: "private, no-store"},
		{name: "a request error", method: "GET", target: getTarget(`{ nope }`), status: 200, cacheControl: "private, no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.accept != "" {
				header.Set("Accept", tt.accept)
			}
			rec := b.send(t, tt.user, tt.method, tt.target, header, tt.body)
			etag := rec.Header().Get("ETag")
			if rec.Code != tt.status || (etag != "") != tt.etag || rec.Header().Get("Cache-Control") != tt.cacheControl {
				t.Fatalf("status %d, ETag %q, Cache-Control %q; want %d, ETag %v, %q", rec.Code, etag, rec.Header().Get("Cache-Control"), tt.status, tt.etag, tt.cacheControl)
			}
			vary := strings.Join(rec.Header().Values("Vary"), ", ")
			if !strings.Contains(vary, "Accept") || !strings.Contains(vary, "Authorization") {
				t.Errorf("Vary: %q", vary)
			}
			if !tt.etag {
				return
			}

			// Revalidation.
			for _, inm := range []string{etag, "W/" + etag, `"stale", ` + etag, "*"} {
				header.Set("If-None-Match", inm)
				again := b.send(t, tt.user, tt.method, tt.target, header, "")
				if again.Code != http.StatusNotModified || again.Body.Len() != 0 || again.Header().Get("ETag") != etag ||
					again.Header().Get("Cache-Control") != tt.cacheControl {
					t.Errorf("If-None-Match %s: status %d, %d bytes, ETag %q, Cache-Control %q", inm, again.Code, again.Body.Len(),
						again.Header().Get("ETag"), again.Header().Get("Cache-Control"))
				}
			}
			header.Set("If-None-Match", `"stale"`)
			if again := b.send(t, tt.user, tt.method, tt.target, header, ""); again.Code != http.StatusOK || again.Header().Get("ETag") != etag {
				t.Errorf("a stale ETag: status %d, ETag %q", again.Code, again.Header().Get("ETag"))
			}
		})
	}

	t.Run("each media type its own ETag", func(t *testing.T) {
		plain := b.send(t, nil, "GET", getTarget(catalog), nil, "")
		gql := b.send(t, nil, "GET", getTarget(catalog), http.Header{"Accept": {"application/graphql-response+json"}}, "")
		if plain.Body.String() != gql.Body.String() || plain.Header().Get("ETag") == gql.Header().Get("ETag") {
			t.Errorf("ETags %q and %q", plain.Header().Get("ETag"), gql.Header().Get("ETag"))
		}
	})

	t.Run("a write changes the ETag", func(t *testing.T) {
		before := b.send(t, nil, "GET", getTarget(catalog), nil, "").Header().Get("ETag")
		b.post(t, staff, `mutation { setGreeting(text: "Renamed") }`, nil).NoErrors(t)
		after := b.send(t, nil, "GET", getTarget(catalog), http.Header{"If-None-Match": {before}}, "")
		if after.Code != http.StatusOK || after.Header().Get("ETag") == before || !strings.Contains(after.Body.String(), "Renamed") {
			t.Errorf("status %d, ETag %q (was %q): %s", after.Code, after.Header().Get("ETag"), before, after.Body.String())
		}
	})

	t.Run("persisted queries by hash", func(t *testing.T) {
		// Held in the cache already, the document still registers its hash.
		b.send(t, nil, "GET", getTarget(catalog), nil, "")
		sum := sha256.Sum256([]byte(catalog))
		ext, _ := json.Marshal(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}})
		register := getTarget(catalog) + "&extensions=" + url.QueryEscape(string(ext))
		byHash := "/query?extensions=" + url.QueryEscape(string(ext))
		if rec := b.send(t, nil, "GET", register, nil, ""); rec.Code != http.StatusOK {
			t.Fatalf("register: %d %s", rec.Code, rec.Body.String())
		}
		first := b.send(t, nil, "GET", byHash, nil, "")
		hits := b.cache.Stats().Hits
		second := b.send(t, nil, "GET", byHash, nil, "")
		if first.Code != 200 || first.Header().Get("ETag") == "" || first.Header().Get("Cache-Control") != "public, max-age=10" ||
			second.Body.String() != first.Body.String() || b.cache.Stats().Hits != hits+1 {
			t.Errorf("by hash: %d %q %q, then from the cache: %v", first.Code, first.Header().Get("ETag"), first.Header().Get("Cache-Control"), b.cache.Stats().Hits == hits+1)
		}
		revalidated := b.send(t, nil, "GET", byHash, http.Header{"If-None-Match": {first.Header().Get("ETag")}}, "")
		if revalidated.Code != http.StatusNotModified {
			t.Errorf("If-None-Match by hash: %d", revalidated.Code)
		}
	})
}

// PublicMaxAge sets the CDN's max-age; a negative one keeps every response
// private, and no response cache is needed for either.
func TestPublicMaxAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		maxAge time.Duration
		want   string
	}{
		{0, "public, max-age=10"},
		{90 * time.Second, "public, max-age=90"},
		{-1, "private, no-store"},
	}
	for _, tt := range tests {
		b := newServer(t, func(_ *gqlhttp.Schema, c *gqlhttp.Config) { c.PublicMaxAge = tt.maxAge })
		rec := b.send(t, nil, "GET", getTarget(`{ books { id } }`), nil, "")
		if got := rec.Header().Get("Cache-Control"); got != tt.want || !slices.Contains(rec.Header().Values("Vary"), "Accept, Authorization") {
			t.Errorf("PublicMaxAge %v: Cache-Control %q, Vary %q; want %q", tt.maxAge, got, rec.Header().Values("Vary"), tt.want)
		}
	}
}
