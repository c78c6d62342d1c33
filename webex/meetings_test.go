package webex_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

func TestCreateMeetingSendsFieldsAndReadsTheSeries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	start := epoch.Add(49 * time.Hour)
	in := webex.NewMeeting{
		Title:                    "Algebra 101 — live",
		Agenda:                   "Chapter 3: quadratic equations",
		Password:                 "Lesson42",
		Start:                    start,
		End:                      start.Add(90 * time.Minute),
		Timezone:                 "Europe/Berlin",
		EnabledAutoRecordMeeting: true,
		EnabledJoinBeforeHost:    true,
		JoinBeforeHostMinutes:    5,
		IntegrationTags:          []string{"edustream-session-17"},
	}
	m, err := b.client.CreateMeeting(ctx, in)
	if err != nil {
		t.Fatal(err)
	}

	reqs := b.fake.Requests(http.MethodPost, "/meetings")
	if len(reqs) != 1 {
		t.Fatalf("POST /meetings requests = %d, want 1", len(reqs))
	}
	var sent map[string]any
	reqs[0].JSON(t, &sent)
	want := map[string]any{
		"title":                    "Algebra 101 — live",
		"agenda":                   "Chapter 3: quadratic equations",
		"password":                 "Lesson42",
		"start":                    "2030-03-06T10:00:00Z",
		"end":                      "2030-03-06T11:30:00Z",
		"timezone":                 "Europe/Berlin",
		"enabledAutoRecordMeeting": true,
		"enabledJoinBeforeHost":    true,
		"joinBeforeHostMinutes":    float64(5),
		"sendEmail":                false,
		"integrationTags":          []any{"edustream-session-17"},
	}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("request body (-want +got):\n%s", diff)
	}
	h := reqs[0].Header
	if got := h.Get("Authorization"); got != "Bearer "+b.token {
		t.Errorf("Authorization = %q, want the bearer token", got)
	}
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}

	checks := []struct {
		name string
		ok   bool
	}{
		{"id is a 32-hex series id", regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(m.ID)},
		{"id parses as a series", webex.ParseMeetingID(m.ID).Kind == webex.KindSeries},
		{"meetingType", m.MeetingType == webex.MeetingTypeSeries},
		{"state", m.State == webex.StateActive},
		{"meeting number", regexp.MustCompile(`^\d{10}$`).MatchString(m.MeetingNumber)},
		{"web link", strings.HasPrefix(m.WebLink, "https://edustream-fake.webex.com/edustream-fake/j.php?MTID=m")},
		{"sip address", m.SIPAddress == m.MeetingNumber+"@edustream-fake.webex.com"},
		{"host key", regexp.MustCompile(`^\d{6}$`).MatchString(m.HostKey)},
		{"password", m.Password == "Lesson42"},
		{"start", m.Start.Equal(start)},
		{"end", m.End.Equal(start.Add(90 * time.Minute))},
		{"timezone", m.Timezone == "Europe/Berlin"},
		{"auto record", m.EnabledAutoRecordMeeting},
		{"join before host", m.EnabledJoinBeforeHost && m.JoinBeforeHostMinutes == 5},
		{"telephony", m.Telephony != nil && m.Telephony.AccessCode == m.MeetingNumber && len(m.Telephony.CallInNumbers) > 0},
		{"integration tags", cmp.Equal(m.IntegrationTags, []string{"edustream-session-17"})},
		{"host", m.HostEmail != "" && m.HostUserID != "" && m.SiteURL == "edustream-fake.webex.com"},
		{"series id of a series", m.SeriesID() == m.ID},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not as expected in %+v", c.name, m)
		}
	}
}

func TestCreateMeetingGeneratesAPasswordWhenNoneIsGiven(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.meeting(t, "No password given")
	if m.Password == "" {
		t.Fatal("Webex generates a password; the fake returned none")
	}
}

