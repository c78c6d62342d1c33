package graph_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// liveBundle is a GraphQL endpoint with live classes on a Webex fake.
type liveBundle struct {
	*bundle
	fake     *webextest.Server
	sessions *sqldb.LiveSessionService
	jobs     *edustreamtest.Jobs
	live     *edustream.LiveClasses
}

// failingSessions is the real store whose CreateLiveSession fails: a
// database failure after Webex scheduled the meeting.
type failingSessions struct {
	edustream.LiveSessionService
}

func (failingSessions) CreateLiveSession(context.Context, *edustream.LiveSession) error {
	return errors.New("database is gone")
}

// liveOption changes the live classes, or the handler, before the
// handler is built.
type liveOption func(*liveBundle, *graph.Config, *graph.Resolver)

// withoutWebex turns live classes off, as an unset EDUSTREAM_WEBEX_* does.
func withoutWebex(b *liveBundle, _ *graph.Config, _ *graph.Resolver) { b.live.Meetings = nil }

// withFailingStore makes storing a new session fail.
func withFailingStore(b *liveBundle, _ *graph.Config, _ *graph.Resolver) {
	b.live.Sessions = failingSessions{b.sessions}
}

func setupLive(t *testing.T, opts ...liveOption) *liveBundle {
	t.Helper()
	lb := &liveBundle{fake: webextest.New(t, webextest.Config{}), jobs: &edustreamtest.Jobs{}}
	client, err := webex.New(webex.Config{BaseURL: lb.fake.URL, Token: lb.fake.IssueAccessToken(0), MaxAttempts: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t)
	lb.bundle = newBundle(t, db, func(c *graph.Config, r *graph.Resolver) {
		lb.sessions = sqldb.NewLiveSessionService(db, nil)
		lb.live = &edustream.LiveClasses{Sessions: lb.sessions, Meetings: webex.NewMeetingService(client), Jobs: lb.jobs}
		r.LiveSessionService, r.Live = lb.sessions, lb.live
		for _, o := range opts {
			o(lb, c, r)
		}
	})
	return lb
}

const liveFields = `id title agenda status startsAt endsAt joinUrl meetingNumber password sipAddress hostKey
	course { id } recordingLecture { id }`

const createLive = `mutation($in: CreateLiveSessionInput!) { createLiveSession(input: $in) { ` + liveFields + ` } }`

// input is a valid createLiveSession input for course c, starting in a day.
func input(c *edustream.Course, edit func(map[string]any)) map[string]any {
	start := time.Now().Add(24 * time.Hour).Truncate(time.Minute)
	in := map[string]any{
		"courseId": idOf(c), "title": "Office hours", "agenda": "Questions",
		"startsAt": start.Format(time.RFC3339), "endsAt": start.Add(time.Hour).Format(time.RFC3339),
	}
	if edit != nil {
		edit(in)
	}
	return map[string]any{"in": in}
}

func (lb *liveBundle) create(t *testing.T, c *edustream.Course) map[string]any {
	t.Helper()
	r := lb.post(t, lb.instructor, createLive, input(c, nil)).NoErrors(t)
	return r.Data["createLiveSession"].(map[string]any)
}

// Bad input is refused before Webex hears of it, whoever asks.
func TestCreateLiveSessionValidatesBeforeWebex(t *testing.T) {
	t.Parallel()
	lb := setupLive(t)
	course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
	draft := lb.seedCourse(t, lb.otherInstructor, "Draft", 0, false)
	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name string
		user *edustream.User
		edit func(map[string]any)
		code string
	}{
		{"title of 129 characters", lb.instructor, func(in map[string]any) { in["title"] = strings.Repeat("é", 129) }, graph.CodeBadUserInput},
		{"empty title", lb.instructor, func(in map[string]any) { in["title"] = "  " }, graph.CodeBadUserInput},
		{"control character", lb.instructor, func(in map[string]any) { in["title"] = "a\u0007b" }, graph.CodeBadUserInput},
		{"bidi override", lb.instructor, func(in map[string]any) { in["title"] = "a\u202eb" }, graph.CodeBadUserInput},
		{"agenda too long", lb.instructor, func(in map[string]any) { in["agenda"] = strings.Repeat("a", 1301) }, graph.CodeBadUserInput},
		{"starts in the past", lb.instructor, func(in map[string]any) { in["startsAt"], in["endsAt"] = at(-time.Hour), at(time.Hour) }, graph.CodeBadUserInput},
		{"starts this minute", lb.instructor, func(in map[string]any) { in["startsAt"], in["endsAt"] = at(0), at(time.Hour) }, graph.CodeBadUserInput},
		{"9 minutes", lb.instructor, func(in map[string]any) { in["startsAt"], in["endsAt"] = at(time.Hour), at(time.Hour+9*time.Minute) }, graph.CodeBadUserInput},
		{"25 hours", lb.instructor, func(in map[string]any) { in["startsAt"], in["endsAt"] = at(time.Hour), at(26*time.Hour) }, graph.CodeBadUserInput},
		{"ends before it starts", lb.instructor, func(in map[string]any) { in["startsAt"], in["endsAt"] = at(2*time.Hour), at(time.Hour) }, graph.CodeBadUserInput},
		{"long clientMutationId", lb.instructor, func(in map[string]any) { in["clientMutationId"] = strings.Repeat("k", 129) }, graph.CodeBadUserInput},
		{"not a time", lb.instructor, func(in map[string]any) { in["startsAt"] = "tomorrow" }, graph.CodeBadUserInput},
		{"student", lb.student, nil, graph.CodeForbidden},
		{"other instructor", lb.otherInstructor, nil, graph.CodeForbidden},
		{"anonymous", nil, nil, graph.CodeUnauthenticated},
		{"someone else's draft", lb.instructor, func(in map[string]any) { in["courseId"] = idOf(draft) }, graph.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := lb.post(t, tt.user, createLive, input(course, tt.edit))
			if got := r.Code(t); got != tt.code {
				t.Errorf("code = %s (%s), want %s", got, r.Raw, tt.code)
			}
		})
	}
	if reqs := lb.fake.Requests("", ""); len(reqs) != 0 {
		t.Errorf("Webex received %d requests for refused inputs, first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
	}
	if n := len(lb.fake.Meetings()); n != 0 {
		t.Errorf("%d meetings were scheduled", n)
	}
}

