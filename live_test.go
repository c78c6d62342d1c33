package edustream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

func TestLiveSessionInputValidate(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC)
	ok := edustream.LiveSessionInput{Title: "Office hours", Agenda: "Line one\n\tLine two", StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour)}
	tests := []struct {
		name string
		edit func(*edustream.LiveSessionInput)
		want string // "" for valid, else a part of the message
	}{
		{"valid", func(*edustream.LiveSessionInput) {}, ""},
		{"128 characters", func(in *edustream.LiveSessionInput) { in.Title = strings.Repeat("名", 128) }, ""},
		{"129 characters", func(in *edustream.LiveSessionInput) { in.Title = strings.Repeat("名", 129) }, "at most 128"},
		{"blank title", func(in *edustream.LiveSessionInput) { in.Title = " \u00a0" }, "must not be empty"},
		{"newline in title", func(in *edustream.LiveSessionInput) { in.Title = "a\nb" }, "control characters"},
		{"bidi override in title", func(in *edustream.LiveSessionInput) { in.Title = "a\u202ebc" }, "bidi override"},
		{"bidi isolate in agenda", func(in *edustream.LiveSessionInput) { in.Agenda = "a\u2066bc" }, "agenda must not contain bidi"},
		{"invalid UTF-8", func(in *edustream.LiveSessionInput) { in.Title = "a\xffb" }, "UTF-8"},
		{"agenda of 1300", func(in *edustream.LiveSessionInput) { in.Agenda = strings.Repeat("a", 1300) }, ""},
		{"agenda of 1301", func(in *edustream.LiveSessionInput) { in.Agenda = strings.Repeat("a", 1301) }, "at most 1300"},
		{"agenda with NUL", func(in *edustream.LiveSessionInput) { in.Agenda = "a\x00" }, "agenda"},
		{"no start", func(in *edustream.LiveSessionInput) { in.StartsAt = time.Time{} }, "required"},
		{"in the past", func(in *edustream.LiveSessionInput) { in.StartsAt, in.EndsAt = now.Add(-time.Hour), now.Add(time.Hour) }, "future"},
		{"this minute", func(in *edustream.LiveSessionInput) {
			in.StartsAt, in.EndsAt = now.Add(20*time.Second), now.Add(time.Hour)
		}, "future"},
		{"next minute", func(in *edustream.LiveSessionInput) {
			in.StartsAt, in.EndsAt = now.Add(30*time.Second), now.Add(time.Hour)
		}, ""},
		{"exactly 10 minutes", func(in *edustream.LiveSessionInput) { in.EndsAt = in.StartsAt.Add(10 * time.Minute) }, ""},
		{"9 minutes", func(in *edustream.LiveSessionInput) { in.EndsAt = in.StartsAt.Add(9 * time.Minute) }, "at least 10m, got 9m"},
		// Both ends are kept to the minute: 12:00:30–12:10:29 is 12:00–12:10.
		{"9:59 that Webex holds as 10", func(in *edustream.LiveSessionInput) { in.EndsAt = in.StartsAt.Add(10*time.Minute - time.Second) }, ""},
		{"exactly 24 hours", func(in *edustream.LiveSessionInput) { in.EndsAt = in.StartsAt.Add(24 * time.Hour) }, ""},
		{"24 hours and a minute", func(in *edustream.LiveSessionInput) { in.EndsAt = in.StartsAt.Add(24*time.Hour + time.Minute) }, "at most 24h"},
		{"ends first", func(in *edustream.LiveSessionInput) { in.EndsAt = in.StartsAt.Add(-time.Hour) }, "at least 10m"},
		{"long key", func(in *edustream.LiveSessionInput) { in.IdempotencyKey = strings.Repeat("k", 129) }, "clientMutationId"},
		{"key with a newline", func(in *edustream.LiveSessionInput) { in.IdempotencyKey = "a\nb" }, "clientMutationId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.edit(&in)
			err := in.Validate(now)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(err), tt.want)):
				t.Errorf("Validate = %v, want EINVALID mentioning %q", err, tt.want)
			}
		})
	}
}

// Validate leaves the input as Webex and the database will hold it: times
// to the minute in UTC, text in its stored form.
func TestLiveSessionInputValidateNormalizes(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	in := edustream.LiveSessionInput{
		Title:    "  Cafe\u0301 hours\t",
		Agenda:   "one\r\ntwo\rthree",
		StartsAt: time.Date(2030, 1, 1, 10, 0, 59, 999, time.FixedZone("X", 3600)),
		EndsAt:   time.Date(2030, 1, 1, 11, 30, 1, 0, time.UTC),
	}
	if err := in.Validate(now); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC); in.StartsAt != want {
		t.Errorf("StartsAt = %v, want %v", in.StartsAt, want)
	}
	if want := time.Date(2030, 1, 1, 11, 30, 0, 0, time.UTC); in.EndsAt != want {
		t.Errorf("EndsAt = %v, want %v", in.EndsAt, want)
	}
	if in.Title != "Caf\u00e9 hours" || in.Agenda != "one\ntwo\nthree" {
		t.Errorf("title %q, agenda %q", in.Title, in.Agenda)
	}
}

