package webex_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"Y2lz","resource":"meetings","event":"started","data":{"id":"abc_I_1"}}`)
	secret := []byte("webhook-secret-0451")
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	good := hex.EncodeToString(mac.Sum(nil))
	tests := []struct {
		name   string
		body   []byte
		header string
		secret []byte
		want   bool
	}{
		{"good", body, good, secret, true},
		{"good in upper case", body, strings.ToUpper(good), secret, true},
		{"good with spaces around", body, " " + good + " ", secret, true},
		{"missing", body, "", secret, false},
		{"wrong secret", body, good, []byte("webhook-secret-0452"), false},
		{"empty secret", body, hex.EncodeToString(hmac.New(sha1.New, nil).Sum(nil)), nil, false},
		{"body changed by one byte", append([]byte(nil), strings.Replace(string(body), "started", "startee", 1)...), good, secret, false},
		{"one hex digit changed", body, good[:len(good)-1] + flip(good[len(good)-1]), secret, false},
		{"truncated", body, good[:20], secret, false},
		{"not hex", body, strings.Repeat("zz", 20), secret, false},
		{"SHA-256 length", body, good + good[:24], secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webex.VerifySignature(tt.body, tt.header, tt.secret); got != tt.want {
				t.Errorf("VerifySignature = %v, want %v", got, tt.want)
			}
		})
	}
	if webex.Sign(body, secret) != good {
		t.Error("Sign disagrees with HMAC-SHA1")
	}
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

// receiver is a webhook target that keeps the deliveries it could verify
// and decode, to check what the fake sends (TestWebhookHandler* check what
// EduStream's handler does with them).
type receiver struct {
	*httptest.Server
	mu         sync.Mutex
	deliveries []*webex.Delivery
	refused    int
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if !webex.VerifySignature(body, r.Header.Get(webex.SignatureHeader), []byte(secret)) {
			rc.refused++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		d, err := webex.ParseDelivery(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.deliveries = append(rc.deliveries, d)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []*webex.Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*webex.Delivery(nil), rc.deliveries...)
}

func TestEnsureWebhooksIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const secret = "first-secret-7c2e"
	target := "https://edustream.example/webhooks/webex"
	hooks, err := b.client.EnsureWebhooks(ctx, target, secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 3 {
		t.Fatalf("ensured %d webhooks, want 3", len(hooks))
	}
	want := map[string]bool{"meetings/started": true, "meetings/ended": true, "recordings/created": true}
	for _, h := range b.fake.Webhooks() {
		if !want[h.Resource+"/"+h.Event] || h.TargetURL != target || h.Secret != secret || h.Status != "active" {
			t.Errorf("registered %+v", h)
		}
		delete(want, h.Resource+"/"+h.Event)
	}
	if len(want) != 0 {
		t.Errorf("missing webhooks %v", want)
	}

	b.fake.ResetRequests()
	if _, err := b.client.EnsureWebhooks(ctx, target, secret); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.fake.Requests("", "") {
		if r.Method != http.MethodGet {
			t.Errorf("a second EnsureWebhooks changed something: %s %s", r.Method, r.Path)
		}
	}

	// Webex turned one off, another has an old secret, a lost create left a
	// duplicate, and some other target's webhook must be left alone.
	hs := b.fake.Webhooks()
	if err := b.fake.DeactivateWebhook(hs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.UpdateWebhook(ctx, hs[1].ID, webex.WebhookUpdate{Name: hs[1].Name, TargetURL: target, Secret: "old-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.CreateWebhook(ctx, webex.NewWebhook{Name: "dup", TargetURL: target, Resource: hs[2].Resource, Event: hs[2].Event, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	other, err := b.client.CreateWebhook(ctx, webex.NewWebhook{Name: "other", TargetURL: "https://other.example/hook", Resource: "meetings", Event: "started"})
	if err != nil {
		t.Fatal(err)
	}
	b.fake.ResetRequests()
	if _, err := b.client.EnsureWebhooks(ctx, target, "second-secret-91ab"); err != nil {
		t.Fatal(err)
	}
	if n := len(b.fake.Requests(http.MethodDelete, "/webhooks/*")); n != 1 {
		t.Errorf("%d deletes, want the one duplicate", n)
	}
	if n := len(b.fake.Requests(http.MethodPost, "/webhooks")); n != 0 {
		t.Errorf("%d creates, want none", n)
	}
	var ours int
	for _, h := range b.fake.Webhooks() {
		switch {
		case h.ID == other.ID:
			if h.Secret != "" || h.TargetURL != "https://other.example/hook" {
				t.Errorf("another target's webhook changed: %+v", h)
			}
		case h.Status != "active" || h.Secret != "second-secret-91ab":
			t.Errorf("not repaired: %+v", h)
		default:
			ours++
		}
	}
	if ours != 3 {
		t.Errorf("%d webhooks for the target, want 3", ours)
	}
}

func TestEnsureWebhooksRefusesNoSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.client.EnsureWebhooks(context.Background(), "https://edustream.example/hook", ""); err == nil {
		t.Error("registered webhooks whose deliveries cannot be verified")
	}
}

func TestWebhooksFromAMeetingsLife(t *testing.T) {
	t.Parallel()
	const secret = "delivery-secret-b7"
	b := setup(t)
	ctx := context.Background()
	rc := newReceiver(t, secret)
	if _, err := b.client.EnsureWebhooks(ctx, rc.URL+"/webhooks/webex", secret); err != nil {
		t.Fatal(err)
	}
	m := b.meeting(t, "Live class")

	inst, err := b.fake.StartMeeting(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.fake.EndMeeting(inst); err != nil {
		t.Fatal(err)
	}
	recID, err := b.fake.AddRecording(inst, webextest.RecordingSpec{Data: []byte("mp4"), DurationSeconds: 3000})
	if err != nil {
		t.Fatal(err)
	}

	got := rc.got()
	if len(got) != 3 {
		t.Fatalf("received %d deliveries, want started, ended, recording created", len(got))
	}
	for i, want := range []string{"meetings/started", "meetings/ended", "recordings/created"} {
		if d := got[i]; d.Resource+"/"+d.Event != want || d.TargetURL != rc.URL+"/webhooks/webex" || d.ID == "" || d.OrgID == "" || d.Created.IsZero() {
			t.Errorf("delivery %d = %+v, want %s", i, d, want)
		}
	}
	for i, state := range []string{webex.StateInProgress, webex.StateEnded} {
		md, err := got[i].Meeting()
		if err != nil {
			t.Fatal(err)
		}
		if md.ID != inst || md.ID == m.ID {
			t.Errorf("delivery names %s, want the instance %s", md.ID, inst)
		}
		if k := webex.ParseMeetingID(md.ID).Kind; k != webex.KindInstance {
			t.Errorf("delivered id %s is a %v, want an instance", md.ID, k)
		}
		if md.SeriesID() != m.ID || webex.SeriesID(md.ID) != m.ID {
			t.Errorf("instance %s does not lead back to series %s", md.ID, m.ID)
		}
		if md.ScheduledMeetingID != webex.OccurrenceID(m.ID, m.Start) || md.MeetingNumber != m.MeetingNumber {
			t.Errorf("instance %+v does not name its occurrence and number", md)
		}
		if md.State != state || md.MeetingType != webex.MeetingTypeInstance {
			t.Errorf("delivery %d state %q type %q, want %q meeting", i, md.State, md.MeetingType, state)
		}
	}
	rec, err := got[2].Recording()
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != recID || rec.MeetingID != inst || rec.SeriesID() != m.ID || rec.TemporaryDirectDownloadLinks != nil {
		t.Errorf("recording delivery = %+v", rec)
	}
	if _, err := got[2].Meeting(); err == nil {
		t.Error("a recordings delivery decoded as a meeting")
	}

	// Webex may deliver again; the body is byte for byte the same.
	if err := b.fake.Redeliver(0); err != nil {
		t.Fatal(err)
	}
	ds := b.fake.Deliveries()
	if len(ds) != 4 || string(ds[3].Body) != string(ds[0].Body) || ds[3].StatusCode != http.StatusOK {
		t.Errorf("redelivery = %+v", ds[len(ds)-1])
	}
}

func TestDeliveriesWithAnotherSecretAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, "the-right-secret")
	if _, err := b.client.EnsureWebhooks(context.Background(), rc.URL, "a-wrong-secret"); err != nil {
		t.Fatal(err)
	}
	m := b.meeting(t, "Spoofed")
	if _, err := b.fake.StartMeeting(m.ID); err != nil {
		t.Fatal(err)
	}
	if len(rc.got()) != 0 || rc.refused != 1 {
		t.Errorf("accepted %d, refused %d; want the delivery refused", len(rc.got()), rc.refused)
	}
	if ds := b.fake.Deliveries(); len(ds) != 1 || ds[0].StatusCode != http.StatusUnauthorized {
		t.Errorf("deliveries = %+v", ds)
	}
}

func TestChangesBehindOurBackAreDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rc := newReceiver(t, "s3cret-x")
	subs := []webex.Subscription{{Resource: webex.ResourceMeetings, Event: webex.EventUpdated, Name: "updated"}, {Resource: webex.ResourceMeetings, Event: webex.EventDeleted, Name: "deleted"}}
	if _, err := b.client.EnsureWebhooks(ctx, rc.URL, "s3cret-x", subs...); err != nil {
		t.Fatal(err)
	}
	m := b.meeting(t, "Moved then deleted")
	start := m.Start.Add(24 * time.Hour)
	if err := b.fake.MoveMeeting(m.ID, start, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := b.client.GetMeeting(ctx, m.ID); err != nil || !got.Start.Equal(start) {
		t.Errorf("after the move: %v, %v", got, err)
	}
	if err := b.fake.DeleteMeeting(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.GetMeeting(ctx, m.ID); !webex.IsNotFound(err) {
		t.Errorf("after the delete: err = %v", err)
	}
	got := rc.got()
	if len(got) != 2 || got[0].Event != webex.EventUpdated || got[1].Event != webex.EventDeleted {
		t.Fatalf("deliveries = %v", got)
	}
	md, err := got[0].Meeting()
	if err != nil || md.ID != m.ID || !md.Start.Equal(start) {
		t.Errorf("updated delivery = %+v, %v", md, err)
	}
}
