package webex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the Webex REST API that a Client talks to unless
// Config.BaseURL says otherwise.
const DefaultBaseURL = "https://webexapis.com/v1"

// Defaults for the zero values of Config.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
	DefaultMaxAttempts    = 5
	DefaultBaseBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRetryAfter  = 2 * time.Minute
	DefaultMaxPages       = 1000
)

// maxResponseBytes bounds what the client reads of a JSON response, so a
// misbehaving server cannot make it buffer without limit.
const maxResponseBytes = 16 << 20

// Clock is the client's view of time. Tests inject one that records sleeps
// and moves its own time forward, so Retry-After and token expiry are
// measured without waiting.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, returning ctx.Err() in that case.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Config configures a Client. Exactly one of Token and OAuth must be set;
// every other zero value means the default.
type Config struct {
	// BaseURL is the API root, DefaultBaseURL when empty. Tests point it at
	// a webextest server.
	BaseURL string
	// Token is a static bearer token (bot or personal access token).
	Token string
	// OAuth authenticates as an integration with refreshable tokens.
	OAuth *OAuthConfig
	// HTTPClient sends the requests. The default refuses redirects, so the
	// bearer token never follows one to another host. Whichever client
	// sends them (one that measures, say), each exchange in a trace is a
	// span (tracing.go): New wraps a copy of its transport.
	HTTPClient *http.Client
	// Timeout bounds one call: every attempt and every wait between them.
	Timeout time.Duration
	// AttemptTimeout bounds one HTTP exchange within a call.
	AttemptTimeout time.Duration
	// MaxAttempts bounds the attempts of one call, retries included.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff after a 5xx
	// or network error: attempt n waits a random duration in
	// [0, min(MaxBackoff, BaseBackoff·2ⁿ⁻¹)] (full jitter).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits out; a
	// longer one (or one past the call's deadline) fails the call at once
	// with the *Error carrying RetryAfter, so a worker can reschedule.
	MaxRetryAfter time.Duration
	// MaxPages bounds how many pages one List call follows.
	MaxPages int
	// Clock defaults to the real clock.
	Clock Clock
	// Jitter picks the wait for a backoff ceiling; the default is uniform in
	// [0, ceiling]. Tests make it return the ceiling.
	Jitter func(ceiling time.Duration) time.Duration
	// Logger receives one line per retry and per token refresh; default
	// slog.Default().
	Logger *slog.Logger
	// UserAgent is sent with every request.
	UserAgent string
}

// Client calls the Webex Meetings REST API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	hc        *http.Client
	auth      authenticator
	clock     Clock
	jitter    func(time.Duration) time.Duration
	log       *slog.Logger
	userAgent string

	timeout        time.Duration
	attemptTimeout time.Duration
	maxAttempts    int
	baseBackoff    time.Duration
	maxBackoff     time.Duration
	maxRetryAfter  time.Duration
	maxPages       int
}