func TestCreateMeetingRejectedLikeWebex(t *testing.T) {
	t.Parallel()
	start := epoch.Add(24 * time.Hour)
	tests := []struct {
		name string
		in   webex.NewMeeting
		want string // in the descriptions
	}{
		{"empty title", webex.NewMeeting{Start: start, End: start.Add(time.Hour)}, "Title cannot be empty"},
		{"title of 129 characters", webex.NewMeeting{Title: strings.Repeat("é", 129), Start: start, End: start.Add(time.Hour)}, "maximum of 128 characters"},
		{"9 minutes", webex.NewMeeting{Title: "Short", Start: start, End: start.Add(9 * time.Minute)}, "shorter than 10 minutes"},
		{"24 hours and a minute", webex.NewMeeting{Title: "Long", Start: start, End: start.Add(24*time.Hour + time.Minute)}, "longer than 24 hours"},
		{"in the past", webex.NewMeeting{Title: "Past", Start: epoch.Add(-time.Hour), End: epoch}, "before the current date"},
		{"no end", webex.NewMeeting{Title: "Endless", Start: start}, "end"},
		{"agenda of 1301 characters", webex.NewMeeting{Title: "Agenda", Agenda: strings.Repeat("a", 1301), Start: start, End: start.Add(time.Hour)}, "maximum of 1300"},
		{"unknown time zone", webex.NewMeeting{Title: "Zone", Timezone: "Mars/Olympus", Start: start, End: start.Add(time.Hour)}, "not a valid time zone"},
		{"weak password", webex.NewMeeting{Title: "Weak", Password: "password", Start: start, End: start.Add(time.Hour)}, "password validation failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			_, err := b.client.CreateMeeting(context.Background(), tt.in)
			var we *webex.Error
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want a *webex.Error", err)
			}
			if we.StatusCode != http.StatusBadRequest || !webex.IsInvalid(err) {
				t.Errorf("status = %d, want 400", we.StatusCode)
			}
			if !strings.Contains(strings.Join(we.Descriptions, " | "), tt.want) {
				t.Errorf("descriptions %q do not mention %q", we.Descriptions, tt.want)
			}
			if !strings.HasPrefix(we.TrackingID, "ROUTER_") || !strings.Contains(err.Error(), we.TrackingID) {
				t.Errorf("tracking id %q missing from %q", we.TrackingID, err)
			}
			if got := edustream.ErrorCode(err); got != edustream.EINVALID {
				t.Errorf("edustream code = %q, want %q", got, edustream.EINVALID)
			}
			if errors.Is(err, webex.ErrOutcomeUnknown) {
				t.Error("a 400 was not applied; it must not say the outcome is unknown")
			}
			if n := len(b.fake.Requests(http.MethodPost, "/meetings")); n != 1 {
				t.Errorf("a 400 was sent %d times, want once", n)
			}
			if n := len(b.fake.Meetings()); n != 0 {
				t.Errorf("%d meetings exist after a rejected create", n)
			}
		})
	}
}

func TestTitleOf128CharactersIsAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := epoch.Add(time.Hour)
	m, err := b.client.CreateMeeting(context.Background(), webex.NewMeeting{Title: strings.Repeat("é", 128), Start: start, End: start.Add(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if got := len([]rune(m.Title)); got != 128 {
		t.Errorf("title has %d characters", got)
	}
}

func TestUpdateMeetingPatchesOnlyWhatIsSet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.meeting(t, "Before")
	start := m.Start.Add(2 * time.Hour)
	end := start.Add(45 * time.Minute)
	got, err := b.client.UpdateMeeting(ctx, m.ID, webex.MeetingUpdate{Title: webex.Ptr("After"), Start: &start, End: &end})
	if err != nil {
		t.Fatal(err)
	}
	reqs := b.fake.Requests(http.MethodPatch, "/meetings/*")
	if len(reqs) != 1 {
		t.Fatalf("PATCH requests = %d, want 1", len(reqs))
	}
	if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json-patch+json" {
		t.Errorf("Content-Type = %q, want the media type of the API reference", ct)
	}
	var sent map[string]any
	reqs[0].JSON(t, &sent)
	want := map[string]any{"title": "After", "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("patch body (-want +got):\n%s", diff)
	}
	if got.Title != "After" || !got.Start.Equal(start) || !got.End.Equal(end) || got.ID != m.ID {
		t.Errorf("updated meeting = %+v", got)
	}
	if got.Password != m.Password || got.MeetingNumber != m.MeetingNumber {
		t.Error("fields not in the patch changed")
	}

	_, err = b.client.UpdateMeeting(ctx, m.ID, webex.MeetingUpdate{End: webex.Ptr(start.Add(5 * time.Minute))})
	if !webex.IsInvalid(err) {
		t.Errorf("a 5-minute meeting: err = %v, want 400", err)
	}
}

