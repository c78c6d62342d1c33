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
