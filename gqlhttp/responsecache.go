package gqlhttp

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/edustream/edustream"
)

// ResponseCache holds the bytes of responses that callers of a class share
// (see Sharing), in this process, least recently used first out when
// they exceed its size. An entry is found by the caller's class, the
// operation's name, the document (or its persisted-query hash) and the
// variables.
//
// Any write that shared reads could show drops every entry on every
// instance: mutations through GraphQL do so before they answer, waiting
// for the other instances when the event service can confirm delivery
// (edustream.ConfirmedPublisher), so a write is visible on the next read
// wherever it lands; other writes (the workers') reach the caches as
// content changes on edustream.ContentTopic. A response that
// was being computed while its data changed is not kept (generations),
// responses to keep are read from the primary (a replica may lag behind
// the write that emptied the cache), and every entry expires after a TTL,
// which bounds the life of a change nobody announced.
type ResponseCache struct {
	maxBytes int64
	ttl      time.Duration
	events   edustream.EventService
	now      edustream.Clock

	mu      sync.Mutex
	gen     uint64
	entries map[string]*list.Element // of *cachedResponse
	order   list.List                // most recently used first
	bytes   int64

	hits, misses, evictions, purges atomic.Int64
}

// ResponseCacheConfig configures a ResponseCache.
type ResponseCacheConfig struct {
	// MaxBytes bounds the bytes of the responses held, with their keys.
	MaxBytes int64
	// TTL is how long an entry may be served (zero: DefaultResponseCacheTTL).
	TTL time.Duration
	// Events carries the invalidations between instances. Without it the
	// cache is one process's: fine for dev and tests, wrong for a fleet.
	Events edustream.EventService
}

// DefaultResponseCacheTTL is ResponseCacheConfig.TTL's default.
const DefaultResponseCacheTTL = time.Minute

// perEntryBytes is what an entry costs beyond its body and key: the map
// slot, the list element, the entry and its tags.
const perEntryBytes = 256

// NewResponseCache returns an empty cache. Call Listen before serving
// reads from it.
func NewResponseCache(cfg ResponseCacheConfig) *ResponseCache {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultResponseCacheTTL
	}
	return &ResponseCache{
		maxBytes: cfg.MaxBytes,
		ttl:      cfg.TTL,
		events:   cfg.Events,
		now:      time.Now,
		entries:  map[string]*list.Element{},
	}
}

// Listen drops the cache whenever another process announces a change, or
// the event connection was lost (and announcements with it), until ctx
// ends.
func (c *ResponseCache) Listen(ctx context.Context) error {
	if c.events == nil {
		return nil
	}
	err := c.events.SubscribeFunc(ctx, edustream.ContentTopic, func(e edustream.Event) {
		if e.Content != nil || e.Resync {
			c.purge()
		}
	})
	if err != nil {
		return fmt.Errorf("follow content changes: %w", err)
	}
	return nil
}

// ResponseCacheStats are a cache's counters since it started.
type ResponseCacheStats struct {
	Entries                         int
	Bytes                           int64
	Hits, Misses, Evictions, Purges int64
}

// Stats returns the cache's counters.
func (c *ResponseCache) Stats() ResponseCacheStats {
	c.mu.Lock()
	entries, bytes := len(c.entries), c.bytes
	c.mu.Unlock()
	return ResponseCacheStats{Entries: entries, Bytes: bytes, Hits: c.hits.Load(), Misses: c.misses.Load(),
		Evictions: c.evictions.Load(), Purges: c.purges.Load()}
}

// cachedResponse is a response body with its entity tags, one per media
// type: the bytes are the same, the representations are not.
type cachedResponse struct {
	key string
	// operation is the name of the operation that made the response, for
	// the metrics of the requests it answers.
	operation string
	body      []byte
	etags     [2]string // application/json, application/graphql-response+json
	expires   time.Time
}

func newCachedResponse(body []byte) *cachedResponse {
	return &cachedResponse{body: body, etags: [2]string{entityTag(body, mediaJSON), entityTag(body, mediaGraphQLResponse)}}
}

