package edustream_test

import (
	"context"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
)

// stubUsers returns the user with the times the test gives.
type stubUsers struct {
	edustream.UserService
	created, updated time.Time
}

func (s stubUsers) UpsertUser(_ context.Context, c edustream.Claims) (*edustream.User, error) {
	return &edustream.User{ID: 5, Subject: c.Subject, CreatedAt: s.created, UpdatedAt: s.updated}, nil
}

// A user is announced when a known user changed (UpsertUser moved
// updated_at), not when one is new or the same as before.
func TestSignInAnnouncesChangedUsers(t *testing.T) {
	t.Parallel()
	longAgo := time.Now().Add(-time.Hour)
	later := time.Now().Add(time.Minute)
	tests := []struct {
		name             string
		created, updated time.Time
		announce         bool
	}{
		{"changed", longAgo, later, true},
		{"unchanged", longAgo, longAgo, false},
		{"new", later, later, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := &edustreamtest.Events{}
			users := stubUsers{created: tt.created, updated: tt.updated}
			if _, err := edustream.SignIn(context.Background(), users, events, edustream.Claims{Subject: "ada"}); err != nil {
				t.Fatal(err)
			}
			got := events.Take()
			if announced := len(got) == 1 && got[0].Content != nil && got[0].Content.UserID == 5; announced != tt.announce || len(got) > 1 {
				t.Errorf("announced %+v, want announced: %v", got, tt.announce)
			}
		})
	}
}

// Names and emails from tokens are others' to read: what the text rules
// refuse is stripped, not stored, and a token without them (or with
// nothing left of them) keeps the stored ones instead of blanking them.
func TestSignInProfileFromClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := edustreamtest.NewStore(time.Now)
	sign := func(c edustream.Claims) *edustream.User {
		t.Helper()
		c.Subject, c.Role = "demo-instructor", edustream.RoleInstructor
		u, err := edustream.SignIn(ctx, store, nil, c)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	u := sign(edustream.Claims{Name: "Ada\u202E ecalovoL\a", Email: "ada@example.com\u200B"})
	if u.Name != "Ada ecalovoL" || u.Email != "ada@example.com" {
		t.Errorf("stored %q <%s>, want the bidi override, BEL and zero-width space stripped", u.Name, u.Email)
	}
	for _, c := range []edustream.Claims{{}, {Name: "\u2066\u2069", Email: " \u200B "}} {
		if got := sign(c); got.Name != "Ada ecalovoL" || got.Email != "ada@example.com" {
			t.Errorf("claims %+v left %q <%s>, want the stored profile kept", c, got.Name, got.Email)
		}
	}
	if got := sign(edustream.Claims{Name: "Ada Lovelace"}); got.Name != "Ada Lovelace" || got.Email != "ada@example.com" {
		t.Errorf("a new name alone gave %q <%s>", got.Name, got.Email)
	}
}
