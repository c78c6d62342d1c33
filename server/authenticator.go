package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edustream/edustream"
)

// The user cache spares the database a write per request from a busy
// client. An entry is only reused for the exact same claims, so a new role,
// email or name in a fresh token reaches the database at once; the TTL
// bounds how long a user changed elsewhere (say, by an admin) looks stale.
const (
	userCacheTTL  = 3 * time.Minute
	userCacheSize = 10_000
)

// NewAuthenticator returns the edustream.Authenticator that the HTTP
// middleware and the websocket connection_init handler share: it verifies the
// token with v and signs in the user its claims name (edustream.SignIn) with
// users, announcing a changed profile on events (nil: no one listens).
func NewAuthenticator(v Verifier, users edustream.UserService, events edustream.EventService) edustream.Authenticator {
	return &authenticator{
		verifier: v,
		users:    users,
		events:   events,
		now:      time.Now,
		ttl:      userCacheTTL,
		size:     userCacheSize,
		cache:    make(map[edustream.Claims]cachedUser),
	}
}

type authenticator struct {
	verifier Verifier
	users    edustream.UserService
	events   edustream.EventService
	now      edustream.Clock
	ttl      time.Duration
	size     int

	mu    sync.Mutex
	cache map[edustream.Claims]cachedUser
}

type cachedUser struct {
	user    *edustream.User
	expires time.Time
}

// Authenticate implements edustream.Authenticator. The token is verified on
// every call; only the upsert is cached. EUNAUTHENTICATED for a bad token or
// claims the user store refuses; anything else is internal.
func (a *authenticator) Authenticate(ctx context.Context, token string) (*edustream.User, error) {
	claims, err := a.verifier.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if u := a.cached(claims); u != nil {
		return u, nil
	}
	u, err := edustream.SignIn(ctx, a.users, a.events, claims)
	if err != nil {
		if edustream.ErrorCode(err) == edustream.EINVALID {
			// The token is signed but its claims are unusable: that is
			// the token's fault, and the caller must not be let in.
			return nil, unauthenticated("token claims are not accepted: %s", edustream.ErrorMessage(err))
		}
		return nil, fmt.Errorf("upsert user from token: %w", err)
	}
	a.store(claims, u)
	copied := *u
	return &copied, nil
}

// cached returns a copy of the cached user, so no caller can change what
// another one sees.
func (a *authenticator) cached(claims edustream.Claims) *edustream.User {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.cache[claims]
	if !ok {
		return nil
	}
	if !a.now().Before(e.expires) {
		delete(a.cache, claims)
		return nil
	}
	u := *e.user
	return &u
}

func (a *authenticator) store(claims edustream.Claims, u *edustream.User) {
	copied := *u
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= a.size {
		a.evict(now)
	}
	a.cache[claims] = cachedUser{user: &copied, expires: now.Add(a.ttl)}
}

// evict makes room: expired entries go first, then arbitrary ones (map
// order) until a tenth of the cache is free. A miss only costs one upsert,
// so precise LRU order is not worth its bookkeeping.
func (a *authenticator) evict(now time.Time) {
	for k, e := range a.cache {
		if !now.Before(e.expires) {
			delete(a.cache, k)
		}
	}
	for k := range a.cache {
		if len(a.cache) < a.size-a.size/10 {
			break
		}
		delete(a.cache, k)
	}
}
