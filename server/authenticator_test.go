package server

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/storage/sqldb"
)

// newUsers returns the real user store on a fresh SQLite database and a
// counter of the upserts it runs.
func newUsers(t *testing.T) (edustream.UserService, *atomic.Int64) {
	t.Helper()
	db, err := sqldb.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "edustream.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var upserts atomic.Int64
	db.SetQueryHook(func(q string) {
		if strings.HasPrefix(strings.TrimSpace(q), "INSERT INTO users") {
			upserts.Add(1)
		}
	})
	return sqldb.NewUserService(db), &upserts
}

func TestAuthenticator(t *testing.T) {
	t.Parallel()
	users, upserts := newUsers(t)
	a := NewAuthenticator(NewHS256Verifier(testSecret, testIssuer, testAudience), users, nil).(*authenticator)
	now := time.Now()
	a.now = func() time.Time { return now }
	token := func(edits ...func(jwt.MapClaims)) string {
		return sign(t, jwt.SigningMethodHS256, testSecret, "", claims(edits...))
	}
	authenticate := func(tok string) *edustream.User {
		t.Helper()
		u, err := a.Authenticate(t.Context(), tok)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		return u
	}
	wantUpserts := func(want int64) {
		t.Helper()
		if got := upserts.Load(); got != want {
			t.Fatalf("upserts = %d, want %d", got, want)
		}
	}

	first := authenticate(token())
	if first.ID == 0 || first.Subject != "user-1" || first.Role != edustream.RoleInstructor ||
		first.Email != "ada@example.com" || first.Name != "Ada Lovelace" {
		t.Fatalf("first user = %+v, want the token's claims with an id", first)
	}
	wantUpserts(1)

	// A busy client: many requests, one write. A token re-issued with the
	// same claims hits the cache as well.
	for range 5 {
		if u := authenticate(token()); *u != *first {
			t.Fatalf("cached user = %+v, want %+v", u, first)
		}
	}
	authenticate(token(set("iat", now.Add(-time.Minute).Unix())))
	wantUpserts(1)

	// The caller owns what it gets: changing it does not change the cache.
	authenticate(token()).Role = edustream.RoleAdmin
	if u := authenticate(token()); u.Role != edustream.RoleInstructor {
		t.Fatalf("cache was changed through a returned user: role %s", u.Role)
	}

	// New claims reach the database at once.
	renamed := authenticate(token(set("name", "Ada King")))
	if renamed.ID != first.ID || renamed.Name != "Ada King" {
		t.Fatalf("renamed user = %+v, want id %d named Ada King", renamed, first.ID)
	}
	wantUpserts(2)

	// After the TTL the user is read again.
	now = now.Add(userCacheTTL)
	authenticate(token(set("name", "Ada King")))
	wantUpserts(3)

	// A bad token never reaches the database.
	_, err := a.Authenticate(t.Context(), sign(t, jwt.SigningMethodHS256, []byte("wrong"), "", claims()))
	if edustream.ErrorCode(err) != edustream.EUNAUTHENTICATED {
		t.Fatalf("bad token: error %v, want EUNAUTHENTICATED", err)
	}
	wantUpserts(3)
}

func TestAuthenticatorRefusedClaims(t *testing.T) {
	t.Parallel()
	users, _ := newUsers(t)
	a := NewAuthenticator(NewHS256Verifier(testSecret, "", ""), users, nil)
	// Signed, but the user store will not keep a 400-character email.
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("email", strings.Repeat("a", 390)+"@example.com")))
	_, err := a.Authenticate(t.Context(), tok)
	if edustream.ErrorCode(err) != edustream.EUNAUTHENTICATED {
		t.Fatalf("error = %v, want EUNAUTHENTICATED", err)
	}
	if msg := edustream.ErrorMessage(err); !strings.HasPrefix(msg, "token claims are not accepted: ") {
		t.Fatalf("message = %q, want it to say the claims are not accepted", msg)
	}
}

func TestAuthenticatorCacheIsBounded(t *testing.T) {
	t.Parallel()
	users, upserts := newUsers(t)
	a := NewAuthenticator(NewHS256Verifier(testSecret, "", ""), users, nil).(*authenticator)
	a.size = 4
	for i := range 20 {
		sub := "user-" + string(rune('a'+i))
		if _, err := a.Authenticate(t.Context(), sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("sub", sub)))); err != nil {
			t.Fatalf("Authenticate %s: %v", sub, err)
		}
		a.mu.Lock()
		n := len(a.cache)
		a.mu.Unlock()
		if n > a.size {
			t.Fatalf("cache holds %d entries, bound is %d", n, a.size)
		}
	}
	if got := upserts.Load(); got != 20 {
		t.Fatalf("upserts = %d, want 20", got)
	}
}