// Whoever sees the course sees its sessions; only those who may join see
// how, and only the instructor and admins the host key. Refusals are
// nulls, never errors.
func TestLiveSessionJoinFields(t *testing.T) {
	t.Parallel()
	lb := setupLive(t)
	course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
	created := lb.create(t, course)
	enrolled := lb.seedUser(t, "enrolled", edustream.RoleStudent)
	if _, err := sqldb.NewEnrollmentService(lb.db, nil).Enroll(context.Background(), enrolled.ID, course.ID); err != nil {
		t.Fatal(err)
	}
	held, ok := lb.fake.Meeting(lb.meetingID(t, created["id"].(string)))
	if !ok {
		t.Fatal("Webex holds no meeting for the session")
	}
	tests := []struct {
		name       string
		user       *edustream.User
		join, host bool
	}{
		{"instructor", lb.instructor, true, true},
		{"admin", lb.admin, true, true},
		{"enrolled student", enrolled, true, false},
		{"student not enrolled", lb.student, false, false},
		{"other instructor", lb.otherInstructor, false, false},
		{"anonymous", nil, false, false},
	}
	query := `query($id: ID!) { liveSession(id: $id) { ` + liveFields + ` } }`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := lb.post(t, tt.user, query, map[string]any{"id": created["id"]}).NoErrors(t)
			s := r.Data["liveSession"].(map[string]any)
			if s["title"] != "Office hours" || s["status"] != "SCHEDULED" {
				t.Fatalf("session %v", s)
			}
			wantJoin := map[string]any{"joinUrl": nil, "meetingNumber": nil, "password": nil}
			if tt.join {
				wantJoin = map[string]any{"joinUrl": created["joinUrl"], "meetingNumber": held.MeetingNumber, "password": held.Password}
			}
			for k, want := range wantJoin {
				if s[k] != want {
					t.Errorf("%s = %v, want %v", k, s[k], want)
				}
			}
			if tt.join && (s["joinUrl"] == nil || s["sipAddress"] == nil) {
				t.Errorf("join details missing: %v", s)
			}
			var wantHost any
			if tt.host {
				wantHost = held.HostKey
			}
			if s["hostKey"] != wantHost {
				t.Errorf("hostKey = %v, want %v", s["hostKey"], wantHost)
			}
		})
	}
	t.Run("invisible course", func(t *testing.T) {
		draft := lb.seedCourse(t, lb.instructor, "Draft", 0, false)
		d := lb.create(t, draft)
		r := lb.post(t, lb.student, query, map[string]any{"id": d["id"]})
		if r.Code(t) != graph.CodeNotFound || r.Data["liveSession"] != nil {
			t.Errorf("a student reads a draft's session: %s", r.Raw)
		}
	})
}