// etag returns the entity tag of e as media, computing it for a response
// that is not kept.
func (e *cachedResponse) etag(media string) string {
	i := 0
	if media == mediaGraphQLResponse {
		i = 1
	}
	if e.etags[i] == "" {
		return entityTag(e.body, media)
	}
	return e.etags[i]
}

func (e *cachedResponse) size() int64 {
	return int64(len(e.body)+len(e.key)) + perEntryBytes
}

// entityTag is a strong validator of body as media: the same on every
// instance, so a CDN can revalidate against any of them.
func entityTag(body []byte, media string) string {
	h := sha256.New()
	h.Write([]byte(media))
	h.Write([]byte{0})
	h.Write(body)
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
}

// responseKey names the response to params for callers of class. The
// variables as JSON are canonical (encoding/json sorts map keys); the
// extensions are left out but for the persisted query's hash, which names
// the document when the text is not sent.
func responseKey(class Class, params *graphql.RawParams) (string, bool) {
	kind, document := "query", params.Query
	if document == "" {
		pq, _ := params.Extensions["persistedQuery"].(map[string]any)
		hash, _ := pq["sha256Hash"].(string)
		if hash == "" {
			return "", false
		}
		kind, document = "sha256", hash
	}
	var vars []byte
	if len(params.Variables) > 0 {
		var err error
		if vars, err = json.Marshal(params.Variables); err != nil {
			return "", false
		}
	}
	// Lengths first, so that no name can run into the next part.
	return strconv.Itoa(int(class)) + " " + kind + " " + strconv.Itoa(len(params.OperationName)) + ":" + params.OperationName +
		strconv.Itoa(len(document)) + ":" + document + string(vars), true
}

// generation returns the number of purges so far; put refuses an entry
// computed across a purge.
func (c *ResponseCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns the live entry under key.
func (c *ResponseCache) get(key string) (*cachedResponse, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	e := el.Value.(*cachedResponse)
	if !c.now().Before(e.expires) {
		c.remove(el)
		c.misses.Add(1)
		return nil, false
	}
	c.order.MoveToFront(el)
	c.hits.Add(1)
	return e, true
}

// put keeps e under key, unless the cache was purged since gen (e may
// show what the purge was for) or e is too large to be worth a quarter of
// the cache.
func (c *ResponseCache) put(key string, e *cachedResponse, gen uint64) {
	e.key = key
	if e.size() > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	e.expires = c.now().Add(c.ttl)
	c.entries[key] = c.order.PushFront(e)
	c.bytes += e.size()
	for c.bytes > c.maxBytes {
		c.remove(c.order.Back())
		c.evictions.Add(1)
	}
}

func (c *ResponseCache) remove(el *list.Element) {
	e := c.order.Remove(el).(*cachedResponse)
	delete(c.entries, e.key)
	c.bytes -= e.size()
}

// purge drops every entry, and every response being computed.
func (c *ResponseCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.order.Init()
	c.bytes = 0
	c.purges.Add(1)
}

// Invalidate drops every entry here and on every instance, and returns
// once the others have (when the event service can confirm it), so that
// the caller's next read shows its write wherever it lands. An
// instance that did not answer in time is logged, not waited for: it
// drops its cache when its entries expire, or when its event connection
// comes back.
func (c *ResponseCache) Invalidate(ctx context.Context, change edustream.ContentChange) {
	c.purge()
	if c.events == nil {
		return
	}
	// The write is done: a client that hung up must not keep the other
	// instances from hearing of it. The wait for them is bounded anyway.
	ctx = context.WithoutCancel(ctx)
	e := edustream.Event{Topic: edustream.ContentTopic, Content: &change}
	var err error
	if confirmer, ok := c.events.(edustream.ConfirmedPublisher); ok {
		err = confirmer.PublishEventConfirmed(ctx, e)
	} else {
		err = c.events.PublishEvent(ctx, e)
	}
	if err != nil {
		edustream.Logger(ctx).Warn("invalidate shared reads on the other instances; they may show the old version until their entries expire",
			slog.String("error", err.Error()))
	}
}
