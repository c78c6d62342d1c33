package jobs_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/storage/local"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// liveBundle is the storage bundle with live classes on a Webex fake.
type liveBundle struct {
	*bundle
	fake     *webextest.Server
	live     *edustream.LiveClasses
	sessions *sqldb.LiveSessionService
	videos   *sqldb.VideoService
	blobs    *local.Store
	course   *edustream.Course
	teacher  *edustream.User
}

func setupLive(t *testing.T) *liveBundle {
	t.Helper()
	b := &liveBundle{bundle: setup(t), fake: webextest.New(t, webextest.Config{})}
	client, err := webex.New(webex.Config{
		BaseURL: b.fake.URL, Token: b.fake.IssueAccessToken(0),
		// Two quick attempts a call, so a failing Webex fails the task and
		// asynq's retries show.
		MaxAttempts: 2, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if b.blobs, err = local.New(local.Config{Dir: filepath.Join(t.TempDir(), "blobs"), BaseURL: "http://127.0.0.1:1", SigningKey: key}); err != nil {
		t.Fatal(err)
	}
	b.sessions = sqldb.NewLiveSessionService(b.db, nil)
	b.videos = sqldb.NewVideoService(b.db, nil)
	queue := jobs.NewQueue(b.rdb)
	b.live = &edustream.LiveClasses{
		Sessions: b.sessions,
		Courses:  b.courses,
		Meetings: webex.NewMeetingService(client),
		Jobs:     queue,
		Uploads:  &edustream.Uploads{Life: &edustream.VideoLifecycle{Videos: b.videos, Jobs: queue, Blobs: b.blobs}, Blobs: b.blobs},
	}
	ctx := context.Background()
	if b.teacher, err = b.users.UpsertUser(ctx, edustream.Claims{Subject: "teacher", Role: edustream.RoleInstructor, Name: "T"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b.course = &edustream.Course{InstructorID: b.teacher.ID, Title: "Live course", PublishedAt: &now}
	if err := b.courses.CreateCourse(ctx, b.course); err != nil {
		t.Fatal(err)
	}
	return b
}

// runLiveWorker runs a worker with the live tasks, its test signals on,
// until the test ends.
func (b *liveBundle) runLiveWorker(t *testing.T, reconcile time.Duration) *jobs.Worker {
	t.Helper()
	w := jobs.NewWorker(b.rdb, jobs.WorkerConfig{
		PollInterval: 20 * time.Millisecond, RetryCheckInterval: 100 * time.Millisecond, ReconcileInterval: reconcile,
	}, jobs.Deps{
		Courses: b.courses, Videos: b.videos, Life: b.live.Uploads.Life, Uploads: b.live.Uploads, Blobs: b.blobs, Live: b.live,
		Logger: slog.New(slog.DiscardHandler),
	})
	w.TestSignals.Init()
	runUntilStopped(t, w)
	return w
}

// syncFromNow waits for a live meeting sync that begins after the call
// and returns what it did. Syncs run one at a time (they share a task id,
// and the next is queued only once the last is gone), so of the syncs
// that finish after the call, the first may have begun before it, and
// the second began after.
func syncFromNow(t *testing.T, w *jobs.Worker) jobs.LiveSync {
	t.Helper()
	w.TestSignals.LiveSync.Drain(t)
	w.TestSignals.LiveSync.WaitOrTimeout(t)
	return w.TestSignals.LiveSync.WaitOrTimeout(t)
}

// importTask returns the state of the import task of a recording, or
// false once there is none.
func (b *liveBundle) importTask(t *testing.T, recordingID string) (*asynq.TaskInfo, bool) {
	t.Helper()
	info, err := asynq.NewInspectorFromRedisClient(b.rdb).GetTaskInfo(jobs.QueueDefault, jobs.LiveRecordingImportTaskID(recordingID))
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return nil, false
	case err != nil:
		t.Fatal(err)
	}
	return info, true
}

// schedule schedules a class starting in an hour.
func (b *liveBundle) schedule(t *testing.T, title string) *edustream.LiveSession {
	t.Helper()
	start := time.Now().Add(time.Hour)
	s, err := b.live.Schedule(context.Background(), b.teacher, b.course, edustream.LiveSessionInput{Title: title, StartsAt: start, EndsAt: start.Add(time.Hour)})
	if err != nil {
		t.Fatalf("schedule %s: %v", title, err)
	}
	return s
}

func (b *liveBundle) session(t *testing.T, id int64) *edustream.LiveSession {
	t.Helper()
	s, err := b.sessions.FindLiveSessionByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *liveBundle) meetingDeleted(series string) bool {
	m, ok := b.fake.Meeting(series)
	return ok && m.Deleted
}

// Webex refuses the delete for a while: the session is CANCELLED at once,
// and the task keeps trying (asynq's retries, past the client's own) until
// Webex deletes the meeting.
func TestCancelRetriedUntilWebexDeletes(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	s := b.schedule(t, "Doomed")
	// Two attempts per task run: 3 failures need a second run, a second
	// after the first (remoteAPIRetryDelay).
	b.fake.Fail(http.MethodDelete, "/meetings/*", 3, http.StatusServiceUnavailable)
	cancelled, err := b.live.Cancel(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != edustream.LiveCancelled || !cancelled.MeetingDeletePending {
		t.Fatalf("cancel = %+v, want CANCELLED with the delete pending", cancelled)
	}
	b.runLiveWorker(t, -1)
	testenv.Eventually(t, "the meeting's deletion", func() bool { return b.meetingDeleted(s.MeetingID) })
	testenv.Eventually(t, "the delete to be recorded", func() bool { return !b.session(t, s.ID).MeetingDeletePending })
	deletes := b.fake.Requests(http.MethodDelete, "/meetings/*")
	if got := statuses(deletes); len(got) != 4 || got[3] != http.StatusNoContent {
		t.Errorf("DELETE answers = %v, want three 503 then 204", got)
	}
	if got := b.session(t, s.ID); got.Status != edustream.LiveCancelled {
		t.Errorf("session is %s after the delete", got.Status)
	}
}

// The enqueue was lost (Redis down at cancel time): the reconciler finds
// the pending delete in the database.
func TestReconcilerEnqueuesPendingMeetingDeletes(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	s := b.schedule(t, "Forgotten")
	if _, err := b.sessions.CancelLiveSession(context.Background(), s.ID, true); err != nil {
		t.Fatal(err)
	}
	b.runLiveWorker(t, 50*time.Millisecond)
	testenv.Eventually(t, "the meeting's deletion", func() bool { return b.meetingDeleted(s.MeetingID) })
	testenv.Eventually(t, "the delete to be recorded", func() bool { return !b.session(t, s.ID).MeetingDeletePending })
}

// A meeting delete task for a class that is not cancelled is refused and
// never retried: a stray task must not end a class.
func TestMeetingDeleteRefusedForActiveSession(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	s := b.schedule(t, "Keep me")
	err := b.live.DeleteMeeting(context.Background(), s.MeetingID)
	if edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Fatalf("DeleteMeeting = %v, want ECONFLICT", err)
	}
	if b.meetingDeleted(s.MeetingID) || len(b.fake.Requests(http.MethodDelete, "")) != 0 {
		t.Error("the meeting of a scheduled class was deleted")
	}
}

// A recording delivered three times (and imported once more after the
// first import finished) becomes one lecture with one video, downloaded
// once, and the chain starts.
func TestRecordingImportedOnce(t *testing.T) {
	t.Parallel()
	ctx := edustream.NewContextWithLogger(context.Background(), slog.New(slog.DiscardHandler))
	b := setupLive(t)
	s := b.schedule(t, "Recorded class")
	instance, err := b.fake.StartMeeting(s.MeetingID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.fake.EndMeeting(instance); err != nil {
		t.Fatal(err)
	}
	data := []byte("the bytes of a recording; the probe decides what they are")
	recID, err := b.fake.AddRecording(instance, webextest.RecordingSpec{Data: data, DurationSeconds: 4})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := b.live.RecordingCreated(ctx, edustream.RecordingEvent{RecordingID: recID, SeriesID: s.MeetingID}); err != nil {
			t.Fatal(err)
		}
	}
	b.runLiveWorker(t, -1)
	testenv.Eventually(t, "the session to link its recording lecture", func() bool { return b.session(t, s.ID).RecordingLectureID != nil })
	// A late duplicate, after the task finished and its id was freed.
	if err := b.live.ImportRecording(ctx, recID); err != nil {
		t.Fatal(err)
	}

	lectureID := *b.session(t, s.ID).RecordingLectureID
	lectures, err := b.lectures.FindLecturesByCourseIDs(ctx, []int64{b.course.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := lectures[b.course.ID]; len(got) != 1 || got[0].ID != lectureID || got[0].Title != "Recorded class (recording)" {
		t.Fatalf("course lectures = %+v, want the one recording lecture %d", got, lectureID)
	}
	var videos int
	if err := b.raw.QueryRow("SELECT COUNT(*) FROM videos WHERE lecture_id = ?", lectureID).Scan(&videos); err != nil {
		t.Fatal(err)
	}
	if videos != 1 {
		t.Errorf("the lecture has %d videos, want 1", videos)
	}
	latest, err := b.videos.FindLatestVideosByLectureIDs(ctx, []int64{lectureID})
	if err != nil {
		t.Fatal(err)
	}
	v := latest[lectureID]
	if v == nil || v.Status == edustream.VideoAwaitingUpload || v.UploaderID != b.teacher.ID {
		t.Fatalf("video = %+v, want one past its upload, uploaded by the teacher", v)
	}
	body, err := b.blobs.Get(ctx, v.SourceKey(), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(body)
	body.Close()
	if string(stored) != string(data) {
		t.Errorf("source = %q, want the recording's bytes", stored)
	}
	if n := len(b.fake.Requests(http.MethodGet, "/nbr/*")); n != 1 {
		t.Errorf("the recording was downloaded %d times, want 1", n)
	}
}

// Recordings of meetings EduStream did not schedule, and recordings in
// Webex's own format, never become lectures.
func TestRecordingsThatAreNotImported(t *testing.T) {
	t.Parallel()
	ctx := edustream.NewContextWithLogger(context.Background(), slog.New(slog.DiscardHandler))
	b := setupLive(t)
	s := b.schedule(t, "ARF class")
	instance, _ := b.fake.StartMeeting(s.MeetingID)
	b.fake.EndMeeting(instance)
	arf, err := b.fake.AddRecording(instance, webextest.RecordingSpec{Data: []byte("arf"), Format: "ARF"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.live.ImportRecording(ctx, arf); edustream.ErrorCode(err) != edustream.EINVALID {
		t.Errorf("ARF import = %v, want EINVALID", err)
	}
	if err := b.live.ImportRecording(ctx, "no-such-recording"); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("missing recording = %v, want ENOTFOUND", err)
	}
	// A meeting someone scheduled in Webex directly.
	other, err := webex.NewMeetingService(mustClient(t, b.fake)).CreateMeeting(ctx, edustream.MeetingSpec{
		Title: "Not ours", StartsAt: time.Now().Add(time.Hour), EndsAt: time.Now().Add(2 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	otherInstance, _ := b.fake.StartMeeting(other.ID)
	foreign, _ := b.fake.AddRecording(otherInstance, webextest.RecordingSpec{Data: []byte("x")})
	if err := b.live.ImportRecording(ctx, foreign); err != nil {
		t.Errorf("foreign recording = %v, want it ignored", err)
	}
	lectures, _ := b.lectures.FindLecturesByCourseIDs(ctx, []int64{b.course.ID})
	if n := len(lectures[b.course.ID]); n != 0 {
		t.Errorf("%d lectures were made", n)
	}
}

func mustClient(t *testing.T, fake *webextest.Server) *webex.Client {
	t.Helper()
	c, err := webex.New(webex.Config{BaseURL: fake.URL, Token: fake.IssueAccessToken(0)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Changes made in Webex's own pages reach the sessions through the
// periodic sync: a deleted meeting cancels its class, a moved one moves it.
func TestSyncRepairsDrift(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	deleted := b.schedule(t, "Deleted in Webex")
	moved := b.schedule(t, "Moved in Webex")
	untouched := b.schedule(t, "Untouched")
	if err := b.fake.DeleteMeeting(deleted.MeetingID); err != nil {
		t.Fatal(err)
	}
	newStart := moved.StartsAt.Add(26 * time.Hour)
	if err := b.fake.MoveMeeting(moved.MeetingID, newStart, newStart.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.runLiveWorker(t, 50*time.Millisecond)
	testenv.Eventually(t, "the deleted meeting's class to be cancelled", func() bool {
		s := b.session(t, deleted.ID)
		return s.Status == edustream.LiveCancelled && !s.MeetingDeletePending
	})
	testenv.Eventually(t, "the moved meeting's class to move", func() bool {
		s := b.session(t, moved.ID)
		return s.StartsAt.Equal(newStart) && s.EndsAt.Equal(newStart.Add(90*time.Minute))
	})
	if s := b.session(t, untouched.ID); s.Version != untouched.Version || s.Status != edustream.LiveScheduled {
		t.Errorf("an unchanged class changed: %+v", s)
	}
}

// Deleting a course cancels its scheduled classes and deletes their
// meetings, through the sync's next round; other courses' classes stay.
func TestSyncCancelsClassesOfDeletedCourses(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	ctx := context.Background()
	doomed := b.schedule(t, "Of a course about to go")
	now := time.Now()
	other := &edustream.Course{InstructorID: b.teacher.ID, Title: "Kept", PublishedAt: &now}
	if err := b.courses.CreateCourse(ctx, other); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Hour)
	kept, err := b.live.Schedule(ctx, b.teacher, other, edustream.LiveSessionInput{Title: "Kept", StartsAt: start, EndsAt: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.courses.HideCourse(ctx, b.course.ID); err != nil {
		t.Fatal(err)
	}
	b.runLiveWorker(t, 50*time.Millisecond)
	testenv.Eventually(t, "the deleted course's class to be cancelled and its meeting deleted", func() bool {
		s := b.session(t, doomed.ID)
		return s.Status == edustream.LiveCancelled && !s.MeetingDeletePending && b.meetingDeleted(doomed.MeetingID)
	})
	if s := b.session(t, kept.ID); s.Status != edustream.LiveScheduled || b.meetingDeleted(kept.MeetingID) {
		t.Errorf("another course's class changed: %+v", s)
	}
}

// No webhook arrives at all (lost, or no webhooks registered): the sync
// ends the class whose meeting is over, finds its recording and imports it,
// once, however many rounds run.
func TestSyncFindsRecordingsNoWebhookBrought(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	s := b.schedule(t, "Unannounced recording")
	instance, err := b.fake.StartMeeting(s.MeetingID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.fake.EndMeeting(instance); err != nil {
		t.Fatal(err)
	}
	recID, err := b.fake.AddRecording(instance, webextest.RecordingSpec{Data: []byte("recording bytes"), DurationSeconds: 4})
	if err != nil {
		t.Fatal(err)
	}
	w := b.runLiveWorker(t, 50*time.Millisecond)
	testenv.Eventually(t, "the class to end and link its recording's lecture", func() bool {
		got := b.session(t, s.ID)
		return got.Status == edustream.LiveEnded && got.RecordingLectureID != nil
	})
	// A sync that begins now finds the recording imported and asks for
	// nothing; one that began before may have asked again, so its import
	// must have run too before the lectures are counted.
	if got := syncFromNow(t, w); got.Err != nil || got.Imports != 0 {
		t.Errorf("a sync after the import = %+v, want no error and no import asked for", got)
	}
	testenv.Eventually(t, "no import of the recording to be queued or running", func() bool {
		_, queued := b.importTask(t, recID)
		return !queued
	})
	lectures, err := b.lectures.FindLecturesByCourseIDs(context.Background(), []int64{b.course.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := lectures[b.course.ID]; len(got) != 1 || got[0].Title != "Unannounced recording (recording)" {
		t.Errorf("course lectures = %+v, want one recording lecture", got)
	}
}

// An import found by the sync that fails for good (its course is gone) is
// left in asynq's archive, not tried again every round.
func TestSyncDoesNotRetryFailedImports(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	s := b.schedule(t, "Of a course that goes")
	instance, err := b.fake.StartMeeting(s.MeetingID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.fake.EndMeeting(instance); err != nil {
		t.Fatal(err)
	}
	if err := b.live.MeetingEnded(context.Background(), edustream.MeetingEvent{MeetingID: instance, SeriesID: s.MeetingID}); err != nil {
		t.Fatal(err)
	}
	recID, err := b.fake.AddRecording(instance, webextest.RecordingSpec{Data: []byte("recording bytes"), DurationSeconds: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.courses.HideCourse(context.Background(), b.course.ID); err != nil {
		t.Fatal(err)
	}
	w := b.runLiveWorker(t, 50*time.Millisecond)
	var archived *asynq.TaskInfo
	testenv.Eventually(t, "the import to fail for good", func() bool {
		info, ok := b.importTask(t, recID)
		archived = info
		return ok && info.State == asynq.TaskStateArchived
	})
	// A sync that begins after the failure finds the recording again and
	// asks for its import, which must leave the archived task alone: had
	// it queued the import again, the task would now be waiting, running,
	// or archived anew after a second fetch.
	if got := syncFromNow(t, w); got.Err != nil || got.Imports != 1 {
		t.Errorf("a sync after the failed import = %+v, want no error and the import asked for", got)
	}
	info, ok := b.importTask(t, recID)
	if !ok || info.State != asynq.TaskStateArchived || !info.LastFailedAt.Equal(archived.LastFailedAt) {
		t.Errorf("after the sync the import task is %+v, want it left archived as it was (%+v)", info, archived)
	}
	if n := len(b.fake.Requests(http.MethodGet, "/recordings/"+recID)); n != 1 {
		t.Errorf("the recording was fetched %d times, want once: a failed import is not retried by the sync", n)
	}
}

func statuses(reqs []webextest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}