func TestGetMeetingBySeriesAndOccurrence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.meeting(t, "Lookup")
	series, err := b.client.GetMeeting(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, series); diff != "" {
		t.Errorf("GET of the series differs from the create (-create +get):\n%s", diff)
	}
	occ, err := b.client.GetMeeting(ctx, webex.OccurrenceID(m.ID, m.Start))
	if err != nil {
		t.Fatal(err)
	}
	if occ.MeetingType != webex.MeetingTypeScheduled || occ.MeetingSeriesID != m.ID || occ.SeriesID() != m.ID {
		t.Errorf("occurrence = %+v", occ)
	}
}

func TestDeleteMeeting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.meeting(t, "Cancelled class")
	if err := b.client.DeleteMeeting(ctx, m.ID, false); err != nil {
		t.Fatal(err)
	}
	reqs := b.fake.Requests(http.MethodDelete, "/meetings/*")
	if len(reqs) != 1 || reqs[0].Query.Get("sendEmail") != "false" {
		t.Errorf("DELETE requests = %+v, want one with sendEmail=false", reqs)
	}
	_, err := b.client.GetMeeting(ctx, m.ID)
	if !webex.IsNotFound(err) || edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("get after delete: err = %v (code %q), want not found", err, edustream.ErrorCode(err))
	}
	// Nothing was lost this time, so a second delete really is a 404.
	if err := b.client.DeleteMeeting(ctx, m.ID, false); !webex.IsNotFound(err) {
		t.Errorf("second delete: err = %v, want not found", err)
	}
}

func TestDeleteMeetingWhoseAnswerWasLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.meeting(t, "Lost answer")
	b.fake.DropConnection(http.MethodDelete, "/meetings/*", 1, true)
	if err := b.client.DeleteMeeting(context.Background(), m.ID, false); err != nil {
		t.Fatalf("the first attempt deleted it; the retry's 404 means done: %v", err)
	}
	if got := statuses(b.fake.Requests(http.MethodDelete, "/meetings/*")); !cmp.Equal(got, []int{0, 404}) {
		t.Errorf("DELETE statuses = %v, want a dropped one then 404", got)
	}
	if st, _ := b.fake.Meeting(m.ID); !st.Deleted {
		t.Error("the meeting is not deleted")
	}
}

func TestEmptyIDsAreRefusedWithoutARequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	calls := map[string]func() error{
		"GetMeeting":    func() error { _, err := b.client.GetMeeting(ctx, ""); return err },
		"UpdateMeeting": func() error { _, err := b.client.UpdateMeeting(ctx, "", webex.MeetingUpdate{}); return err },
		"DeleteMeeting": func() error { return b.client.DeleteMeeting(ctx, "", false) },
		"GetRecording":  func() error { _, err := b.client.GetRecording(ctx, ""); return err },
		"DeleteWebhook": func() error { return b.client.DeleteWebhook(ctx, "") },
	}
	for name, call := range calls {
		if err := call(); edustream.ErrorCode(err) != edustream.EINVALID {
			t.Errorf("%s(\"\"): err = %v, want EINVALID", name, err)
		}
	}
	if n := len(b.fake.Requests("", "")); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}

func TestListMeetingsFollowsEveryPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	want := map[string]bool{}
	for i := range 7 {
		start := epoch.Add(time.Duration(24+i) * time.Hour)
		m, err := b.client.CreateMeeting(ctx, webex.NewMeeting{Title: fmt.Sprintf("Lesson %d", i), Start: start, End: start.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		want[m.ID] = true
	}
	got, err := b.client.ListMeetings(ctx, webex.ListMeetingsOptions{
		MeetingType: webex.MeetingTypeSeries, From: epoch, To: epoch.Add(30 * 24 * time.Hour), PageSize: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Fatalf("got %d meetings, want 7", len(got))
	}
	for i, m := range got {
		if !want[m.ID] {
			t.Errorf("unexpected meeting %s", m.ID)
		}
		if i > 0 && m.Start.Before(got[i-1].Start) {
			t.Error("meetings out of order")
		}
	}
	reqs := b.fake.Requests(http.MethodGet, "/meetings")
	if len(reqs) != 3 {
		t.Fatalf("GET /meetings requests = %d, want 3 pages", len(reqs))
	}
	first := reqs[0].Query
	for k, v := range map[string]string{"meetingType": "meetingSeries", "max": "3", "from": "2030-03-04T09:00:00Z", "to": "2030-04-03T09:00:00Z"} {
		if first.Get(k) != v {
			t.Errorf("first page %s = %q, want %q", k, first.Get(k), v)
		}
	}
	for _, r := range reqs[1:] {
		if r.Query.Get("cursor") == "" || r.Query.Get("max") != "3" {
			t.Errorf("later page query %v does not come from the next link", r.Query)
		}
	}
}

func TestListMeetingsRejectsAPageSizeAbove100(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.ListMeetings(context.Background(), webex.ListMeetingsOptions{PageSize: 101})
	if edustream.ErrorCode(err) != edustream.EINVALID {
		t.Errorf("err = %v, want EINVALID", err)
	}
}

func TestNextLinksOnlyOnTheAPIHost(t *testing.T) {
	t.Parallel()
	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Add(1)
		fmt.Fprint(w, `{"items":[]}`)
	}))
	t.Cleanup(evil.Close)

	tests := []struct {
		name      string
		next      func(api string) string
		wantErr   string
		wantItems int
	}{
		{"relative link", func(string) string { return "/v1/meetings?cursor=2" }, "", 2},
		{"absolute link on the API host", func(api string) string { return api + "/v1/meetings?cursor=2" }, "", 2},
		{"other host", func(string) string { return evil.URL + "/v1/meetings?cursor=2" }, "refusing to follow", 0},
		{"other scheme", func(api string) string {
			return strings.Replace(api, "http://", "https://", 1) + "/v1/meetings?cursor=2"
		}, "refusing to follow", 0},
		{"a page that points to itself", func(api string) string { return api + "/v1/meetings?cursor=1" }, "repeats", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var api *httptest.Server
			api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Query().Get("cursor") {
				case "":
					w.Header().Set("Link", fmt.Sprintf(`<%s?cursor=1>; rel="next"`, api.URL+"/v1/meetings"))
					fmt.Fprint(w, `{"items":[]}`)
				case "1":
					w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, tt.next(api.URL)))
					fmt.Fprint(w, `{"items":[{"id":"a"}]}`)
				default:
					fmt.Fprint(w, `{"items":[{"id":"b"}]}`)
				}
			}))
			t.Cleanup(api.Close)
			c, err := webex.New(webex.Config{BaseURL: api.URL + "/v1", Token: "tok"})
			if err != nil {
				t.Fatal(err)
			}
			before := evilHits.Load()
			items, err := c.ListMeetings(context.Background(), webex.ListMeetingsOptions{})
			if tt.wantErr == "" {
				if err != nil || len(items) != tt.wantItems {
					t.Fatalf("items = %v, err = %v; want %d items", items, err, tt.wantItems)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
			}
			if evilHits.Load() != before {
				t.Error("the client followed a link off the API host")
			}
		})
	}
}

func TestErrorKeepsTheTrackingID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.GetMeeting(ctx, "0123456789abcdef0123456789abcdef")
	var we *webex.Error
	if !errors.As(err, &we) {
		t.Fatalf("err = %v", err)
	}
	if we.StatusCode != 404 || we.Message == "" || len(we.Descriptions) == 0 || we.Op != "GET /v1/meetings/0123456789abcdef0123456789abcdef" {
		t.Errorf("error = %+v", we)
	}
	for _, part := range []string{"404 Not Found", "GET /v1/meetings/0123456789abcdef0123456789abcdef", "(trackingId " + we.TrackingID + ")"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%q lacks %q", err, part)
		}
	}

	// A body that is not Webex's: the tracking id comes from the header.
	b.fake.Inject(http.MethodGet, "/meetings/*", 1, webextest.Fault{Status: 404, Body: "<html>oops</html>"})
	_, err = b.client.GetMeeting(ctx, "0123456789abcdef0123456789abcdef")
	if !errors.As(err, &we) || !strings.HasPrefix(we.TrackingID, "ROUTER_") || we.Message != "" {
		t.Errorf("err = %+v, want no message and the TrackingID header's value", we)
	}
}
