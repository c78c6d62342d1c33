package webex_test

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex"
)

var webhookSecret = []byte("webhook-secret-for-the-tests")

// webhookBundle is the webhook handler on real storage.
type webhookBundle struct {
	handler  http.Handler
	logs     *testenv.LogBuffer
	sessions *sqldb.LiveSessionService
	events   *edustreamtest.Events
	imports  *edustreamtest.Jobs
	session  *edustream.LiveSession
}

func setupWebhook(t *testing.T) *webhookBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "edustream.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wb := &webhookBundle{logs: &testenv.LogBuffer{}, sessions: sqldb.NewLiveSessionService(db, nil), events: &edustreamtest.Events{}, imports: &edustreamtest.Jobs{}}
	live := &edustream.LiveClasses{Sessions: wb.sessions, Jobs: wb.imports, Events: wb.events}
	wb.handler = webex.NewWebhookHandler(webex.WebhookConfig{Secret: webhookSecret, Events: live, MaxBodyBytes: 4096})
	teacher, err := sqldb.NewUserService(db).UpsertUser(ctx, edustream.Claims{Subject: "teacher", Role: edustream.RoleInstructor})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(time.Hour)
	wb.session = &edustream.LiveSession{CourseID: 1, CreatorID: teacher.ID, Title: "Class", StartsAt: start, EndsAt: start.Add(time.Hour),
		MeetingID: "0123456789abcdef0123456789abcdef", MeetingNumber: "2512345678"}
	if err := wb.sessions.CreateLiveSession(ctx, wb.session); err != nil {
		t.Fatal(err)
	}
	return wb
}

// envelope is a delivery body as Webex sends it.
func envelope(resource, event string, data map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svYWJj", "name": "EduStream", "targetUrl": "https://api.example/webhooks/webex",
		"resource": resource, "event": event, "orgId": "org", "createdBy": "me", "appId": "app", "ownedBy": "creator",
		"status": "active", "created": "2030-01-01T00:00:00Z", "actorId": "me", "data": data,
	})
	return b
}

func signature(body, secret []byte) string { return webex.Sign(body, secret) }

// do serves r with a logger in its context, as the server's middleware
// puts there.
func (wb *webhookBundle) do(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(wb.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := httptest.NewRecorder()
	wb.handler.ServeHTTP(w, r.WithContext(edustream.NewContextWithLogger(r.Context(), log)))
	return w
}

// deliver POSTs body with the signature header (none when sig is "-").
func (wb *webhookBundle) deliver(t *testing.T, body []byte, sig string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/webhooks/webex", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	if sig != "-" {
		r.Header.Set("X-Spark-Signature", sig)
	}
	return wb.do(t, r)
}

func (wb *webhookBundle) signed(t *testing.T, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	return wb.deliver(t, body, signature(body, webhookSecret))
}

