package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

// liveSession stores a session of course by creator whose meeting is
// series, starting start and lasting an hour.
func (f *Fixture) liveSession(t *testing.T, courseID, creatorID int64, series string, start time.Time) *edustream.LiveSession {
	t.Helper()
	s := &edustream.LiveSession{
		CourseID: courseID, CreatorID: creatorID, Title: "Live " + series, Agenda: "Questions\nand answers",
		StartsAt: start, EndsAt: start.Add(time.Hour),
		MeetingID: series, MeetingNumber: "2" + fmt.Sprint(len(series)) + series, JoinURL: "https://site.webex.com/j/" + series,
		Password: "Pw" + series, HostKey: "123456", SIPAddress: series + "@site.webex.com",
	}
	if err := f.Live.CreateLiveSession(context.Background(), s); err != nil {
		t.Fatalf("create live session %s: %v", series, err)
	}
	return s
}

func liveIDs(sessions []*edustream.LiveSession) []string {
	var out []string
	for _, s := range sessions {
		out = append(out, s.MeetingID)
	}
	return out
}

func testLiveSessions(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	other := f.User(t, "other", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)
	start := time.Date(2030, 5, 6, 7, 8, 0, 0, time.FixedZone("EST", -5*3600))

	s := f.liveSession(t, course.ID, inst.ID, "aaa", start)
	t.Run("create", func(t *testing.T) {
		if s.ID == 0 || s.Status != edustream.LiveScheduled || s.Version != 1 || s.StartsAt.Location() != time.UTC || s.CreatedAt.IsZero() {
			t.Fatalf("created %+v", s)
		}
		got, err := f.Live.FindLiveSessionByID(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("FindLiveSessionByID (-created +found):\n%s", diff)
		}
		_, err = f.Live.FindLiveSessionByID(ctx, 987654)
		WantCode(t, err, edustream.ENOTFOUND, "live session 987654 not found")
	})
	t.Run("create refusals", func(t *testing.T) {
		keyed := &edustream.LiveSession{CourseID: course.ID, CreatorID: inst.ID, Title: "k", MeetingID: "keyed", StartsAt: start, EndsAt: start.Add(time.Hour), IdempotencyKey: "key-1"}
		if err := f.Live.CreateLiveSession(ctx, keyed); err != nil {
			t.Fatal(err)
		}
		tests := map[string]struct {
			s    edustream.LiveSession
			code string
		}{
			"no meeting":          {edustream.LiveSession{CourseID: course.ID, CreatorID: inst.ID, Title: "x"}, edustream.EINVALID},
			"no course":           {edustream.LiveSession{CreatorID: inst.ID, Title: "x", MeetingID: "m1"}, edustream.EINVALID},
			"meeting of another":  {edustream.LiveSession{CourseID: course.ID, CreatorID: inst.ID, Title: "x", MeetingID: "aaa", StartsAt: start, EndsAt: start}, edustream.ECONFLICT},
			"key used by creator": {edustream.LiveSession{CourseID: course.ID, CreatorID: inst.ID, Title: "x", MeetingID: "m2", StartsAt: start, EndsAt: start, IdempotencyKey: "key-1"}, edustream.ECONFLICT},
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				WantCode(t, f.Live.CreateLiveSession(ctx, &tt.s), tt.code, "")
			})
		}
		t.Run("same key, other creator", func(t *testing.T) {
			s := &edustream.LiveSession{CourseID: course.ID, CreatorID: other.ID, Title: "x", MeetingID: "m4", StartsAt: start, EndsAt: start, IdempotencyKey: "key-1"}
			if err := f.Live.CreateLiveSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("no key twice", func(t *testing.T) {
			for _, m := range []string{"m5", "m6"} {
				if err := f.Live.CreateLiveSession(ctx, &edustream.LiveSession{CourseID: course.ID, CreatorID: inst.ID, Title: "x", MeetingID: m, StartsAt: start, EndsAt: start}); err != nil {
					t.Fatal(err)
				}
			}
		})
		got, err := f.Live.FindLiveSessionByIdempotencyKey(ctx, inst.ID, "key-1")
		if err != nil || got.ID != keyed.ID {
			t.Errorf("FindLiveSessionByIdempotencyKey = %+v, %v; want session %d", got, err, keyed.ID)
		}
		_, err = f.Live.FindLiveSessionByIdempotencyKey(ctx, inst.ID, "KEY-1")
		WantCode(t, err, edustream.ENOTFOUND, "")
	})
	t.Run("find by meeting", func(t *testing.T) {
		tests := []struct {
			name, series, number string
			want                 int64 // 0: ENOTFOUND
		}{
			{"series", "aaa", "", s.ID},
			{"series wins over number", "aaa", "no-such-number", s.ID},
			{"number without series", "", s.MeetingNumber, s.ID},
			{"other case", "AAA", "", 0},
			{"unknown series", "zzz", s.MeetingNumber, 0},
			{"nothing", "", "", 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.Live.FindLiveSessionByMeeting(ctx, tt.series, tt.number)
				if tt.want == 0 {
					WantCode(t, err, edustream.ENOTFOUND, "")
					return
				}
				if err != nil || got.ID != tt.want {
					t.Errorf("got %+v, %v; want session %d", got, err, tt.want)
				}
			})
		}
	})

	t.Run("transitions", func(t *testing.T) {
		s := f.liveSession(t, course.ID, inst.ID, "trans", start)
		scheduled := []edustream.LiveSessionStatus{edustream.LiveScheduled}
		toEnd := []edustream.LiveSessionStatus{edustream.LiveScheduled, edustream.LiveLive}
		steps := []struct {
			name      string
			from      []edustream.LiveSessionStatus
			to        edustream.LiveSessionStatus
			moved     bool
			status    edustream.LiveSessionStatus
			version   int64
			startedAt bool
			endedAt   bool
		}{
			{"started", scheduled, edustream.LiveLive, true, edustream.LiveLive, 2, true, false},
			{"started again", scheduled, edustream.LiveLive, false, edustream.LiveLive, 2, true, false},
			{"ended", toEnd, edustream.LiveEnded, true, edustream.LiveEnded, 3, true, true},
			{"late start", scheduled, edustream.LiveLive, false, edustream.LiveEnded, 3, true, true},
			{"ended again", toEnd, edustream.LiveEnded, false, edustream.LiveEnded, 3, true, true},
		}
		for _, st := range steps {
			got, moved, err := f.Live.TransitionLiveSession(ctx, s.ID, st.from, st.to)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if moved != st.moved || got.Status != st.status || got.Version != st.version ||
				(got.StartedAt != nil) != st.startedAt || (got.EndedAt != nil) != st.endedAt {
				t.Errorf("%s: moved %v, %+v", st.name, moved, got)
			}
		}
		_, _, err := f.Live.TransitionLiveSession(ctx, 987654, scheduled, edustream.LiveLive)
		WantCode(t, err, edustream.ENOTFOUND, "")
	})

	t.Run("update", func(t *testing.T) {
		s := f.liveSession(t, course.ID, inst.ID, "upd", start)
		upd := edustream.LiveSessionUpdate{Version: s.Version, Title: "Moved", Agenda: "new", StartsAt: start.Add(time.Hour), EndsAt: start.Add(3 * time.Hour)}
		got, err := f.Live.UpdateLiveSession(ctx, s.ID, upd)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "Moved" || got.Agenda != "new" || !got.StartsAt.Equal(upd.StartsAt) || !got.EndsAt.Equal(upd.EndsAt) || got.Version != 2 {
			t.Errorf("updated %+v", got)
		}
		_, err = f.Live.UpdateLiveSession(ctx, s.ID, upd) // the old version
		WantCode(t, err, edustream.ECONFLICT, "")
		live, _, _ := f.Live.TransitionLiveSession(ctx, s.ID, []edustream.LiveSessionStatus{edustream.LiveScheduled}, edustream.LiveLive)
		upd.Version = live.Version
		_, err = f.Live.UpdateLiveSession(ctx, s.ID, upd)
		WantCode(t, err, edustream.ECONFLICT, "")
		_, err = f.Live.UpdateLiveSession(ctx, 987654, upd)
		WantCode(t, err, edustream.ENOTFOUND, "")
	})

	t.Run("cancel", func(t *testing.T) {
		s := f.liveSession(t, course.ID, inst.ID, "cancel", start)
		got, err := f.Live.CancelLiveSession(ctx, s.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != edustream.LiveCancelled || !got.MeetingDeletePending || got.CancelledAt == nil || got.Version != 2 {
			t.Errorf("cancelled %+v", got)
		}
		again, err := f.Live.CancelLiveSession(ctx, s.ID, true)
		if err != nil || again.Version != 2 {
			t.Errorf("cancel again = %+v, %v; want it unchanged", again, err)
		}
		pending, err := f.Live.FindPendingMeetingDeletes(ctx)
		if err != nil || !slices.Equal(liveIDs(pending), []string{"cancel"}) {
			t.Errorf("FindPendingMeetingDeletes = %v, %v", liveIDs(pending), err)
		}
		if err := f.Live.MarkMeetingDeleted(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if pending, err = f.Live.FindPendingMeetingDeletes(ctx); err != nil || len(pending) != 0 {
			t.Errorf("after MarkMeetingDeleted: %v, %v", liveIDs(pending), err)
		}
		if _, moved, _ := f.Live.TransitionLiveSession(ctx, s.ID, []edustream.LiveSessionStatus{edustream.LiveScheduled}, edustream.LiveLive); moved {
			t.Error("a cancelled session went LIVE")
		}

		gone := f.liveSession(t, course.ID, inst.ID, "gone", start)
		if got, err := f.Live.CancelLiveSession(ctx, gone.ID, false); err != nil || got.MeetingDeletePending {
			t.Errorf("cancel without delete = %+v, %v", got, err)
		}
		live := f.liveSession(t, course.ID, inst.ID, "running", start)
		f.Live.TransitionLiveSession(ctx, live.ID, []edustream.LiveSessionStatus{edustream.LiveScheduled}, edustream.LiveLive)
		_, err = f.Live.CancelLiveSession(ctx, live.ID, true)
		WantCode(t, err, edustream.ECONFLICT, "")
		_, err = f.Live.CancelLiveSession(ctx, 987654, true)
		WantCode(t, err, edustream.ENOTFOUND, "live session 987654 not found")
	})

	t.Run("recording lecture", func(t *testing.T) {
		s := f.liveSession(t, course.ID, inst.ID, "rec", start)
		got, changed, err := f.Live.SetRecordingLecture(ctx, s.ID, 77)
		if err != nil || !changed || got.RecordingLectureID == nil || *got.RecordingLectureID != 77 || got.Version != 2 {
			t.Fatalf("SetRecordingLecture = %+v, %v, %v", got, changed, err)
		}
		got, changed, err = f.Live.SetRecordingLecture(ctx, s.ID, 78)
		if err != nil || changed || *got.RecordingLectureID != 77 {
			t.Errorf("second SetRecordingLecture = %+v, %v, %v; want the first kept", got, changed, err)
		}
	})
}

func testLiveSessionLists(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	a := f.Course(t, inst.ID, "a", true)
	b := f.Course(t, inst.ID, "b", true)
	now := time.Date(2030, 1, 10, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	move := func(s *edustream.LiveSession, to edustream.LiveSessionStatus) {
		t.Helper()
		if _, moved, err := f.Live.TransitionLiveSession(ctx, s.ID, []edustream.LiveSessionStatus{edustream.LiveScheduled, edustream.LiveLive}, to); err != nil || !moved {
			t.Fatalf("move %s to %s: %v", s.MeetingID, to, err)
		}
	}
	f.liveSession(t, a.ID, inst.ID, "a3", now.Add(3*day))
	f.liveSession(t, a.ID, inst.ID, "a1", now.Add(day))
	move(f.liveSession(t, a.ID, inst.ID, "running", now.Add(-30*time.Minute)), edustream.LiveLive)
	move(f.liveSession(t, a.ID, inst.ID, "ended", now.Add(-2*day)), edustream.LiveEnded)
	f.liveSession(t, a.ID, inst.ID, "lapsed", now.Add(-day)) // SCHEDULED, but over
	if _, err := f.Live.CancelLiveSession(ctx, f.liveSession(t, a.ID, inst.ID, "cancelled", now.Add(2*day)).ID, false); err != nil {
		t.Fatal(err)
	}
	f.liveSession(t, b.ID, inst.ID, "b1", now.Add(day))

	yes, no := true, false
	tests := []struct {
		name  string
		past  *bool
		limit int
		wantA []string
	}{
		{"all", nil, 10, []string{"running", "a1", "a3", "cancelled", "lapsed", "ended"}},
		{"upcoming", &no, 10, []string{"running", "a1", "a3"}},
		{"past", &yes, 10, []string{"cancelled", "lapsed", "ended"}},
		{"limit per course", nil, 2, []string{"running", "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Live.FindLiveSessionsByCourseIDs(ctx, []int64{a.ID, b.ID, 424242, a.ID}, edustream.LiveSessionFilter{Past: tt.past, Now: now, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantA, liveIDs(got[a.ID])); diff != "" {
				t.Errorf("course a (-want +got):\n%s", diff)
			}
			wantB := []string{"b1"}
			if tt.past != nil && *tt.past {
				wantB = nil
			}
			if diff := cmp.Diff(wantB, liveIDs(got[b.ID])); diff != "" {
				t.Errorf("course b (-want +got):\n%s", diff)
			}
			if _, ok := got[424242]; ok {
				t.Error("a course without sessions has an entry")
			}
		})
	}
	t.Run("no courses or no limit", func(t *testing.T) {
		for _, ids := range [][]int64{nil, {a.ID}} {
			got, err := f.Live.FindLiveSessionsByCourseIDs(ctx, ids, edustream.LiveSessionFilter{Now: now})
			if err != nil || len(got) != 0 {
				t.Errorf("%v: %v, %v", ids, got, err)
			}
		}
	})
	t.Run("active", func(t *testing.T) {
		got, err := f.Live.FindActiveLiveSessions(ctx, now.Add(-day-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"lapsed", "running", "a1", "b1", "a3"}, liveIDs(got)); diff != "" {
			t.Errorf("FindActiveLiveSessions (-want +got):\n%s", diff)
		}
	})
	t.Run("ended without a recording", func(t *testing.T) {
		got, err := f.Live.FindEndedWithoutRecording(ctx, now.Add(-3*day))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"ended"}, liveIDs(got)); diff != "" {
			t.Errorf("FindEndedWithoutRecording (-want +got):\n%s", diff)
		}
		if got, _ := f.Live.FindEndedWithoutRecording(ctx, now); len(got) != 0 {
			t.Errorf("sessions that ended before since: %v", liveIDs(got))
		}
		if _, _, err := f.Live.SetRecordingLecture(ctx, got[0].ID, f.Lecture(t, a.ID, "rec", 0).ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Live.FindEndedWithoutRecording(ctx, now.Add(-3*day)); len(got) != 0 {
			t.Errorf("a session with its recording is still found: %v", liveIDs(got))
		}
	})
}

