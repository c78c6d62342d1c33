package gqlhttp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/redis"
)

// newEvents is one process's event service on the Redis at url.
func newEvents(t *testing.T, url string) *redis.Events {
	t.Helper()
	events := redis.NewEvents(testenv.RedisClient(t, url), nil)
	t.Cleanup(func() { events.Close() })
	return events
}

// A response held for one caller reaches another only if the handler
// without a cache would have given that caller the same bytes: every
// document is asked by every kind of caller, in one order and back, over
// GET and POST, and compared with a handler without a cache over the same
// data.
func TestCachedResponsesFollowTheSharing(t *testing.T) {
	t.Parallel()
	cache := gqlhttptest.NewCache(nil)
	s := newServer(t, withCache(cache))
	uncached := newServerOn(t, s.tiny)
	viewers := []*edustream.User{staff, alice, bob, nil}
	documents := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"shared by everyone", `query Shelf($n: Int) { greeting books(first: $n) { id title related(first: 2) { title } } }`, map[string]any{"n": 3}},
		{"other variables", `query Shelf($n: Int) { greeting books(first: $n) { id title related(first: 2) { title } } }`, map[string]any{"n": 4}},
		{"fragments", `{ books { ...B } } fragment B on Book { id related { ...B2 } } fragment B2 on Book { title }`, nil},
		{"the caller's own", `{ me }`, nil},
		{"the caller's own, and shared", `{ greeting me }`, nil},
		{"shared by nobody", `{ visits }`, nil},
	}
	ask := func(t *testing.T, s *server, u *edustream.User, method, query string, vars map[string]any) string {
		t.Helper()
		return gqlhttptest.Query(t, s.handler, u, method, query, vars).Raw
	}
	reversed := []*edustream.User{nil, bob, alice, staff}
	for _, doc := range documents {
		for _, order := range [][]*edustream.User{viewers, reversed, viewers} {
			for _, u := range order {
				for _, method := range []string{http.MethodPost, http.MethodGet} {
					got := ask(t, s, u, method, doc.query, doc.vars)
					want := ask(t, uncached, u, method, doc.query, doc.vars)
					if got != want {
						t.Fatalf("%s: %s by %v:\n got %s\nwant %s", doc.name, method, u, got, want)
					}
				}
			}
			// Moves nothing a shared read shows, so empties no cache.
			s.post(t, staff, `mutation { visit }`, nil).NoErrors(t)
		}
	}
	// Else the test above proves nothing.
	if st := cache.Stats(); st.Hits < int64(len(documents)) || st.Purges != 0 {
		t.Errorf("the cache served %d responses and was emptied %d times; the test needs hits and no purges: %+v", st.Hits, st.Purges, st)
	}
}

// A mutation empties the cache, before it answers, if the schema's rule
// says it changed what shared reads show; one that failed, or changed
// nothing shared, keeps it: anyone could otherwise empty the fleet's caches
// at will.
func TestMutationsEmptyTheCache(t *testing.T) {
	t.Parallel()
	cache := gqlhttptest.NewCache(nil)
	s := newServer(t, withCache(cache))
	const shelf = `{ greeting books { title } }`
	tests := []struct {
		name  string
		user  *edustream.User
		query string
	}{
		{"refused", nil, `mutation { setGreeting(text: "Mine now") }`},
		{"invalid input", staff, `mutation { setGreeting(text: "") }`},
		{"a failed mutation", staff, `mutation { fail }`},
		{"nothing shared changed", staff, `mutation { visit }`},
		{"nothing shared changed, and a failure", staff, `mutation { visit setGreeting(text: "") }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.post(t, nil, shelf, nil).NoErrors(t)
			before := cache.Stats()
			s.post(t, tt.user, tt.query, nil)
			if after := cache.Stats(); after.Purges != before.Purges || after.Entries != before.Entries {
				t.Errorf("the mutation emptied the cache: %+v, was %+v", after, before)
			}
		})
	}
	// And one that changed something does, before it answers.
	before := cache.Stats().Purges
	s.post(t, staff, `mutation { visit setGreeting(text: "Hi") }`, nil).NoErrors(t)
	if cache.Stats().Purges == before {
		t.Error("setGreeting kept the cache")
	}
	if r := s.post(t, nil, shelf, nil).NoErrors(t); !strings.Contains(r.Raw, `"Hi"`) {
		t.Errorf("after the write: %s", r.Raw)
	}
}

// A response kept in the cache is computed reading the primary: the write
// that emptied the cache may not have reached a replica yet, and what is
// kept is served until the next write. Responses not kept read wherever
// the schema routes them.
func TestKeptResponsesReadThePrimary(t *testing.T) {
	t.Parallel()
	s := newServer(t, withCache(gqlhttptest.NewCache(nil)))
	tests := []struct {
		name    string
		user    *edustream.User
		query   string
		primary bool
	}{
		{"shared, anonymous", nil, `{ greeting books { title } }`, true},
		{"shared, a member", alice, `{ greeting books { title } }`, true},
		{"a caller of no class", staff, `{ greeting books { title } }`, false},
		{"shared by nobody", nil, `{ greeting visits }`, false},
		{"not shared by the caller's class", alice, `{ greeting me }`, false},
	}
	for _, tt := range tests {
		before := s.primary.Load()
		s.post(t, tt.user, tt.query, nil).NoErrors(t)
		if read := s.primary.Load() > before; read != tt.primary {
			t.Errorf("%s: read the primary %v, want %v", tt.name, read, tt.primary)
		}
	}
}

// A write is visible on the very next read on another instance sharing the
// event service, even one slow to drop its cache: the mutation answers
// only once every instance has.
func TestWritesReachOtherInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redisURL := testenv.RedisURL(t)
	cacheA, cacheB := gqlhttptest.NewCache(newEvents(t, redisURL)), gqlhttptest.NewCache(gqlhttptest.SlowDelivery{EventService: newEvents(t, redisURL), Delay: 30 * time.Millisecond})
	for _, c := range []*gqlhttp.ResponseCache{cacheA, cacheB} {
		if err := c.Listen(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a := newServer(t, withCache(cacheA))
	b := newServerOn(t, a.tiny, withCache(cacheB))
	const shelf = `{ greeting books { title } }`
	for _, s := range []*server{a, b} {
		s.post(t, nil, shelf, nil).NoErrors(t)
		before := s.cache.Stats().Hits
		if s.post(t, nil, shelf, nil).NoErrors(t); s.cache.Stats().Hits != before+1 {
			t.Fatal("the shelf was not served from the cache")
		}
	}
	a.post(t, staff, `mutation { setGreeting(text: "Renamed") }`, nil).NoErrors(t)
	for _, s := range []*server{b, a} {
		if r := s.post(t, nil, shelf, nil).NoErrors(t); !strings.Contains(r.Raw, "Renamed") {
			t.Errorf("the next read shows %s", r.Raw)
		}
	}
}

// A mutation's client may hang up as the write completes: the other
// instances still hear of the write.
func TestInvalidationOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	redisURL := testenv.RedisURL(t)
	a, b := gqlhttptest.NewCache(newEvents(t, redisURL)), gqlhttptest.NewCache(newEvents(t, redisURL))
	for _, c := range []*gqlhttp.ResponseCache{a, b} {
		if err := c.Listen(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	hungUp, cancel := context.WithCancel(context.Background())
	cancel()
	before := b.Stats().Purges
	a.Invalidate(hungUp, edustream.ContentChange{CourseID: 1})
	if b.Stats().Purges == before {
		t.Error("the other instance kept its cache")
	}
}