func (wb *webhookBundle) state(t *testing.T) *edustream.LiveSession {
	t.Helper()
	s, err := wb.sessions.FindLiveSessionByID(context.Background(), wb.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// instance is a meeting instance's data, as meetings started and ended
// carry it.
func (wb *webhookBundle) instance(withSeries bool) map[string]any {
	d := map[string]any{
		"id": wb.session.MeetingID + "_I_204857392817465819", "scheduledMeetingId": wb.session.MeetingID + "_20300101T100000Z",
		"meetingNumber": wb.session.MeetingNumber, "title": "Class", "meetingType": "meeting", "state": "inProgress",
	}
	if withSeries {
		d["meetingSeriesId"] = wb.session.MeetingID
	}
	return d
}

// A bad, missing or forged signature is refused with 401 and changes
// nothing; so are deliveries too large to read or in the wrong method.
func TestWebhookHandlerRefusals(t *testing.T) {
	wb := setupWebhook(t)
	started := envelope("meetings", "started", wb.instance(true))
	tests := []struct {
		name   string
		body   []byte
		sig    string
		status int
	}{
		{"missing signature", started, "-", http.StatusUnauthorized},
		{"empty signature", started, "", http.StatusUnauthorized},
		{"other secret", started, signature(started, []byte("not-the-secret")), http.StatusUnauthorized},
		{"signature of another body", started, signature(envelope("meetings", "ended", wb.instance(true)), webhookSecret), http.StatusUnauthorized},
		{"not hex", started, strings.Repeat("zz", sha1.Size), http.StatusUnauthorized},
		{"truncated", started, signature(started, webhookSecret)[:20], http.StatusUnauthorized},
		{"SHA-256 length", started, strings.Repeat("ab", 32), http.StatusUnauthorized},
		{"too large", append(started, strings.Repeat(" ", 4096)...), "-", http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wb.deliver(t, tt.body, tt.sig)
			if w.Code != tt.status {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.status)
			}
			if w.Header().Get("WWW-Authenticate") != "" {
				t.Error("a webhook refusal offers a bearer challenge")
			}
		})
	}
	t.Run("signed garbage", func(t *testing.T) {
		for _, body := range [][]byte{[]byte("{"), []byte(`{"resource":"meetings","event":"started"}`), []byte(`{"resource":"meetings","event":"started","data":"x"}`)} {
			if w := wb.signed(t, body); w.Code != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", body, w.Code)
			}
		}
	})
	t.Run("GET", func(t *testing.T) {
		w := wb.do(t, httptest.NewRequest(http.MethodGet, "/webhooks/webex", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Errorf("GET: %d %v", w.Code, w.Header())
		}
	})
	if s, n := wb.state(t), len(wb.events.Published()); s.Status != edustream.LiveScheduled || s.Version != 1 || n != 0 {
		t.Errorf("after refused deliveries the session is %s v%d with %d events", s.Status, s.Version, n)
	}
	if lines := wb.logs.Records(t, "refused a Webex webhook delivery with a missing or wrong signature"); len(lines) != 7 {
		t.Errorf("%d refusals logged, want 7", len(lines))
	}
}

// Started makes the session LIVE and ended ENDED, whichever way Webex
// names the meeting (an instance id with or without its series, or only
// the meeting number); repeats and late starts change nothing.
func TestWebhookHandlerMeetingEvents(t *testing.T) {
	type step struct {
		event  string
		data   func(*webhookBundle) map[string]any
		status edustream.LiveSessionStatus
		events int
	}
	withSeries := func(wb *webhookBundle) map[string]any { return wb.instance(true) }
	instanceOnly := func(wb *webhookBundle) map[string]any { return wb.instance(false) }
	numberOnly := func(wb *webhookBundle) map[string]any {
		return map[string]any{"meetingNumber": wb.session.MeetingNumber, "meetingType": "meeting"}
	}
	foreign := func(*webhookBundle) map[string]any {
		return map[string]any{"id": "fedcba9876543210fedcba9876543210_I_1", "meetingSeriesId": "fedcba9876543210fedcba9876543210", "meetingNumber": "2599999999"}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{
			{"started", withSeries, edustream.LiveLive, 1},
			{"ended", withSeries, edustream.LiveEnded, 2},
		}},
		{"instance id without series", []step{
			{"started", instanceOnly, edustream.LiveLive, 1},
			{"ended", instanceOnly, edustream.LiveEnded, 2},
		}},
		{"meeting number only", []step{
			{"started", numberOnly, edustream.LiveLive, 1},
		}},
		{"duplicates", []step{
			{"started", withSeries, edustream.LiveLive, 1},
			{"started", withSeries, edustream.LiveLive, 1},
			{"ended", withSeries, edustream.LiveEnded, 2},
			{"ended", instanceOnly, edustream.LiveEnded, 2},
		}},
		{"out of order", []step{
			{"ended", withSeries, edustream.LiveEnded, 1},
			{"started", withSeries, edustream.LiveEnded, 1},
		}},
		{"another meeting", []step{
			{"started", foreign, edustream.LiveScheduled, 0},
			{"ended", foreign, edustream.LiveScheduled, 0},
		}},
		{"events EduStream ignores", []step{
			{"updated", withSeries, edustream.LiveScheduled, 0},
			{"deleted", withSeries, edustream.LiveScheduled, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wb := setupWebhook(t)
			for i, st := range tt.steps {
				if w := wb.signed(t, envelope("meetings", st.event, st.data(wb))); w.Code != http.StatusNoContent {
					t.Fatalf("step %d (%s): status %d: %s", i, st.event, w.Code, w.Body)
				}
				if s, n := wb.state(t), len(wb.events.Published()); s.Status != st.status || n != st.events {
					t.Errorf("step %d (%s): session %s with %d events, want %s with %d", i, st.event, s.Status, n, st.status, st.events)
				}
			}
		})
	}
	t.Run("events name the course and the version", func(t *testing.T) {
		wb := setupWebhook(t)
		wb.signed(t, envelope("meetings", "started", wb.instance(true)))
		e := wb.events.Published()[0]
		if e.Topic != edustream.LiveSessionTopic(1) || e.LiveSession == nil || e.LiveSession.ID != wb.session.ID ||
			e.LiveSession.Status != edustream.LiveLive || e.LiveSession.Version != 2 {
			t.Errorf("event %+v", e)
		}
	})
}