func testLiveRecordings(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)
	f.Lecture(t, course.ID, "first", 0)
	s := f.liveSession(t, course.ID, inst.ID, "series", time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC))
	lecture := func() *edustream.Lecture {
		return &edustream.Lecture{CourseID: course.ID, Title: s.Title + " (recording)", Description: "d"}
	}

	l := lecture()
	claim, err := f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec1", SessionID: s.ID}, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("claim creates the lecture at the end", func(t *testing.T) {
		if claim.LectureID == 0 || claim.LectureID != l.ID || l.Position != 2 || claim.VideoID != 0 || claim.ImportedAt != nil {
			t.Fatalf("claim %+v, lecture %+v", claim, l)
		}
		if got := lectureOrder(t, f, course.ID); !slices.Equal(got, []string{"first", "Live series (recording)"}) {
			t.Errorf("lectures = %v", got)
		}
	})
	t.Run("claim again creates nothing", func(t *testing.T) {
		again, err := f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec1", SessionID: s.ID}, lecture())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(claim, again); diff != "" {
			t.Errorf("second claim (-first +second):\n%s", diff)
		}
		if n := len(lectureOrder(t, f, course.ID)); n != 2 {
			t.Errorf("course has %d lectures, want 2", n)
		}
	})
	t.Run("concurrent claims make one lecture", func(t *testing.T) {
		var wg sync.WaitGroup
		claims := make([]*edustream.LiveRecording, 4)
		errs := make([]error, len(claims))
		for i := range claims {
			wg.Go(func() {
				claims[i], errs[i] = f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec2", SessionID: s.ID}, lecture())
			})
		}
		wg.Wait()
		for i := range claims {
			if errs[i] != nil || claims[i].LectureID != claims[0].LectureID {
				t.Errorf("claim %d = %+v, %v", i, claims[i], errs[i])
			}
		}
		if n := len(lectureOrder(t, f, course.ID)); n != 3 {
			t.Errorf("course has %d lectures, want 3", n)
		}
	})
	t.Run("video and import", func(t *testing.T) {
		if err := f.Live.SetLiveRecordingVideo(ctx, "rec1", 55); err != nil {
			t.Fatal(err)
		}
		if err := f.Live.SetLiveRecordingVideo(ctx, "rec1", 56); err != nil {
			t.Fatal(err)
		}
		if err := f.Live.MarkLiveRecordingImported(ctx, "rec1"); err != nil {
			t.Fatal(err)
		}
		got, err := f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec1", SessionID: s.ID}, lecture())
		if err != nil || got.VideoID != 55 || got.ImportedAt == nil {
			t.Errorf("after import: %+v, %v; want video 55 and an import time", got, err)
		}
		WantCode(t, f.Live.SetLiveRecordingVideo(ctx, "never", 1), edustream.ENOTFOUND, "recording never was never claimed")
		WantCode(t, f.Live.MarkLiveRecordingImported(ctx, "never"), edustream.ENOTFOUND, "")
	})
	t.Run("refusals", func(t *testing.T) {
		hidden := f.hiddenCourse(t, inst.ID, "hidden")
		_, err := f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec3", SessionID: s.ID},
			&edustream.Lecture{CourseID: hidden.ID, Title: "x"})
		WantCode(t, err, edustream.ENOTFOUND, fmt.Sprintf("course %d not found", hidden.ID))
		_, err = f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{SessionID: s.ID}, lecture())
		WantCode(t, err, edustream.EINVALID, "")
		_, err = f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec4", SessionID: s.ID}, &edustream.Lecture{CourseID: course.ID})
		WantCode(t, err, edustream.EINVALID, "")
		// A refused claim leaves nothing behind: claimed now, each
		// recording gets a lecture of its own.
		for _, id := range []string{"rec3", "rec4"} {
			l := lecture()
			claim, err := f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: id, SessionID: s.ID}, l)
			if err != nil || claim.LectureID == 0 || claim.LectureID != l.ID {
				t.Errorf("claim of %s after its refusal = %+v, %v; want one with a new lecture", id, claim, err)
			}
		}
		if n := len(lectureOrder(t, f, course.ID)); n != 5 {
			t.Errorf("course has %d lectures, want 5", n)
		}
	})
}

