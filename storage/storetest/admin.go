package storetest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

func videoIDs(videos []*edustream.Video) []int64 {
	var ids []int64
	for _, v := range videos {
		ids = append(ids, v.ID)
	}
	return ids
}

// testAdminVideos: FindVideos lists the videos of every visible lecture,
// drafts' included, newest first, and leaves out replaced videos and those
// of hidden courses.
func testAdminVideos(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	published := f.Course(t, inst.ID, "published", true)
	draft := f.Course(t, inst.ID, "draft", false)
	doomed := f.Course(t, inst.ID, "doomed", true)
	lecture := f.Lecture(t, published.ID, "l", 0)
	other := f.Lecture(t, published.ID, "other", 0)
	drafted := f.Lecture(t, draft.ID, "d", 0)
	hidden := f.Lecture(t, doomed.ID, "h", 0)

	ready := f.walkToComplete(t, f.video(t, lecture.ID, inst.ID))
	if _, _, err := f.Videos.CompleteVideo(ctx, ready.ID); err != nil {
		t.Fatal(err)
	}
	failed := f.move(t, f.video(t, other.ID, inst.ID), edustream.VideoUpdate{Status: ptr(edustream.VideoFailed), Error: ptr("expired")})
	inDraft := f.video(t, drafted.ID, inst.ID)
	ofHidden := f.video(t, hidden.ID, inst.ID)
	// A newer upload on lecture makes the READY one replaced once it is
	// READY itself; until then both are listed.
	newer := f.walkToComplete(t, f.video(t, lecture.ID, inst.ID))
	if err := f.Courses.HideCourse(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}

	find := func(t *testing.T, filter edustream.VideoFilter) ([]int64, bool) {
		t.Helper()
		videos, more, err := f.Videos.FindVideos(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		return videoIDs(videos), more
	}
	t.Run("newest first, hidden courses left out", func(t *testing.T) {
		got, more := find(t, edustream.VideoFilter{Limit: 10})
		if want := []int64{newer.ID, inDraft.ID, failed.ID, ready.ID}; !slices.Equal(got, want) || more {
			t.Errorf("videos %v (more %v), want %v without %d of a hidden course", got, more, want, ofHidden.ID)
		}
	})
	t.Run("by status", func(t *testing.T) {
		for _, tt := range []struct {
			status edustream.VideoStatus
			want   []int64
		}{
			{edustream.VideoFailed, []int64{failed.ID}},
			{edustream.VideoProcessing, []int64{newer.ID}},
			{edustream.VideoAwaitingUpload, []int64{inDraft.ID}},
			{edustream.VideoUploaded, nil},
		} {
			if got, _ := find(t, edustream.VideoFilter{Status: ptr(tt.status), Limit: 10}); !slices.Equal(got, tt.want) {
				t.Errorf("%s videos %v, want %v", tt.status, got, tt.want)
			}
		}
	})
	t.Run("counted by status", func(t *testing.T) {
		counts, err := f.Videos.CountVideos(ctx)
		want := map[edustream.VideoStatus]int{edustream.VideoReady: 1, edustream.VideoFailed: 1, edustream.VideoProcessing: 1, edustream.VideoAwaitingUpload: 1}
		if err != nil || !maps.Equal(counts, want) {
			t.Errorf("CountVideos = %v, %v; want %v, as FindVideos lists them", counts, err, want)
		}
	})
	t.Run("pages", func(t *testing.T) {
		first, more := find(t, edustream.VideoFilter{Limit: 2})
		if !slices.Equal(first, []int64{newer.ID, inDraft.ID}) || !more {
			t.Fatalf("first page %v (more %v)", first, more)
		}
		second, more := find(t, edustream.VideoFilter{BeforeID: first[1], Limit: 2})
		if !slices.Equal(second, []int64{failed.ID, ready.ID}) || more {
			t.Errorf("second page %v (more %v)", second, more)
		}
		if none, more := find(t, edustream.VideoFilter{Limit: 0}); len(none) != 0 || !more {
			t.Errorf("limit 0: %v (more %v), want none and more", none, more)
		}
		_, _, err := f.Videos.FindVideos(ctx, edustream.VideoFilter{Limit: -1})
		WantCode(t, err, edustream.EINVALID, "")
	})
	t.Run("the videos as they are stored", func(t *testing.T) {
		videos, _, err := f.Videos.FindVideos(ctx, edustream.VideoFilter{Status: ptr(edustream.VideoFailed), Limit: 1})
		if err != nil || len(videos) != 1 {
			t.Fatalf("%v, %v", videos, err)
		}
		stored, err := f.Videos.FindVideoByID(ctx, failed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(stored, videos[0]); diff != "" {
			t.Errorf("FindVideos (-FindVideoByID +FindVideos):\n%s", diff)
		}
	})
	t.Run("replaced videos are left out", func(t *testing.T) {
		if _, _, err := f.Videos.CompleteVideo(ctx, newer.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := find(t, edustream.VideoFilter{Status: ptr(edustream.VideoReady), Limit: 10}); !slices.Equal(got, []int64{newer.ID}) {
			t.Errorf("READY videos %v, want only %d: %d was replaced", got, newer.ID, ready.ID)
		}
		if counts, err := f.Videos.CountVideos(ctx); err != nil || counts[edustream.VideoReady] != 1 || counts[edustream.VideoProcessing] != 0 {
			t.Errorf("CountVideos after the swap = %v, %v; want one READY and none PROCESSING", counts, err)
		}
	})
}

// testLiveLookups: the batch reads of sessions and recordings the admins'
// task lists make.
func testLiveLookups(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)
	start := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	a := f.liveSession(t, course.ID, inst.ID, "Series-A", start)
	b := f.liveSession(t, course.ID, inst.ID, "series-b", start.Add(24*time.Hour))
	claim, err := f.Live.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec-1", SessionID: a.ID},
		&edustream.Lecture{CourseID: course.ID, Title: "Recording"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Live.SetLiveRecordingVideo(ctx, "rec-1", 77); err != nil {
		t.Fatal(err)
	}

	t.Run("sessions by id", func(t *testing.T) {
		got, err := f.Live.FindLiveSessionsByIDs(ctx, []int64{b.ID, a.ID, 424242, a.ID})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[int64]*edustream.LiveSession{a.ID: a, b.ID: b}, got); diff != "" {
			t.Errorf("FindLiveSessionsByIDs (-want +got):\n%s", diff)
		}
		if none, err := f.Live.FindLiveSessionsByIDs(ctx, nil); err != nil || len(none) != 0 {
			t.Errorf("no ids: %v, %v", none, err)
		}
	})
	t.Run("sessions by meeting", func(t *testing.T) {
		// Webex ids are case-sensitive: series-a is no one's.
		got, err := f.Live.FindLiveSessionsByMeetingIDs(ctx, []string{"Series-A", "series-b", "series-a", "nope"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]*edustream.LiveSession{"Series-A": a, "series-b": b}, got); diff != "" {
			t.Errorf("FindLiveSessionsByMeetingIDs (-want +got):\n%s", diff)
		}
		if none, err := f.Live.FindLiveSessionsByMeetingIDs(ctx, nil); err != nil || len(none) != 0 {
			t.Errorf("no ids: %v, %v", none, err)
		}
	})
	t.Run("recordings by id", func(t *testing.T) {
		got, err := f.Live.FindLiveRecordingsByIDs(ctx, []string{"rec-1", "REC-1", "rec-2"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]*edustream.LiveRecording{"rec-1": {RecordingID: "rec-1", SessionID: a.ID, LectureID: claim.LectureID, VideoID: 77, CreatedAt: claim.CreatedAt}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FindLiveRecordingsByIDs (-want +got):\n%s", diff)
		}
		if none, err := f.Live.FindLiveRecordingsByIDs(ctx, nil); err != nil || len(none) != 0 {
			t.Errorf("no ids: %v, %v", none, err)
		}
	})
}

// testAuditLog: entries are appended with an id and a time, kept in their
// stored form, and read back newest first, a page at a time.
func testAuditLog(t *testing.T, f *Fixture) {
	ctx := context.Background()
	admin := f.User(t, "admin", edustream.RoleAdmin)
	other := f.User(t, "root", edustream.RoleAdmin)

	var recorded []*edustream.AuditEntry
	for i, e := range []edustream.AuditEntry{
		{ActorID: admin.ID, Action: "pauseQueue", Target: "queue video", Result: "ok"},
		{ActorID: other.ID, Action: "cancelTask", Target: "task video:transcode:12", Result: "ok (video 12 failed at TRANSCODE)"},
		{ActorID: admin.ID, Action: "runTask", Target: "task x in queue default", Result: "failed: NOT_FOUND: task x not found"},
	} {
		before := f.Clock.Now()
		entry := e
		if err := f.Audit.RecordAudit(ctx, &entry); err != nil {
			t.Fatalf("record entry %d: %v", i, err)
		}
		if entry.ID == 0 || !entry.At.After(before) || entry.At.Location() != time.UTC || entry.At.Nanosecond()%1000 != 0 {
			t.Fatalf("recorded %+v: want an id and a time after %v, in UTC, to the microsecond", entry, before)
		}
		if len(recorded) > 0 && entry.ID <= recorded[len(recorded)-1].ID {
			t.Fatalf("entry %d has id %d, not after %d", i, entry.ID, recorded[len(recorded)-1].ID)
		}
		recorded = append(recorded, &entry)
	}
	newestFirst := slices.Clone(recorded)
	slices.Reverse(newestFirst)

	t.Run("newest first", func(t *testing.T) {
		got, more, err := f.Audit.FindAuditEntries(ctx, edustream.AuditFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(newestFirst, got); diff != "" || more {
			t.Errorf("FindAuditEntries (-recorded +found), more %v:\n%s", more, diff)
		}
	})
	t.Run("pages", func(t *testing.T) {
		first, more, err := f.Audit.FindAuditEntries(ctx, edustream.AuditFilter{Limit: 2})
		if err != nil || len(first) != 2 || !more {
			t.Fatalf("first page %v (more %v): %v", first, more, err)
		}
		second, more, err := f.Audit.FindAuditEntries(ctx, edustream.AuditFilter{BeforeID: first[1].ID, Limit: 2})
		if err != nil || len(second) != 1 || second[0].ID != recorded[0].ID || more {
			t.Errorf("second page %v (more %v): %v", second, more, err)
		}
		none, more, err := f.Audit.FindAuditEntries(ctx, edustream.AuditFilter{Limit: 0})
		if err != nil || len(none) != 0 || !more {
			t.Errorf("limit 0: %v (more %v): %v", none, more, err)
		}
		_, _, err = f.Audit.FindAuditEntries(ctx, edustream.AuditFilter{Limit: -1})
		WantCode(t, err, edustream.EINVALID, "")
	})
	t.Run("refused", func(t *testing.T) {
		for _, e := range []edustream.AuditEntry{
			{Action: "pauseQueue", Target: "queue video", Result: "ok"},
			{ActorID: admin.ID, Action: "  ", Target: "queue video", Result: "ok"},
		} {
			WantCode(t, f.Audit.RecordAudit(ctx, &e), edustream.EINVALID, "")
		}
		got, _, _ := f.Audit.FindAuditEntries(ctx, edustream.AuditFilter{Limit: 10})
		if len(got) != len(recorded) {
			t.Errorf("refused entries were stored: %d entries, want %d", len(got), len(recorded))
		}
	})
	t.Run("long and hostile text is cut and made one line", func(t *testing.T) {
		e := &edustream.AuditEntry{ActorID: admin.ID, Action: "deleteTask",
			Target: "task " + strings.Repeat("é", edustream.MaxAuditTargetLength) + "\nFAKE ENTRY",
			Result: "failed: " + strings.Repeat("x", 2*edustream.MaxAuditResultLength) + "\x00\xff"}
		if err := f.Audit.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, _, err := f.Audit.FindAuditEntries(ctx, edustream.AuditFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(e, got[0]); diff != "" {
			t.Errorf("stored entry (-recorded +found):\n%s", diff)
		}
		if n := utf8.RuneCountInString(got[0].Target); n != edustream.MaxAuditTargetLength || strings.ContainsAny(got[0].Target, "\n") {
			t.Errorf("target of %d characters %q, want %d on one line", n, got[0].Target, edustream.MaxAuditTargetLength)
		}
		if n := utf8.RuneCountInString(got[0].Result); n != edustream.MaxAuditResultLength || !utf8.ValidString(got[0].Result) {
			t.Errorf("result of %d characters, want %d of valid UTF-8", n, edustream.MaxAuditResultLength)
		}
	})
}
