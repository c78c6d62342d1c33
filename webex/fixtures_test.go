package webex_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream/webex"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(fixture(t, name), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

const fixtureSeries = "3f2b1c0d9e8f4a7b8c6d5e4f3a2b1c0d"

func TestDecodesTheDocumentedMeetingShapes(t *testing.T) {
	t.Parallel()
	series := decode[webex.Meeting](t, "meeting_series.json")
	want := webex.Meeting{
		ID: fixtureSeries, MeetingNumber: "2551234567", Title: "Physics 201: Waves", Agenda: "Standing waves and resonance",
		Password: "Wave5Tide", PhoneAndVideoSystemPassword: "92830412", MeetingType: webex.MeetingTypeSeries, State: webex.StateActive,
		Timezone: "Asia/Shanghai", HostUserID: "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM", HostDisplayName: "EduStream Live",
		HostEmail: "live@edustream.example", HostKey: "482913", SiteURL: "edustream.webex.com",
		WebLink:    "https://edustream.webex.com/edustream/j.php?MTID=m0a1b2c3d4e5f60718293a4b5c6d7e8f9",
		SIPAddress: "2551234567@edustream.webex.com", DialInIPAddress: "173.243.2.68",
		EnabledAutoRecordMeeting: true, EnabledJoinBeforeHost: true, JoinBeforeHostMinutes: 10, ScheduledType: "meeting",
		IntegrationTags: []string{"edustream-session-88"},
		Telephony:       &webex.Telephony{AccessCode: "2551234567", CallInNumbers: []webex.CallInNumber{{Label: "US Toll", CallInNumber: "+1-415-555-0100", TollType: "toll"}}},
	}
	// Times with an offset are the same instants as in UTC.
	if !series.Start.Equal(time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)) || !series.End.Equal(time.Date(2030, 5, 1, 13, 30, 0, 0, time.UTC)) {
		t.Errorf("start %v, end %v", series.Start, series.End)
	}
	series.Start, series.End = time.Time{}, time.Time{}
	if diff := cmp.Diff(want, series); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}

	occ := decode[webex.Meeting](t, "meeting_scheduled.json")
	if occ.MeetingType != webex.MeetingTypeScheduled || occ.SeriesID() != fixtureSeries || occ.ID != webex.OccurrenceID(fixtureSeries, occ.Start) {
		t.Errorf("scheduled meeting = %+v", occ)
	}
	inst := decode[webex.Meeting](t, "meeting_instance.json")
	if inst.MeetingType != webex.MeetingTypeInstance || inst.State != webex.StateEnded || !inst.HasRecording ||
		webex.ParseMeetingID(inst.ID).Kind != webex.KindInstance || inst.SeriesID() != fixtureSeries || inst.ScheduledMeetingID != occ.ID {
		t.Errorf("instance = %+v", inst)
	}
}

func TestDecodesTheDocumentedRecordingAndWebhookShapes(t *testing.T) {
	t.Parallel()
	rec := decode[webex.Recording](t, "recording_details.json")
	links := rec.TemporaryDirectDownloadLinks
	if links == nil || links.RecordingDownloadLink == "" || links.AudioDownloadLink == "" || links.TranscriptDownloadLink == "" ||
		!links.Expiration.Equal(time.Date(2030, 5, 1, 16, 41, 2, 0, time.UTC)) {
		t.Errorf("links = %+v", links)
	}
	if rec.Format != "MP4" || rec.DurationSeconds != 5073 || rec.SizeBytes != 283115520 || rec.SeriesID() != fixtureSeries ||
		rec.Status != "available" || rec.Topic == "" || rec.CreateTime.IsZero() || rec.TimeRecorded.IsZero() {
		t.Errorf("recording = %+v", rec)
	}

	hook := decode[webex.Webhook](t, "webhook.json")
	want := webex.Webhook{
		ID: "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svMTIzNDU2NzgtYWJjZA", Name: "EduStream: meeting started",
		TargetURL: "https://api.edustream.example/webhooks/webex", Resource: webex.ResourceMeetings, Event: webex.EventStarted,
		Filter: "hostEmail=live@edustream.example", Secret: "f0e1d2c3b4a5", Status: webex.WebhookActive,
		Created: time.Date(2030, 4, 1, 8, 0, 0, 0, time.UTC), OrgID: "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmc",
		CreatedBy: "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM", AppID: "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL2FwcA", OwnedBy: "creator",
	}
	if diff := cmp.Diff(want, hook); diff != "" {
		t.Errorf("webhook (-want +got):\n%s", diff)
	}
}

