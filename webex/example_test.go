package webex_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// A live session's lifecycle: schedule, survive a lost answer, register
// the webhooks and their handler.
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
	log.Printf("session %s: meeting series %s at %s", session, m.ID, m.WebLink)

	secret := "from WEBEX_WEBHOOK_SECRET"
	// The handler verifies each delivery and hands it to the domain, which
	// matches it to the session by series: a delivery names the meeting's
	// instance, never equal to m.ID.
	var live edustream.MeetingEvents // *edustream.LiveClasses in production
	http.Handle("/webhooks/webex", webex.NewWebhookHandler(webex.WebhookConfig{Secret: []byte(secret), Events: live}))
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
