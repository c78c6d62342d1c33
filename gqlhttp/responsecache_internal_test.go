package gqlhttp

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// entry is a response of n bytes whose first byte names it.
func entry(name byte, n int) *cachedResponse {
	body := []byte(strings.Repeat(string(name), n))
	return newCachedResponse(body)
}

func TestResponseCacheBounds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	newTestCache := func(maxBytes int64) *ResponseCache {
		c := NewResponseCache(ResponseCacheConfig{MaxBytes: maxBytes, TTL: time.Minute})
		c.now = func() time.Time { return now }
		return c
	}
	// Each entry below costs its body, its one-byte key and perEntryBytes.
	const body = 1000
	size := int64(body + 1 + perEntryBytes)

	// Room for four entries: a larger one is not worth a quarter of it.
	const room = 4
	t.Run("least recently used out first", func(t *testing.T) {
		c := newTestCache(room * size)
		for _, k := range "abcd" {
			c.put(string(k), entry(byte(k), body), c.generation())
		}
		c.get("a") // b is now the least recently used
		c.put("e", entry('e', body), c.generation())
		for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true, "e": true} {
			if _, ok := c.get(k); ok != want {
				t.Errorf("%s held: %v, want %v", k, ok, want)
			}
		}
		if s := c.Stats(); s.Bytes != room*size || s.Entries != room || s.Evictions != 1 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("replacing an entry", func(t *testing.T) {
		c := newTestCache(room * size)
		c.put("a", entry('a', body), c.generation())
		c.put("a", entry('A', body), c.generation())
		if e, _ := c.get("a"); e.body[0] != 'A' || c.Stats().Bytes != size {
			t.Errorf("got %q with %d bytes held", e.body[:1], c.Stats().Bytes)
		}
	})
	t.Run("too large to keep", func(t *testing.T) {
		c := newTestCache(room * size)
		c.put("a", entry('a', 2*body), c.generation())
		if _, ok := c.get("a"); ok {
			t.Error("kept an entry of most of the cache")
		}
	})
	t.Run("expiry", func(t *testing.T) {
		c := newTestCache(room * size)
		c.put("a", entry('a', body), c.generation())
		now = now.Add(59 * time.Second)
		if _, ok := c.get("a"); !ok {
			t.Error("expired before its TTL")
		}
		now = now.Add(time.Second)
		if _, ok := c.get("a"); ok {
			t.Error("served after its TTL")
		}
		if c.Stats().Bytes != 0 {
			t.Error("an expired entry still counts")
		}
	})
	t.Run("computed across a purge", func(t *testing.T) {
		c := newTestCache(room * size)
		gen := c.generation()
		c.purge() // a write landed while the response was computed
		c.put("a", entry('a', body), gen)
		if _, ok := c.get("a"); ok {
			t.Error("kept a response computed before the purge")
		}
		c.put("a", entry('a', body), c.generation())
		if _, ok := c.get("a"); !ok {
			t.Error("refused a response computed after the purge")
		}
	})
	t.Run("purge", func(t *testing.T) {
		c := newTestCache(room * size)
		c.put("a", entry('a', body), c.generation())
		c.purge()
		if _, ok := c.get("a"); ok || c.Stats().Bytes != 0 || c.Stats().Purges != 1 {
			t.Errorf("after a purge: %+v", c.Stats())
		}
	})
}

func TestResponseKey(t *testing.T) {
	t.Parallel()
	vars := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	persisted := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": "abc"}}
	tests := []struct {
		name string
		a, b *graphql.RawParams
		same bool
	}{
		{"variables in any order", &graphql.RawParams{Query: "q", Variables: vars(`{"a":1,"b":{"c":2,"d":3}}`)},
			&graphql.RawParams{Query: "q", Variables: vars(`{"b":{"d":3,"c":2},"a":1}`)}, true},
		{"other variables", &graphql.RawParams{Query: "q", Variables: vars(`{"a":1}`)}, &graphql.RawParams{Query: "q", Variables: vars(`{"a":2}`)}, false},
		{"no variables and empty ones", &graphql.RawParams{Query: "q"}, &graphql.RawParams{Query: "q", Variables: map[string]any{}}, true},
		{"other operation", &graphql.RawParams{Query: "q", OperationName: "A"}, &graphql.RawParams{Query: "q", OperationName: "B"}, false},
		{"a name cannot run into the document", &graphql.RawParams{Query: "b", OperationName: "a"}, &graphql.RawParams{Query: "\x00b", OperationName: "a\x00"}, false},
		{"other extensions", &graphql.RawParams{Query: "q", Extensions: map[string]any{"x": 1}}, &graphql.RawParams{Query: "q"}, true},
		{"a persisted query by its hash", &graphql.RawParams{Extensions: persisted}, &graphql.RawParams{Extensions: persisted}, true},
		{"a hash is not a document", &graphql.RawParams{Extensions: persisted}, &graphql.RawParams{Query: "sha256:abc"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, okA := responseKey(Public, tt.a)
			b, okB := responseKey(Public, tt.b)
			if !okA || !okB || (a == b) != tt.same {
				t.Errorf("keys %q and %q: same %v, want %v", a, b, a == b, tt.same)
			}
		})
	}
	if a, _ := responseKey(Public, &graphql.RawParams{Query: "q"}); a == func() string { k, _ := responseKey(Public<<1, &graphql.RawParams{Query: "q"}); return k }() {
		t.Error("two classes share a key")
	}
	if _, ok := responseKey(Public, &graphql.RawParams{}); ok {
		t.Error("a key for no document")
	}
}

func TestMatchesETag(t *testing.T) {
	t.Parallel()
	const tag = `"abc"`
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{`"abc"`}, true},
		{[]string{`W/"abc"`}, true},
		{[]string{`"x", "abc"`}, true},
		{[]string{`"x"`, `"abc"`}, true},
		{[]string{`*`}, true},
		{[]string{`"abcd"`}, false},
		{[]string{`abc`}, false},
	}
	for _, tt := range tests {
		if got := matchesETag(tt.header, tag); got != tt.want {
			t.Errorf("If-None-Match %q: %v, want %v", tt.header, got, tt.want)
		}
	}
}