// A recording of a session's meeting is enqueued for import, by the id of
// the recording (duplicates collapse in the queue); recordings of other
// meetings are not.
func TestWebhookHandlerRecordings(t *testing.T) {
	wb := setupWebhook(t)
	rec := func(id, meetingID, series string) []byte {
		d := map[string]any{"id": id, "meetingId": meetingID, "topic": "Class", "format": "MP4"}
		if series != "" {
			d["meetingSeriesId"] = series
		}
		return envelope("recordings", "created", d)
	}
	instance := wb.session.MeetingID + "_I_204857392817465819"
	for _, body := range [][]byte{
		rec("rec-1", instance, wb.session.MeetingID),
		rec("rec-1", instance, wb.session.MeetingID),
		rec("rec-2", instance, ""),
		rec("rec-3", "fedcba9876543210fedcba9876543210_I_1", "fedcba9876543210fedcba9876543210"),
	} {
		if w := wb.signed(t, body); w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if want, got := []string{"rec-1", "rec-1", "rec-2"}, wb.imports.RecordingImports(); !slices.Equal(got, want) {
		t.Errorf("imports enqueued %v, want %v", got, want)
	}
	// The webhook imports every recording it hears of, and deletes no
	// meeting.
	if once, deletes := wb.imports.RecordingImportsOnce(), wb.imports.MeetingDeletes(); len(once) != 0 || len(deletes) != 0 {
		t.Errorf("the webhook enqueued imports once %v and meeting deletes %v", once, deletes)
	}
	if w := wb.signed(t, rec("", instance, wb.session.MeetingID)); w.Code != http.StatusBadRequest {
		t.Errorf("a recording without an id: %d", w.Code)
	}
}

// failingEvents is a domain that cannot record anything.
type failingEvents struct{ err error }

func (f failingEvents) MeetingStarted(context.Context, edustream.MeetingEvent) error { return f.err }
func (f failingEvents) MeetingEnded(context.Context, edustream.MeetingEvent) error   { return f.err }
func (f failingEvents) RecordingCreated(context.Context, edustream.RecordingEvent) error {
	return f.err
}

// A delivery the domain fails to handle is a 503, so Webex delivers it
// again, and the cause is logged but not told to the caller.
func TestWebhookHandlerFailureIsRetryable(t *testing.T) {
	wb := setupWebhook(t)
	wb.handler = webex.NewWebhookHandler(webex.WebhookConfig{Secret: webhookSecret, Events: failingEvents{errors.New("database at 10.0.0.5 unreachable")}})
	w := wb.signed(t, envelope("meetings", "started", wb.instance(true)))
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "10.0.0.5") {
		t.Errorf("status %d: %s", w.Code, w.Body)
	}
	if lines := wb.logs.Records(t, "webex webhook failed; Webex will deliver it again"); len(lines) != 1 || !strings.Contains(lines[0]["error"].(string), "10.0.0.5") {
		t.Errorf("logged %v", lines)
	}
}