// New returns a Client for cfg. It makes no request: a bad token shows up
// on the first call and in Health.
func New(cfg Config) (*Client, error) {
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("webex: base URL %q is not an absolute http(s) URL", raw)
	}
	c := &Client{
		base:           base,
		hc:             cfg.HTTPClient,
		clock:          cfg.Clock,
		jitter:         cfg.Jitter,
		log:            cfg.Logger,
		userAgent:      cfg.UserAgent,
		timeout:        orDefault(cfg.Timeout, DefaultTimeout),
		attemptTimeout: orDefault(cfg.AttemptTimeout, DefaultAttemptTimeout),
		maxAttempts:    orDefault(cfg.MaxAttempts, DefaultMaxAttempts),
		baseBackoff:    orDefault(cfg.BaseBackoff, DefaultBaseBackoff),
		maxBackoff:     orDefault(cfg.MaxBackoff, DefaultMaxBackoff),
		maxRetryAfter:  orDefault(cfg.MaxRetryAfter, DefaultMaxRetryAfter),
		maxPages:       orDefault(cfg.MaxPages, DefaultMaxPages),
	}
	if c.hc == nil {
		c.hc = &http.Client{
			// Webex does not redirect API calls; refusing redirects keeps the
			// Authorization header on the configured host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	// Traced outermost, so a span covers the whole exchange and the
	// caller's transport (metrics) sees the span's context.
	traced := *c.hc
	if traced.Transport == nil {
		traced.Transport = http.DefaultTransport
	}
	traced.Transport = tracedTransport{base: traced.Transport, basePath: base.Path}
	c.hc = &traced
	if c.clock == nil {
		c.clock = realClock{}
	}
	if c.jitter == nil {
		c.jitter = func(ceiling time.Duration) time.Duration {
			if ceiling <= 0 {
				return 0
			}
			return rand.N(ceiling + 1)
		}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.userAgent == "" {
		c.userAgent = "edustream-webex/1"
	}
	switch {
	case cfg.Token != "" && cfg.OAuth != nil:
		return nil, errors.New("webex: set either Token or OAuth, not both")
	case cfg.Token != "":
		c.auth = &staticAuth{tok: cfg.Token}
	case cfg.OAuth != nil:
		a, err := newOAuth(*cfg.OAuth, c)
		if err != nil {
			return nil, err
		}
		c.auth = a
	default:
		return nil, errors.New("webex: no credentials: set Token or OAuth")
	}
	return c, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Health reports the state of the client's credentials.
func (c *Client) Health() Health { return c.auth.health() }

// request is one logical API call; do turns it into one or more attempts.
type request struct {
	method string
	// path is relative to the base URL and already escaped, e.g.
	// "/meetings/abc"; rawURL, when set, is an absolute URL (a next link)
	// and wins over path and query.
	path   string
	query  url.Values
	rawURL string
	// body is JSON-encoded; contentType overrides application/json.
	body        any
	contentType string
	// idempotent requests are retried after a 5xx or a network error.
	idempotent bool
	// goneOK makes a 404 a success when an earlier attempt may have already
	// done the work (a DELETE whose response was lost).
	goneOK bool
	out    any
}

// op names a request in errors and logs: the method and the path, without
// the query.
func (r request) op(u *url.URL) string { return r.method + " " + u.Path }

func (c *Client) resolve(r request) (*url.URL, error) {
	if r.rawURL != "" {
		return url.Parse(r.rawURL)
	}
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawPath = ""
	if strings.Contains(r.path, "%") {
		u.RawPath = c.base.EscapedPath() + r.path
	}
	u.RawQuery = r.query.Encode()
	return &u, nil
}

// do performs r with retries and decodes a 2xx body into r.out. It returns
// the headers of the final response.
func (c *Client) do(ctx context.Context, r request) (http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u, err := c.resolve(r)
	if err != nil {
		return nil, fmt.Errorf("webex: %s: %w", r.method, err)
	}
	op := r.op(u)
	var body []byte
	if r.body != nil {
		if body, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("webex: %s: encode body: %w", op, err)
		}
	}
	// outcomeUnknown records that an earlier attempt may have reached
	// Webex and been applied: it decides goneOK and marks final errors of
	// non-idempotent requests.
	outcomeUnknown := false
	reauthed := false
	for attempt := 1; ; attempt++ {
		tok, err := c.auth.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("webex: %s: %w", op, err)
		}
		res, err := c.exchange(withAttempt(ctx, attempt), r, u, body, tok)
		if err != nil {
			// Unless no connection was made, Webex may have received and
			// applied the request, even if our deadline cut the wait.
			sent := !isDialError(err)
			outcomeUnknown = outcomeUnknown || sent
			unknown := outcomeUnknown && !r.idempotent
			if ctx.Err() != nil {
				return nil, c.final(unknown, fmt.Errorf("webex: %s: %w", op, context.Cause(ctx)))
			}
			err = fmt.Errorf("webex: %s: %w", op, err)
			if (!r.idempotent && sent) || attempt >= c.maxAttempts {
				return nil, c.final(unknown, err)
			}
			wait := c.backoff(attempt)
			c.log.LogAttrs(ctx, slog.LevelWarn, "webex: retrying after network error",
				slog.String("op", op), slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
			if serr := c.clock.Sleep(ctx, wait); serr != nil {
				return nil, c.final(unknown, fmt.Errorf("%w (gave up waiting to retry: %w)", err, serr))
			}
			continue
		}

		switch s := res.status; {
		case s >= 200 && s < 300:
			c.auth.accepted(tok)
			if r.out != nil && s != http.StatusNoContent && len(bytes.TrimSpace(res.body)) > 0 {
				if err := json.Unmarshal(res.body, r.out); err != nil {
					return nil, fmt.Errorf("webex: %s: decode response: %w", op, err)
				}
			}
			return res.header, nil
		case s == http.StatusNotFound && r.goneOK && outcomeUnknown:
			return res.header, nil
		case s == http.StatusUnauthorized && !reauthed && c.auth.rejected(ctx, tok):
			// The token was refused (revoked, or expired early); one retry
			// with a fresh one, not counted as an attempt.
			reauthed = true
			attempt--
			continue
		}

		apiErr := c.newError(op, res)
		var wait time.Duration
		retry := false
		switch s := res.status; {
		case s == http.StatusTooManyRequests || s == http.StatusLocked:
			// Webex did not process the request, so even a POST may repeat.
			retry = true
			wait = apiErr.RetryAfter
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
		case s >= 500:
			outcomeUnknown = true
			retry = r.idempotent
			wait = apiErr.RetryAfter
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
		}
		if !retry || attempt >= c.maxAttempts || wait > c.maxRetryAfter {
			return res.header, c.final(outcomeUnknown && !r.idempotent, apiErr)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// Waiting would only end in a timeout; fail now and let the
			// caller reschedule with the Retry-After in hand.
			return res.header, c.final(outcomeUnknown && !r.idempotent, apiErr)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "webex: retrying",
			slog.String("op", op), slog.Int("status", res.status), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.String("trackingId", apiErr.TrackingID))
		if serr := c.clock.Sleep(ctx, wait); serr != nil {
			return res.header, c.final(outcomeUnknown && !r.idempotent, fmt.Errorf("%w (gave up waiting to retry: %w)", apiErr, serr))
		}
	}
}

// final marks err with ErrOutcomeUnknown when a non-idempotent request may
// have been applied by an attempt whose response never came back.
func (c *Client) final(unknown bool, err error) error {
	if unknown {
		return &outcomeUnknownError{err: err}
	}
	return err
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// exchange performs one attempt.
func (c *Client) exchange(ctx context.Context, r request, u *url.URL, body []byte, tok string) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(b) > maxResponseBytes {
		return nil, fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// backoff returns the wait before attempt+1: full jitter under an
// exponentially growing, capped ceiling.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.maxBackoff
	if attempt-1 < 32 {
		if d := c.baseBackoff << (attempt - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return c.jitter(ceiling)
}

// isDialError reports whether err happened before the request left this
// process (no connection was made), so repeating it cannot duplicate work.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date. A date is measured against the response's Date header when
// there is one, so a skewed local clock does not stretch or cut the wait.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	ref := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		ref = d
	}
	if wait := t.Sub(ref); wait > 0 {
		return wait
	}
	return 0
}