// A change is validated as the session it makes; times that do not change
// are not held against the clock.
func TestLiveSessionChange(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	s := &edustream.LiveSession{Title: "Old", Agenda: "a", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour)}
	title, long := "New", strings.Repeat("t", 129)
	later, tooSoon := now.Add(2*time.Hour), now.Add(time.Hour+5*time.Minute)
	padded := " New\u200f "
	tests := []struct {
		name    string
		change  edustream.LiveSessionChange
		wantErr bool
		want    edustream.LiveSessionInput
	}{
		{"title only, start passed", edustream.LiveSessionChange{Title: &title}, false,
			edustream.LiveSessionInput{Title: "New", Agenda: "a", StartsAt: s.StartsAt, EndsAt: s.EndsAt}},
		{"title stored as typed text is", edustream.LiveSessionChange{Title: &padded}, false,
			edustream.LiveSessionInput{Title: "New\u200f", Agenda: "a", StartsAt: s.StartsAt, EndsAt: s.EndsAt}},
		{"bad title", edustream.LiveSessionChange{Title: &long}, true, edustream.LiveSessionInput{}},
		{"move start from the past", edustream.LiveSessionChange{StartsAt: &later, EndsAt: ptr(later.Add(time.Hour))}, false,
			edustream.LiveSessionInput{Title: "Old", Agenda: "a", StartsAt: later, EndsAt: later.Add(time.Hour)}},
		{"end only, start passed", edustream.LiveSessionChange{EndsAt: &later}, true, edustream.LiveSessionInput{}},
		{"too short", edustream.LiveSessionChange{StartsAt: &later, EndsAt: &tooSoon}, true, edustream.LiveSessionInput{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := tt.change.Apply(s, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Apply = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && in != tt.want {
				t.Errorf("Apply = %+v, want %+v", in, tt.want)
			}
		})
	}
}

func TestLiveSessionUpcoming(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		status edustream.LiveSessionStatus
		ends   time.Duration
		want   bool
	}{
		{edustream.LiveScheduled, time.Hour, true},
		{edustream.LiveScheduled, -time.Minute, false},
		{edustream.LiveLive, -time.Hour, true},
		{edustream.LiveEnded, time.Hour, false},
		{edustream.LiveCancelled, time.Hour, false},
	}
	for _, tt := range tests {
		s := &edustream.LiveSession{Status: tt.status, EndsAt: now.Add(tt.ends)}
		if got := s.Upcoming(now); got != tt.want {
			t.Errorf("%s ending in %v: Upcoming = %v, want %v", tt.status, tt.ends, got, tt.want)
		}
	}
}

// Webhooks name the meeting instance; the series is what a session stores.
func TestMeetingEventSeries(t *testing.T) {
	tests := []struct {
		e    edustream.MeetingEvent
		want string
	}{
		{edustream.MeetingEvent{MeetingID: "abc123_I_204857", SeriesID: "abc123"}, "abc123"},
		{edustream.MeetingEvent{MeetingID: "abc123_I_204857"}, "abc123"},
		{edustream.MeetingEvent{MeetingID: "abc123_20300101T100000Z"}, "abc123"},
		{edustream.MeetingEvent{MeetingID: "abc123"}, "abc123"},
		{edustream.MeetingEvent{MeetingID: "other_I_1", SeriesID: "abc123"}, "abc123"},
		{edustream.MeetingEvent{MeetingNumber: "2512345678"}, ""},
	}
	for _, tt := range tests {
		if got := tt.e.Series(); got != tt.want {
			t.Errorf("%+v: Series = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestLiveSessionPolicy(t *testing.T) {
	now := time.Now()
	admin := &edustream.User{ID: 1, Role: edustream.RoleAdmin}
	owner := &edustream.User{ID: 2, Role: edustream.RoleInstructor}
	other := &edustream.User{ID: 3, Role: edustream.RoleInstructor}
	student := &edustream.User{ID: 4, Role: edustream.RoleStudent}
	published := &edustream.Course{ID: 10, InstructorID: owner.ID, PublishedAt: &now}
	draft := &edustream.Course{ID: 11, InstructorID: owner.ID}
	tests := []struct {
		name                    string
		user                    *edustream.User
		course                  *edustream.Course
		enrolled                bool
		schedule, join, hostKey bool
	}{
		{"owner", owner, published, false, true, true, true},
		{"owner of a draft", owner, draft, false, true, true, true},
		{"admin", admin, published, false, true, true, true},
		{"enrolled student", student, published, true, false, true, false},
		{"student not enrolled", student, published, false, false, false, false},
		{"enrolled in a draft", student, draft, true, false, false, false},
		{"other instructor", other, published, false, false, false, false},
		{"other instructor enrolled", other, published, true, false, true, false},
		{"anonymous", nil, published, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := edustream.CanScheduleLiveSession(tt.user, tt.course); got != tt.schedule {
				t.Errorf("CanScheduleLiveSession = %v, want %v", got, tt.schedule)
			}
			if got := edustream.CanJoinLiveSession(tt.user, tt.course, tt.enrolled); got != tt.join {
				t.Errorf("CanJoinLiveSession = %v, want %v", got, tt.join)
			}
			if got := edustream.CanHostLiveSession(tt.user, tt.course); got != tt.hostKey {
				t.Errorf("CanHostLiveSession = %v, want %v", got, tt.hostKey)
			}
		})
	}
}
