package webex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// expirySkew is how long before its stated expiry an access token is no
// longer sent, so it cannot expire between here and Webex.
const expirySkew = 30 * time.Second

// oauthAuth supplies access tokens of an integration, refreshing them
// before they expire. One refresh runs at a time (a "flight"); callers with
// no usable token wait for it, callers with one carry on.
type oauthAuth struct {
	cfg         OAuthConfig
	store       TokenStore
	tokenURL    string
	c           *Client
	margin      time.Duration
	warning     time.Duration
	minInterval time.Duration

	mu sync.Mutex
	// tok is the current pair; loaded says the store has been read.
	tok    Token
	loaded bool
	// refused is an access token Webex answered 401 to: never adopted
	// again from the store.
	refused     string
	flight      *flight
	lastAttempt time.Time
	lastRefresh time.Time
	// status is the outcome of the last refresh: AuthOK,
	// AuthRefreshFailing or AuthRevoked.
	status  AuthStatus
	lastErr string
}

type flight struct {
	done chan struct{}
	err  error
}

func newOAuth(cfg OAuthConfig, c *Client) (*oauthAuth, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("webex: OAuth needs a client id and a client secret")
	}
	if cfg.RefreshToken == "" && cfg.Store == nil {
		return nil, errors.New("webex: OAuth needs a refresh token or a store that holds one")
	}
	a := &oauthAuth{
		cfg:         cfg,
		store:       cfg.Store,
		tokenURL:    cfg.TokenURL,
		c:           c,
		margin:      orDefault(cfg.RefreshMargin, DefaultRefreshMargin),
		warning:     orDefault(cfg.RefreshWarning, DefaultRefreshWarning),
		minInterval: orDefault(cfg.MinRefreshInterval, DefaultMinRefreshInterval),
		status:      AuthOK,
	}
	if a.store == nil {
		a.store = &MemoryTokenStore{}
	}
	if a.tokenURL == "" {
		a.tokenURL = c.base.String() + "/access_token"
	}
	return a, nil
}

// Authenticate makes sure the client holds a usable access token, loading
// the store and refreshing as needed, without calling the API. Run it at
// start-up so bad OAuth credentials are a clear error there rather than on
// the first live session. With a static token it has nothing to check.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.auth.token(ctx)
	return err
}

func (a *oauthAuth) usable(now time.Time) bool {
	return a.tok.AccessToken != "" && (a.tok.Expiry.IsZero() || now.Before(a.tok.Expiry.Add(-expirySkew)))
}

func (a *oauthAuth) due(now time.Time) bool {
	return !a.tok.Expiry.IsZero() && !now.Before(a.tok.Expiry.Add(-a.margin))
}

func (a *oauthAuth) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	now := a.c.clock.Now()
	if a.loaded && a.usable(now) {
		tok := a.tok.AccessToken
		if !a.due(now) || a.flight != nil || now.Sub(a.lastAttempt) < a.minInterval {
			a.mu.Unlock()
			return tok, nil
		}
		// Refresh early and wait for it: once every two weeks one call pays
		// the latency, and when it fails the old token still works.
		f := a.start(ctx)
		a.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.usable(a.c.clock.Now()) {
			return a.tok.AccessToken, nil
		}
		return "", f.errOr(errors.New("webex: no valid access token"))
	}
	f := a.flight
	if f == nil {
		f = a.start(ctx)
	}
	a.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.usable(a.c.clock.Now()) {
		return a.tok.AccessToken, nil
	}
	return "", f.errOr(errors.New("webex: no valid access token"))
}

func (f *flight) errOr(def error) error {
	if f.err != nil {
		return f.err
	}
	return def
}

// start begins a refresh flight; a.mu must be held. The flight outlives the
// caller's cancellation, since other callers may be waiting on it, but not
// the call timeout.
func (a *oauthAuth) start(ctx context.Context) *flight {
	f := &flight{done: make(chan struct{})}
	a.flight = f
	a.lastAttempt = a.c.clock.Now()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.c.timeout)
	go func() {
		defer cancel()
		err := a.refresh(rctx)
		a.mu.Lock()
		a.flight = nil
		f.err = err
		a.mu.Unlock()
		close(f.done)
	}()
	return f
}

