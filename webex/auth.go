package webex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Token is an OAuth token pair as the client keeps and persists it. Its
// String, GoString and LogValue never print the tokens themselves.
type Token struct {
	AccessToken string
	// Expiry is when AccessToken stops working; zero if unknown.
	Expiry       time.Time
	RefreshToken string
	// RefreshExpiry is when RefreshToken stops working; zero if unknown.
	RefreshExpiry time.Time
}

// String implements fmt.Stringer without revealing the tokens.
func (t Token) String() string {
	return fmt.Sprintf("webex.Token{access: %s, expires %s; refresh: %s, expires %s}",
		present(t.AccessToken), stamp(t.Expiry), present(t.RefreshToken), stamp(t.RefreshExpiry))
}

// GoString implements fmt.GoStringer, so %#v does not reveal the tokens
// either.
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer with the expiries only.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expiry", t.Expiry), slog.Time("refreshExpiry", t.RefreshExpiry))
}

func present(s string) string {
	if s == "" {
		return "none"
	}
	return "[redacted]"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

// TokenStore persists the OAuth token pair, so a restart (or another
// instance) resumes from the newest refresh token rather than the one in the
// environment, which Webex may have replaced. The database implements it.
//
// Errors are treated as passing: a Load error falls back to the token in
// memory (or the configured refresh token), a Save error keeps the new
// token in memory and shows in Health.LastError. Neither may contain a
// token.
type TokenStore interface {
	// Load returns the stored token, or the zero Token and nil when none
	// is stored.
	Load(ctx context.Context) (Token, error)
	// Save replaces the stored token with t. Several instances may save
	// concurrently; the last write wins, and each pair works.
	Save(ctx context.Context, t Token) error
}

// MemoryTokenStore is a TokenStore that lives as long as the process: for
// development and tests.
type MemoryTokenStore struct {
	mu    sync.Mutex
	token Token
}

// Load implements TokenStore.
func (s *MemoryTokenStore) Load(context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, nil
}

// Save implements TokenStore.
func (s *MemoryTokenStore) Save(_ context.Context, t Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = t
	return nil
}

// OAuthConfig configures authentication as a Webex integration.
type OAuthConfig struct {
	ClientID     string
	ClientSecret string
	// RefreshToken bootstraps an empty store. Once the store holds a token
	// it wins; RefreshToken is tried again only if the stored one is
	// rejected, so an operator can recover by setting a new one.
	RefreshToken string
	// Store persists refreshed tokens; a MemoryTokenStore when nil.
	Store TokenStore
	// TokenURL is the token endpoint, <BaseURL>/access_token when empty.
	TokenURL string
	// RefreshMargin is how long before the access token expires the client
	// refreshes it: long enough to ride out a token-endpoint outage. Default
	// 24h (Webex access tokens live about 14 days).
	RefreshMargin time.Duration
	// RefreshWarning is how long before the refresh token expires Health
	// starts to warn. Default 7 days.
	RefreshWarning time.Duration
	// MinRefreshInterval spaces out early refreshes. Webex may answer a
	// refresh within about a day of the previous one with the same token and
	// expiry; without this the client would ask on every call until the
	// token is no longer inside the margin. Default 5 minutes. A token that
	// has expired or was refused is refreshed regardless.
	MinRefreshInterval time.Duration
}

// Defaults of OAuthConfig.
const (
	DefaultRefreshMargin      = 24 * time.Hour
	DefaultRefreshWarning     = 7 * 24 * time.Hour
	DefaultMinRefreshInterval = 5 * time.Minute
)

// ErrRefreshRejected matches the error of a call that failed because the
// token endpoint refused the refresh token or the client credentials (400
// or 401): someone must authorize the integration again.
var ErrRefreshRejected = errors.New("webex: the token endpoint rejected the refresh token or client credentials")

// AuthStatus summarizes the credentials for Health.
type AuthStatus string

// The values of AuthStatus.
const (
	// AuthOK: the credentials work, or have not been tried yet.
	AuthOK AuthStatus = "ok"
	// AuthRefreshExpiring: the refresh token expires within
	// OAuthConfig.RefreshWarning. Still ready; someone should look.
	AuthRefreshExpiring AuthStatus = "refresh_token_expiring"
	// AuthRefreshFailing: the last refresh failed for a passing reason
	// (network, 5xx); the current access token is still valid.
	AuthRefreshFailing AuthStatus = "refresh_failing"
	// AuthRevoked: the token endpoint refused the refresh token or the
	// client credentials. Not ready.
	AuthRevoked AuthStatus = "refresh_token_revoked"
	// AuthExpired: no valid access token and none could be had. Not ready.
	AuthExpired AuthStatus = "token_expired"
	// AuthUnauthorized: Webex refused the static token. Not ready.
	AuthUnauthorized AuthStatus = "unauthorized"
)

// Health is the state of a Client's credentials.
type Health struct {
	// Mode is "token" or "oauth".
	Mode   string
	Status AuthStatus
	// Ready is false when calls cannot succeed until an operator acts.
	Ready              bool
	AccessTokenExpiry  time.Time
	RefreshTokenExpiry time.Time
	LastRefresh        time.Time
	// LastError describes the last refresh or store failure; it holds no
	// secret.
	LastError string
}

// Err returns nil when h.Ready, else an error for /readyz that says why.
func (h Health) Err() error {
	if h.Ready {
		return nil
	}
	msg := "webex credentials not usable: " + string(h.Status)
	if h.LastError != "" {
		msg += ": " + h.LastError
	}
	return errors.New(msg)
}

// authenticator supplies bearer tokens to Client.do.
type authenticator interface {
	// token returns the access token to send.
	token(ctx context.Context) (string, error)
	// rejected reports a 401 for tok; true means a retry with a fresh token
	// is worth one more attempt.
	rejected(ctx context.Context, tok string) bool
	// accepted reports a 2xx for tok.
	accepted(tok string)
	health() Health
	// secrets lists the values never to show in an error.
	secrets() []string
}

// staticAuth sends one fixed token.
type staticAuth struct {
	tok string
	mu  sync.Mutex
	bad bool // the last answer to tok was a 401
}

func (a *staticAuth) token(context.Context) (string, error) { return a.tok, nil }

func (a *staticAuth) rejected(context.Context, string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bad = true
	return false // a static token cannot be renewed
}

func (a *staticAuth) accepted(string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bad = false
}

func (a *staticAuth) health() Health {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bad {
		return Health{Mode: "token", Status: AuthUnauthorized, LastError: "Webex answered 401 to the configured token"}
	}
	return Health{Mode: "token", Status: AuthOK, Ready: true}
}

func (a *staticAuth) secrets() []string { return []string{a.tok} }