// seedUser upserts a user straight through sqldb.
func (b *bundle) seedUser(t *testing.T, sub string, role edustream.Role) *edustream.User {
	t.Helper()
	u, err := sqldb.NewUserService(b.db).UpsertUser(context.Background(), edustream.Claims{Subject: sub, Role: role, Name: sub})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// meetingID returns the Webex series of a session.
func (lb *liveBundle) meetingID(t *testing.T, id string) string {
	t.Helper()
	s, err := lb.sessions.FindLiveSessionByID(context.Background(), mustID(t, id))
	if err != nil {
		t.Fatal(err)
	}
	return s.MeetingID
}

// A retried create with the same clientMutationId returns the first
// session and schedules one meeting.
func TestCreateLiveSessionIdempotent(t *testing.T) {
	t.Parallel()
	lb := setupLive(t)
	course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
	other := lb.seedCourse(t, lb.instructor, "Other", 0, true)
	keyed := func(c *edustream.Course) map[string]any {
		return input(c, func(in map[string]any) { in["clientMutationId"] = "retry-me" })
	}
	first := lb.post(t, lb.instructor, createLive, keyed(course)).NoErrors(t)
	again := lb.post(t, lb.instructor, createLive, keyed(course)).NoErrors(t)
	if first.Raw != again.Raw {
		t.Errorf("retry answered %s, want %s", again.Raw, first.Raw)
	}
	if n := len(lb.fake.Requests(http.MethodPost, "/meetings")); n != 1 {
		t.Errorf("Webex got %d creates, want 1", n)
	}
	if r := lb.post(t, lb.instructor, createLive, keyed(other)); r.Code(t) != graph.CodeConflict {
		t.Errorf("the key reused for another course: %s", r.Raw)
	}
	// Another user's key is theirs.
	if _, err := sqldb.NewCourseService(lb.db, nil).UpdateCourse(context.Background(), course.ID, edustream.CourseUpdate{}); err != nil {
		t.Fatal(err)
	}
	admin := lb.post(t, lb.admin, createLive, keyed(course)).NoErrors(t)
	if admin.Raw == first.Raw {
		t.Error("the admin's create with the same key returned the instructor's session")
	}
}

// Webex failing and the database failing after Webex: a clear error, and
// neither side keeps anything.
func TestCreateLiveSessionFailures(t *testing.T) {
	t.Parallel()
	t.Run("Webex 500", func(t *testing.T) {
		lb := setupLive(t)
		course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
		lb.fake.Fail(http.MethodPost, "/meetings", 1, http.StatusInternalServerError)
		r := lb.post(t, lb.instructor, createLive, input(course, nil))
		if r.Code(t) != graph.CodeInternal || !strings.Contains(r.Errors[0].Message, "Webex did not answer") {
			t.Errorf("create during a Webex outage: %s", r.Raw)
		}
		if lb.countSessions(t) != 0 || len(lb.fake.Meetings()) != 0 {
			t.Error("something was stored")
		}
	})
	t.Run("database after Webex", func(t *testing.T) {
		lb := setupLive(t, withFailingStore)
		course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
		r := lb.post(t, lb.instructor, createLive, input(course, nil))
		if r.Code(t) != graph.CodeInternal || !strings.Contains(r.Errors[0].Message, "cancelled again") {
			t.Errorf("create with a failing database: %s", r.Raw)
		}
		meetings := lb.fake.Meetings()
		if len(meetings) != 1 || !meetings[0].Deleted {
			t.Errorf("Webex holds %+v, want the one meeting deleted again", meetings)
		}
	})
	t.Run("database and Webex after Webex", func(t *testing.T) {
		lb := setupLive(t, withFailingStore)
		course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
		lb.fake.Fail(http.MethodDelete, "/meetings/*", 1, http.StatusServiceUnavailable)
		lb.post(t, lb.instructor, createLive, input(course, nil))
		meetings := lb.fake.Meetings()
		if deletes := lb.jobs.MeetingDeletes(); len(meetings) != 1 || meetings[0].Deleted || !slices.Equal(deletes, []string{meetings[0].SeriesID}) {
			t.Errorf("Webex holds %+v and the queue %v: want a delete task for the meeting", meetings, deletes)
		}
	})
	t.Run("live classes off", func(t *testing.T) {
		lb := setupLive(t, withoutWebex)
		course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
		r := lb.post(t, lb.instructor, createLive, input(course, nil))
		if r.Code(t) != graph.CodeConflict || !strings.Contains(r.Errors[0].Message, "no Webex account") {
			t.Errorf("create without Webex: %s", r.Raw)
		}
		q := lb.post(t, lb.student, `query($c: ID!) { course(id: $c) { title liveSessions { id } } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
		if !strings.Contains(q.Raw, `"liveSessions":[]`) {
			t.Errorf("course without Webex: %s", q.Raw)
		}
	})
}

func (lb *liveBundle) countSessions(t *testing.T) int {
	t.Helper()
	m, err := lb.sessions.FindActiveLiveSessions(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// Update and cancel go to Webex (the cancel through a task); the course
// lists upcoming sessions first and past ones on request.
func TestLiveSessionUpdateCancelAndList(t *testing.T) {
	t.Parallel()
	lb := setupLive(t)
	course := lb.seedCourse(t, lb.instructor, "Live", 0, true)
	a, b := lb.create(t, course), lb.create(t, course)

	start := time.Now().Add(48 * time.Hour).Truncate(time.Minute)
	r := lb.post(t, lb.instructor, `mutation($id: ID!, $in: UpdateLiveSessionInput!) { updateLiveSession(id: $id, input: $in) { title startsAt endsAt } }`,
		map[string]any{"id": b["id"], "in": map[string]any{"title": "Moved", "startsAt": start.Format(time.RFC3339), "endsAt": start.Add(2 * time.Hour).Format(time.RFC3339)}}).NoErrors(t)
	got := r.Data["updateLiveSession"].(map[string]any)
	if got["title"] != "Moved" || got["startsAt"] != start.UTC().Format(time.RFC3339) {
		t.Errorf("updated %v", got)
	}
	if held, _ := lb.fake.Meeting(lb.meetingID(t, b["id"].(string))); held.Title != "Moved" || !held.Start.Equal(start) {
		t.Errorf("Webex holds %+v", held)
	}

	cancel := `mutation($id: ID!) { cancelLiveSession(id: $id) { status joinUrl } }`
	if r := lb.post(t, lb.student, cancel, map[string]any{"id": a["id"]}); r.Code(t) != graph.CodeForbidden {
		t.Errorf("a student cancels: %s", r.Raw)
	}
	for range 2 {
		r := lb.post(t, lb.instructor, cancel, map[string]any{"id": a["id"]}).NoErrors(t)
		if r.Data["cancelLiveSession"].(map[string]any)["status"] != "CANCELLED" {
			t.Errorf("cancel: %s", r.Raw)
		}
	}
	if series, deletes := lb.meetingID(t, a["id"].(string)), lb.jobs.MeetingDeletes(); !slices.Equal(deletes, []string{series, series}) {
		t.Errorf("delete tasks %v, want %s (again on the second cancel)", deletes, series)
	}
	if r := lb.post(t, lb.instructor, `mutation($id: ID!) { updateLiveSession(id: $id, input: {title: "x"}) { id } }`,
		map[string]any{"id": a["id"]}); r.Code(t) != graph.CodeConflict {
		t.Errorf("update of a cancelled class: %s", r.Raw)
	}

	list := func(args string) []string {
		t.Helper()
		r := lb.post(t, lb.student, `query($c: ID!) { course(id: $c) { liveSessions`+args+` { title status } } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
		var out []string
		for _, s := range r.Data["course"].(map[string]any)["liveSessions"].([]any) {
			out = append(out, s.(map[string]any)["title"].(string)+" "+s.(map[string]any)["status"].(string))
		}
		return out
	}
	for args, want := range map[string][]string{
		"":                         {"Moved SCHEDULED", "Office hours CANCELLED"},
		"(past: false)":            {"Moved SCHEDULED"},
		"(past: true)":             {"Office hours CANCELLED"},
		"(first: 1)":               {"Moved SCHEDULED"},
		"(first: 0)":               nil,
		"(past: null)":             {"Moved SCHEDULED", "Office hours CANCELLED"},
		"(past: true, first: 100)": {"Office hours CANCELLED"},
	} {
		if got := list(args); !slices.Equal(got, want) {
			t.Errorf("liveSessions%s = %v, want %v", args, got, want)
		}
	}
	if r := lb.post(t, lb.student, `query($c: ID!) { course(id: $c) { liveSessions(first: 101) { id } } }`, map[string]any{"c": idOf(course)}); r.Code(t) != graph.CodeBadUserInput {
		t.Errorf("first: 101: %s", r.Raw)
	}
}