// refresh reads the store, adopts a newer token another process saved, and
// otherwise exchanges the refresh token for a new pair and saves it.
func (a *oauthAuth) refresh(ctx context.Context) error {
	stored, loadErr := a.store.Load(ctx)

	a.mu.Lock()
	if loadErr != nil {
		a.lastErr = "load token: " + redact(loadErr.Error(), a.secretsLocked())
		a.c.log.LogAttrs(ctx, slog.LevelWarn, "webex: cannot load the stored token", slog.String("error", a.lastErr))
	}
	switch {
	case loadErr != nil && !a.loaded:
		a.tok = Token{RefreshToken: a.cfg.RefreshToken}
	case loadErr != nil:
	case !a.loaded && (stored.AccessToken != "" || stored.RefreshToken != ""):
		a.tok = stored
	case !a.loaded:
		a.tok = Token{RefreshToken: a.cfg.RefreshToken}
	case stored.AccessToken != "" && stored.AccessToken != a.tok.AccessToken && stored.Expiry.After(a.tok.Expiry):
		// Another instance refreshed; its pair is newer than ours.
		a.tok = stored
	}
	a.loaded = true
	if a.tok.AccessToken != "" && a.tok.AccessToken == a.refused {
		a.tok.AccessToken, a.tok.Expiry = "", time.Time{}
	}
	now := a.c.clock.Now()
	if a.usable(now) && !a.due(now) {
		a.mu.Unlock()
		return nil
	}
	rt := a.tok.RefreshToken
	if rt == "" {
		rt = a.cfg.RefreshToken
	}
	prev := a.tok
	a.mu.Unlock()

	if rt == "" {
		a.fail(ctx, ErrRefreshRejected, "no refresh token is configured or stored")
		return fmt.Errorf("%w: no refresh token is configured or stored", ErrRefreshRejected)
	}
	tok, err := a.exchange(ctx, rt, prev)
	if errors.Is(err, ErrRefreshRejected) && a.cfg.RefreshToken != "" && a.cfg.RefreshToken != rt {
		// The stored refresh token is dead; an operator may have configured
		// a new one.
		a.c.log.LogAttrs(ctx, slog.LevelWarn, "webex: stored refresh token rejected, trying the configured one")
		tok, err = a.exchange(ctx, a.cfg.RefreshToken, Token{})
	}
	if err != nil {
		a.fail(ctx, err, err.Error())
		return err
	}

	a.mu.Lock()
	a.tok = tok
	a.status = AuthOK
	a.lastErr = ""
	a.lastRefresh = a.c.clock.Now()
	a.mu.Unlock()
	a.c.log.LogAttrs(ctx, slog.LevelInfo, "webex: refreshed access token", slog.Any("token", tok))
	if !tok.RefreshExpiry.IsZero() && a.c.clock.Now().After(tok.RefreshExpiry.Add(-a.warning)) {
		a.c.log.LogAttrs(ctx, slog.LevelWarn, "webex: the refresh token expires soon; authorize the integration again",
			slog.Time("refreshExpiry", tok.RefreshExpiry))
	}
	if err := a.store.Save(ctx, tok); err != nil {
		// The new pair works in memory; a restart falls back to the stored
		// one, which Webex normally still honours. Loud, not fatal.
		a.mu.Lock()
		a.lastErr = "save token: " + redact(err.Error(), a.secretsLocked())
		msg := a.lastErr
		a.mu.Unlock()
		a.c.log.LogAttrs(ctx, slog.LevelError, "webex: cannot save the refreshed token", slog.String("error", msg))
	}
	return nil
}

// fail records a failed refresh for Health.
func (a *oauthAuth) fail(ctx context.Context, err error, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastErr = redact(msg, a.secretsLocked())
	if errors.Is(err, ErrRefreshRejected) {
		a.status = AuthRevoked
	} else {
		a.status = AuthRefreshFailing
	}
	a.c.log.LogAttrs(ctx, slog.LevelError, "webex: token refresh failed",
		slog.String("status", string(a.status)), slog.String("error", a.lastErr))
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken           string  `json:"access_token"`
	ExpiresIn             seconds `json:"expires_in"`
	RefreshToken          string  `json:"refresh_token"`
	RefreshTokenExpiresIn seconds `json:"refresh_token_expires_in"`
}

// seconds decodes a lifetime sent as a JSON number or a numeric string.
type seconds int64

func (s *seconds) UnmarshalJSON(b []byte) error {
	v := strings.Trim(string(b), `"`)
	if v == "" || v == "null" {
		*s = 0
		return nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("lifetime %s: %w", b, err)
	}
	*s = seconds(n)
	return nil
}

