package webex_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

func spec(b *bundle, title string) edustream.MeetingSpec {
	start := b.clock.Now().Add(24 * time.Hour)
	return edustream.MeetingSpec{Title: title, Agenda: "Bring questions", StartsAt: start, EndsAt: start.Add(time.Hour), Tag: "edustream-" + strings.ToLower(strings.ReplaceAll(title, " ", "-"))}
}

func TestMeetingServiceCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("fields", func(t *testing.T) {
		b := setup(t)
		svc := webex.NewMeetingService(b.client)
		sp := spec(b, "Algebra")
		m, err := svc.CreateMeeting(ctx, sp)
		if err != nil {
			t.Fatal(err)
		}
		held, ok := b.fake.Meeting(m.ID)
		if !ok || held.SeriesID != m.ID {
			t.Fatalf("the fake has no series %q", m.ID)
		}
		want := edustream.Meeting{
			ID: held.SeriesID, MeetingNumber: held.MeetingNumber, Title: "Algebra", Agenda: "Bring questions",
			StartsAt: sp.StartsAt.UTC(), EndsAt: sp.EndsAt.UTC(), Password: held.Password, HostKey: held.HostKey,
		}
		got := *m
		got.JoinURL, got.SIPAddress = "", ""
		if got != want {
			t.Errorf("meeting = %+v\nwant %+v", got, want)
		}
		if !strings.HasPrefix(m.JoinURL, "https://") || m.SIPAddress == "" {
			t.Errorf("join details: %q, %q", m.JoinURL, m.SIPAddress)
		}
		if !held.AutoRecord || len(held.IntegrationTags) != 1 || held.IntegrationTags[0] != sp.Tag {
			t.Errorf("held %+v: want auto-record and the tag %s", held, sp.Tag)
		}
	})
	t.Run("lost answer found by tag", func(t *testing.T) {
		b := setup(t)
		b.fake.Inject(http.MethodPost, "/meetings", 1, webextest.Fault{Status: http.StatusBadGateway, Apply: true})
		m, err := webex.NewMeetingService(b.client).CreateMeeting(ctx, spec(b, "Lost answer"))
		if err != nil {
			t.Fatal(err)
		}
		if all := b.fake.Meetings(); len(all) != 1 || all[0].SeriesID != m.ID {
			t.Errorf("fake holds %+v, want the one meeting %s", all, m.ID)
		}
	})
	t.Run("5xx not applied", func(t *testing.T) {
		b := setup(t)
		b.fake.Fail(http.MethodPost, "/meetings", 1, http.StatusInternalServerError)
		_, err := webex.NewMeetingService(b.client).CreateMeeting(ctx, spec(b, "Outage"))
		if err == nil || edustream.ErrorCode(err) != edustream.EINTERNAL {
			t.Fatalf("create = %v, want an internal error", err)
		}
		if n := len(b.fake.Meetings()); n != 0 || len(b.fake.Requests(http.MethodPost, "/meetings")) != 1 {
			t.Errorf("%d meetings after a refused create; a POST must not be repeated", n)
		}
	})
	t.Run("refused input", func(t *testing.T) {
		b := setup(t)
		_, err := webex.NewMeetingService(b.client).CreateMeeting(ctx, spec(b, strings.Repeat("x", 129)))
		if edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(err), "title") {
			t.Errorf("create = %v, want EINVALID about the title", err)
		}
	})
}

func TestMeetingServiceLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	svc := webex.NewMeetingService(b.client)
	sp := spec(b, "Geometry")
	m, err := svc.CreateMeeting(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}

	moved := sp
	moved.Title, moved.StartsAt, moved.EndsAt = "Geometry II", sp.StartsAt.Add(2*time.Hour), sp.EndsAt.Add(3*time.Hour)
	updated, err := svc.UpdateMeeting(ctx, m.ID, moved)
	if err != nil {
		t.Fatal(err)
	}
	if updated.ID != m.ID || updated.Title != "Geometry II" || !updated.StartsAt.Equal(moved.StartsAt) || !updated.EndsAt.Equal(moved.EndsAt) {
		t.Errorf("updated %+v", updated)
	}
	if patch := b.fake.Requests(http.MethodPatch, "/meetings/*"); len(patch) != 1 || !strings.Contains(string(patch[0].Body), `"sendEmail":false`) {
		t.Errorf("PATCH requests: %d", len(patch))
	}

	listed, err := svc.ListMeetings(ctx, moved.StartsAt.Add(-time.Hour), moved.EndsAt)
	if err != nil || len(listed) != 1 || listed[0].ID != m.ID || listed[0].Over {
		t.Errorf("ListMeetings = %+v, %v", listed, err)
	}

	instance, err := b.fake.StartMeeting(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.fake.EndMeeting(instance); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.GetMeeting(ctx, m.ID); err != nil || !got.Over {
		t.Errorf("after the meeting ended: %+v, %v; want Over", got, err)
	}

	data := []byte("not really an mp4, but bytes to carry")
	recID, err := b.fake.AddRecording(instance, webextest.RecordingSpec{Data: data, DurationSeconds: 3})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := svc.GetRecording(ctx, recID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != recID || rec.SeriesID != m.ID || rec.Format != "MP4" || rec.SizeBytes != int64(len(data)) || rec.DurationSeconds != 3 {
		t.Errorf("recording %+v", rec)
	}
	body, size, err := svc.OpenRecording(ctx, recID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if string(got) != string(data) || size != int64(len(data)) {
		t.Errorf("downloaded %q (%d)", got, size)
	}
	if _, err := svc.GetRecording(ctx, "no-such-recording"); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("missing recording: %v", err)
	}

	for i := range 2 {
		if err := svc.DeleteMeeting(ctx, m.ID); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}
	if _, err := svc.GetMeeting(ctx, m.ID); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("deleted meeting: %v, want ENOTFOUND", err)
	}
	if _, err := svc.UpdateMeeting(ctx, m.ID, moved); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("update of a deleted meeting: %v, want ENOTFOUND", err)
	}
}

// mapTokens is an edustream.OAuthTokenService in memory.
type mapTokens struct {
	mu     sync.Mutex
	tokens map[string]edustream.OAuthToken
	saves  int
}

func (m *mapTokens) LoadOAuthToken(_ context.Context, provider string) (edustream.OAuthToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[provider], nil
}

func (m *mapTokens) SaveOAuthToken(_ context.Context, provider string, t edustream.OAuthToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]edustream.OAuthToken{}
	}
	m.tokens[provider] = t
	m.saves++
	return nil
}

// A restarted client resumes from the token the first one refreshed and
// saved through the database store, without refreshing again.
func TestDatabaseTokenStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupOAuth(t)
	db := &mapTokens{}
	store := webex.DatabaseTokenStore{Tokens: db, Provider: "webex"}
	b.cfg.OAuth.Store = store
	first := b.newClient(t)
	if _, err := first.ListWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	saved := db.tokens["webex"]
	if saved.AccessToken == "" || saved.RefreshToken == "" || saved.Expiry.IsZero() || db.saves != 1 {
		t.Fatalf("after the first call the store holds %+v (%d saves)", saved, db.saves)
	}
	loaded, err := store.Load(ctx)
	if err != nil || loaded.AccessToken != saved.AccessToken || !loaded.Expiry.Equal(saved.Expiry) {
		t.Errorf("Load = %v, %v", loaded, err)
	}

	refreshes := len(b.fake.Requests(http.MethodPost, "/access_token"))
	second := b.newClient(t)
	if _, err := second.ListWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(b.fake.Requests(http.MethodPost, "/access_token")); n != refreshes {
		t.Errorf("the restarted client refreshed again (%d → %d token requests)", refreshes, n)
	}
	if lastBearer(t, b.fake) != saved.AccessToken {
		t.Error("the restarted client did not use the stored access token")
	}
}
