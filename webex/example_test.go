package webex_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// A live session's lifecycle: schedule, survive a lost answer, register
// webhooks, and match deliveries to the session by series.
func Example() {
	fake := webextest.Start(webextest.Config{})
	defer fake.Close()

	ctx := context.Background()
	c, err := webex.New(webex.Config{BaseURL: fake.URL, Token: fake.IssueAccessToken(0)})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now().Add(24 * time.Hour).Truncate(time.Minute)
	session := "live-session-42"
	m, err := c.CreateMeeting(ctx, webex.NewMeeting{
		Title: "Algebra 101", Start: start, End: start.Add(time.Hour),
		IntegrationTags: []string{session},
	})
	if errors.Is(err, webex.ErrOutcomeUnknown) {
		// The create may have landed: look before creating again.
		found, lerr := c.ListMeetings(ctx, webex.ListMeetingsOptions{IntegrationTag: session, From: start.Add(-time.Minute), To: start.Add(time.Hour)})
		if lerr == nil && len(found) == 1 {
			m, err = &found[0], nil
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	// Store m.ID (the series), m.WebLink, m.MeetingNumber, m.Password and
	// m.HostKey on the session.

	secret := "from WEBEX_WEBHOOK_SECRET"
	http.HandleFunc("/webhooks/webex", func(w http.ResponseWriter, r *http.Request) {
		d, err := webex.ReadDelivery(r, []byte(secret), 1<<20)
		if errors.Is(err, webex.ErrBadSignature) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		} else if err != nil {
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		if d.Resource == webex.ResourceMeetings {
			inst, err := d.Meeting()
			// inst.ID is the instance, never equal to m.ID; the series is
			// what the session stored.
			if err == nil && inst.SeriesID() == m.ID {
				log.Printf("session %s: meeting %s", session, inst.State)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if _, err := c.EnsureWebhooks(ctx, "https://api.edustream.example/webhooks/webex", secret); err != nil {
		log.Fatal(err)
	}
}

// An integration's client, with tokens persisted by the database and its
// health on /readyz.
func ExampleOAuthConfig() {
	var store webex.TokenStore = &webex.MemoryTokenStore{} // the database in production
	c, err := webex.New(webex.Config{OAuth: &webex.OAuthConfig{
		ClientID:     "from WEBEX_CLIENT_ID",
		ClientSecret: "from WEBEX_CLIENT_SECRET",
		RefreshToken: "from WEBEX_REFRESH_TOKEN",
		Store:        store,
	}})
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := c.Health().Err(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
}