// exchange trades refresh token rt for a new pair. prev is the pair rt
// came from, whose refresh expiry is kept if Webex does not send one.
func (a *oauthAuth) exchange(ctx context.Context, rt string, prev Token) (Token, error) {
	const op = "POST access_token"
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {a.cfg.ClientID},
		"client_secret": {a.cfg.ClientSecret},
		"refresh_token": {rt},
	}.Encode()
	for attempt := 1; ; attempt++ {
		issued := a.c.clock.Now()
		res, err := a.post(ctx, form)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || attempt >= a.c.maxAttempts {
				return Token{}, fmt.Errorf("webex: refresh access token: %w", err)
			}
			wait = a.c.backoff(attempt)
		case res.status == http.StatusOK:
			var body tokenResponse
			if err := json.Unmarshal(res.body, &body); err != nil {
				return Token{}, fmt.Errorf("webex: refresh access token: decode response: %w", err)
			}
			if body.AccessToken == "" {
				return Token{}, errors.New("webex: refresh access token: the response has no access_token")
			}
			t := Token{AccessToken: body.AccessToken, RefreshToken: body.RefreshToken}
			if body.ExpiresIn > 0 {
				t.Expiry = issued.Add(time.Duration(body.ExpiresIn) * time.Second)
			}
			if t.RefreshToken == "" {
				t.RefreshToken = rt
			}
			switch {
			case body.RefreshTokenExpiresIn > 0:
				t.RefreshExpiry = issued.Add(time.Duration(body.RefreshTokenExpiresIn) * time.Second)
			case t.RefreshToken == prev.RefreshToken:
				t.RefreshExpiry = prev.RefreshExpiry
			}
			return t, nil
		case res.status == http.StatusBadRequest || res.status == http.StatusUnauthorized:
			// invalid_grant (revoked or expired refresh token) or
			// invalid_client: retrying cannot help.
			return Token{}, fmt.Errorf("%w: %w", ErrRefreshRejected, a.c.newError(op, res))
		case res.status == http.StatusTooManyRequests || res.status == http.StatusLocked || res.status >= 500:
			apiErr := a.c.newError(op, res)
			if attempt >= a.c.maxAttempts || apiErr.RetryAfter > a.c.maxRetryAfter {
				return Token{}, apiErr
			}
			if wait = apiErr.RetryAfter; wait <= 0 {
				wait = a.c.backoff(attempt)
			}
		default:
			return Token{}, a.c.newError(op, res)
		}
		if err := a.c.clock.Sleep(ctx, wait); err != nil {
			return Token{}, fmt.Errorf("webex: refresh access token: %w", err)
		}
	}
}

func (a *oauthAuth) post(ctx context.Context, form string) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, a.c.attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", a.c.userAgent)
	resp, err := a.c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}, nil
}

func (a *oauthAuth) rejected(ctx context.Context, tok string) bool {
	a.mu.Lock()
	if a.tok.AccessToken == tok {
		a.refused = tok
		a.tok.AccessToken, a.tok.Expiry = "", time.Time{}
	}
	a.mu.Unlock()
	fresh, err := a.token(ctx)
	return err == nil && fresh != tok
}

func (a *oauthAuth) accepted(string) {}

func (a *oauthAuth) health() Health {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.c.clock.Now()
	h := Health{
		Mode:               "oauth",
		AccessTokenExpiry:  a.tok.Expiry,
		RefreshTokenExpiry: a.tok.RefreshExpiry,
		LastRefresh:        a.lastRefresh,
		LastError:          a.lastErr,
	}
	refreshDead := !a.tok.RefreshExpiry.IsZero() && !now.Before(a.tok.RefreshExpiry)
	switch {
	case a.status == AuthRevoked:
		h.Status = AuthRevoked
	case a.loaded && !a.usable(now) && (refreshDead || a.status == AuthRefreshFailing):
		h.Status = AuthExpired
	case a.status == AuthRefreshFailing:
		h.Status = AuthRefreshFailing
	case !a.tok.RefreshExpiry.IsZero() && !now.Before(a.tok.RefreshExpiry.Add(-a.warning)):
		h.Status = AuthRefreshExpiring
	default:
		h.Status = AuthOK
	}
	h.Ready = h.Status == AuthOK || h.Status == AuthRefreshExpiring || h.Status == AuthRefreshFailing
	return h
}

func (a *oauthAuth) secrets() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.secretsLocked()
}

func (a *oauthAuth) secretsLocked() []string {
	return []string{a.tok.AccessToken, a.tok.RefreshToken, a.cfg.RefreshToken, a.cfg.ClientSecret, a.refused}
}
