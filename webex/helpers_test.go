package webex_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// epoch is where every test's clock starts; the fake shares the clock, so
// "now" agrees on both sides.
var epoch = time.Date(2030, time.March, 4, 9, 0, 0, 0, time.UTC)

// fakeClock is a webex.Clock that records sleeps and moves its own time
// instead of waiting.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bundle is what most tests need: a fake, a client on it, their shared
// clock and the client's log.
type bundle struct {
	fake   *webextest.Server
	client *webex.Client
	clock  *fakeClock
	logs   *syncBuffer
	cfg    webex.Config
	// token is the static token, or for OAuth the client secret's partner:
	token string
	// OAuth credentials, when setupOAuth made the bundle.
	clientID, clientSecret, refreshToken string
	store                                *webex.MemoryTokenStore
}

type option func(*webextest.Config, *webex.Config)

// setup returns a client using a static token on a fresh fake.
func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	b, fcfg, cfg := prepare(t, opts)
	b.fake = webextest.New(t, fcfg)
	b.token = b.fake.IssueAccessToken(0)
	cfg.BaseURL = b.fake.URL
	cfg.Token = b.token
	b.finish(t, cfg)
	return b
}

// setupOAuth returns a client authenticating as an integration, with a
// memory store, on a fresh fake.
func setupOAuth(t *testing.T, opts ...option) *bundle {
	t.Helper()
	b, fcfg, cfg := prepare(t, opts)
	b.fake = webextest.New(t, fcfg)
	b.clientID, b.clientSecret = "C0ffee-integration", "s3cret-client-value-9f1c"
	b.fake.AddClient(b.clientID, b.clientSecret)
	b.refreshToken = b.fake.IssueRefreshToken(b.clientID)
	b.store = &webex.MemoryTokenStore{}
	cfg.BaseURL = b.fake.URL
	oc := webex.OAuthConfig{ClientID: b.clientID, ClientSecret: b.clientSecret, RefreshToken: b.refreshToken, Store: b.store}
	if cfg.OAuth != nil {
		// An option set margins and windows; keep them.
		oc.RefreshMargin = cfg.OAuth.RefreshMargin
		oc.RefreshWarning = cfg.OAuth.RefreshWarning
		oc.MinRefreshInterval = cfg.OAuth.MinRefreshInterval
	}
	cfg.OAuth = &oc
	b.finish(t, cfg)
	return b
}

func prepare(t *testing.T, opts []option) (*bundle, webextest.Config, webex.Config) {
	t.Helper()
	b := &bundle{clock: &fakeClock{now: epoch}, logs: &syncBuffer{}}
	fcfg := webextest.Config{Now: b.clock.Now}
	cfg := webex.Config{
		Clock:  b.clock,
		Logger: slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// The ceiling itself, so backoff is predictable.
		Jitter: func(ceiling time.Duration) time.Duration { return ceiling },
	}
	for _, o := range opts {
		o(&fcfg, &cfg)
	}
	return b, fcfg, cfg
}

func (b *bundle) finish(t *testing.T, cfg webex.Config) {
	t.Helper()
	c, err := webex.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.client, b.cfg = c, cfg
}

// newClient makes another client with the bundle's configuration, as after
// a restart.
func (b *bundle) newClient(t *testing.T) *webex.Client {
	t.Helper()
	c, err := webex.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// meeting schedules a meeting starting in 2 days, failing the test on
// error.
func (b *bundle) meeting(t *testing.T, title string) *webex.Meeting {
	t.Helper()
	start := b.clock.Now().Add(48 * time.Hour)
	m, err := b.client.CreateMeeting(context.Background(), webex.NewMeeting{
		Title: title, Start: start, End: start.Add(time.Hour), Timezone: "UTC",
	})
	if err != nil {
		t.Fatalf("create meeting %q: %v", title, err)
	}
	return m
}

// bearers returns the bearer tokens the fake received.
func bearers(s *webextest.Server) []string {
	var out []string
	for _, r := range s.Requests("", "") {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			out = append(out, tok)
		}
	}
	return out
}

// lastBearer is the token sent with the last API request.
func lastBearer(t *testing.T, s *webextest.Server) string {
	t.Helper()
	bs := bearers(s)
	if len(bs) == 0 {
		t.Fatal("no request carried a bearer token")
	}
	return bs[len(bs)-1]
}

func statuses(reqs []webextest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

// withTimeouts sets the client's call and attempt timeouts.
func withTimeouts(call, attempt time.Duration) option {
	return func(_ *webextest.Config, c *webex.Config) { c.Timeout, c.AttemptTimeout = call, attempt }
}

func withRetries(attempts int, base, max time.Duration) option {
	return func(_ *webextest.Config, c *webex.Config) {
		c.MaxAttempts, c.BaseBackoff, c.MaxBackoff = attempts, base, max
	}
}