func testOAuthTokens(t *testing.T, f *Fixture) {
	ctx := context.Background()
	empty, err := f.Tokens.LoadOAuthToken(ctx, "webex")
	if err != nil || empty != (edustream.OAuthToken{}) {
		t.Fatalf("empty store: %+v, %v", empty, err)
	}
	first := edustream.OAuthToken{
		AccessToken: "access-1", Expiry: time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600)),
		RefreshToken: "refresh-1", RefreshExpiry: time.Date(2030, 3, 2, 3, 4, 5, 0, time.UTC),
	}
	second := edustream.OAuthToken{AccessToken: "access-2", RefreshToken: "refresh-1"}
	for _, tok := range []edustream.OAuthToken{first, second} {
		if err := f.Tokens.SaveOAuthToken(ctx, "webex", tok); err != nil {
			t.Fatal(err)
		}
		got, err := f.Tokens.LoadOAuthToken(ctx, "webex")
		if err != nil {
			t.Fatal(err)
		}
		want := tok
		if !want.Expiry.IsZero() {
			want.Expiry = want.Expiry.UTC().Truncate(time.Microsecond)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("load after save (-want +got):\n%s", diff)
		}
	}
	if other, err := f.Tokens.LoadOAuthToken(ctx, "other"); err != nil || other != (edustream.OAuthToken{}) {
		t.Errorf("another provider: %+v, %v", other, err)
	}
}