func TestDecodesTheDocumentedDeliveries(t *testing.T) {
	t.Parallel()
	d, err := webex.ParseDelivery(fixture(t, "delivery_meeting_started.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Meeting()
	if err != nil {
		t.Fatal(err)
	}
	if d.ActorID == "" || d.AppID == "" || d.OwnedBy != "creator" || m.State != webex.StateInProgress || m.SeriesID() != fixtureSeries || m.MeetingNumber != "2551234567" {
		t.Errorf("delivery %+v, meeting %+v", d, m)
	}
	if _, err := d.Recording(); err == nil {
		t.Error("a meetings delivery decoded as a recording")
	}
	d, err = webex.ParseDelivery(fixture(t, "delivery_recording_created.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := d.Recording()
	if err != nil || rec.SeriesID() != fixtureSeries || rec.TemporaryDirectDownloadLinks != nil {
		t.Errorf("recording %+v, %v", rec, err)
	}
	for _, bad := range []string{`{}`, `{"resource":"meetings","event":"started"}`, `not json`} {
		if _, err := webex.ParseDelivery([]byte(bad)); err == nil {
			t.Errorf("ParseDelivery(%s) accepted it", bad)
		}
	}
}

// serve answers every request with status and a fixture.
func serve(t *testing.T, status int, name string) string {
	t.Helper()
	body := fixture(t, name)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func TestReadsTheDocumentedErrorBody(t *testing.T) {
	t.Parallel()
	c, err := webex.New(webex.Config{BaseURL: serve(t, 400, "error.json"), Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetMeeting(context.Background(), fixtureSeries)
	var we *webex.Error
	if !errors.As(err, &we) {
		t.Fatal(err)
	}
	want := &webex.Error{
		Op: "GET /meetings/" + fixtureSeries, StatusCode: 400,
		Message:      "The input parameters contain invalid items.",
		Descriptions: []string{"Meeting password validation failed. A mix of uppercase and lowercase letters is required."},
		TrackingID:   "ROUTER_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9",
	}
	if diff := cmp.Diff(want, we); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadsTheDocumentedTokenResponse(t *testing.T) {
	t.Parallel()
	tokenURL := serve(t, 200, "token.json")
	clock := &fakeClock{now: epoch}
	store := &webex.MemoryTokenStore{}
	c, err := webex.New(webex.Config{BaseURL: "https://webexapis.com/v1", Clock: clock, OAuth: &webex.OAuthConfig{
		ClientID: "id", ClientSecret: "secret", RefreshToken: "rt", Store: store, TokenURL: tokenURL,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := store.Load(context.Background())
	want := webex.Token{
		AccessToken: "not-a-real-access-token", Expiry: epoch.Add(1209599 * time.Second),
		RefreshToken: "not-a-real-refresh-token", RefreshExpiry: epoch.Add(7775999 * time.Second),
	}
	if got != want {
		t.Errorf("stored %#v, want %#v", got, want)
	}

	rejected, err := webex.New(webex.Config{BaseURL: "https://webexapis.com/v1", Clock: clock, OAuth: &webex.OAuthConfig{
		ClientID: "id", ClientSecret: "secret", RefreshToken: "rt", TokenURL: serve(t, 400, "token_error.json"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rejected.Authenticate(context.Background()); !errors.Is(err, webex.ErrRefreshRejected) {
		t.Errorf("err = %v, want ErrRefreshRejected", err)
	}
}
