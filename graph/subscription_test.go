package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/redis"
)

// progressSetup is the GraphQL endpoint with real events (Redis or
// miniredis), a published course with one lecture whose video is being
// transcoded, and an event service of its own standing in for a worker.
type progressSetup struct {
	srv     *httptest.Server
	b       *bundle
	worker  *redis.Events
	course  *edustream.Course
	lecture *edustream.Lecture
	video   *edustream.Video
	// signals are the resolver's, on.
	signals *graph.SubscriptionTestSignals
}

func setupProgress(t *testing.T, opts ...option) *progressSetup {
	t.Helper()
	rdb := testenv.RedisClient(t, testenv.RedisURL(t))
	api := redis.NewEvents(rdb, nil)
	t.Cleanup(func() { api.Close() })
	p := &progressSetup{worker: redis.NewEvents(rdb, nil)}
	t.Cleanup(func() { p.worker.Close() })
	p.b = setup(t, append([]option{withTokens, func(_ *graph.Config, r *graph.Resolver) {
		r.Events = api
		r.TestSignals.Init()
		p.signals = &r.TestSignals
	}}, opts...)...)
	p.srv = serve(t, p.b)
	p.course = p.b.seedCourse(t, p.b.instructor, "Course", 1, true)
	p.lecture = p.b.firstLecture(t, p.course)
	p.video = p.moveTo(t, nil, edustream.VideoProcessing, edustream.StageTranscode)
	return p
}

// moveTo creates (v nil) or moves the lecture's video to status and stage.
func (p *progressSetup) moveTo(t *testing.T, v *edustream.Video, status edustream.VideoStatus, stage edustream.VideoStage) *edustream.Video {
	t.Helper()
	ctx := context.Background()
	if v == nil {
		v = &edustream.Video{LectureID: p.lecture.ID, UploaderID: p.b.instructor.ID, FileName: "x.mp4", ContentType: "video/mp4", SizeBytes: 1,
			UploadExpiresAt: time.Now().Add(time.Hour)}
		if err := p.b.videos.CreateVideo(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	moved, err := p.b.videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &status, Stage: &stage})
	if err != nil {
		t.Fatal(err)
	}
	return moved
}

// publish sends an event for the video as a worker would.
func (p *progressSetup) publish(t *testing.T, v *edustream.Video, progress float64) {
	t.Helper()
	e := edustream.EncodingEventOf(v, time.Now())
	e.Progress = progress
	if err := p.worker.PublishEvent(context.Background(), edustream.Event{Topic: edustream.EncodingTopic(v.LectureID), Encoding: e}); err != nil {
		t.Fatal(err)
	}
}

type progressEvent struct {
	Status, Stage string
	Progress      float64
}

// follow subscribes as user; next returns the next event, or ok=false when
// the server completed the subscription.
func (p *progressSetup) follow(t *testing.T, user string, role edustream.Role) (next func(time.Duration) (progressEvent, bool)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := subscribe(t, ctx, p.srv, token(t, user, role, user),
		`subscription($l: ID!) { encodingProgress(lectureId: $l) { status stage progress } }`,
		map[string]any{"l": strconv.FormatInt(p.lecture.ID, 10)})
	return func(limit time.Duration) (progressEvent, bool) {
		t.Helper()
		readCtx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		m, err := gqlhttptest.Next(t, readCtx, c)
		if err != nil {
			t.Fatalf("no message within %v: %v", limit, err)
		}
		switch m.Type {
		case "complete":
			return progressEvent{}, false
		case "next":
			var r struct {
				Data   struct{ EncodingProgress progressEvent }
				Errors []any
			}
			json.Unmarshal(m.Payload, &r)
			if len(r.Errors) > 0 {
				t.Fatalf("error event: %s", m.Payload)
			}
			return r.Data.EncodingProgress, true
		}
		t.Fatalf("unexpected %s: %s", m.Type, m.Payload)
		return progressEvent{}, false
	}
}

// The state first, then only what is newer: a stale event from a slow
// worker, or a repeat, never moves the bar back.
func TestEncodingProgressOrder(t *testing.T) {
	t.Parallel()
	p := setupProgress(t)
	next := p.follow(t, "ada", edustream.RoleInstructor)
	if e, _ := next(testenv.WaitLimit); e.Status != "PROCESSING" || e.Stage != "TRANSCODE" {
		t.Fatalf("first event = %+v, want the state in the database", e)
	}
	for _, progress := range []float64{10, 5, 10, 20} {
		p.publish(t, p.video, progress)
	}
	published := p.moveTo(t, p.video, edustream.VideoProcessing, edustream.StagePublish)
	p.publish(t, published, 90)
	p.publish(t, p.video, 50) // the old version, after the new one: dropped
	p.publish(t, published, 90)
	p.publish(t, published, 91)
	// Events that arrive while the new state's access check runs are
	// coalesced: 90 may be skipped for 91, and 50 (stale) must never show.
	var got []float64
	for len(got) == 0 || got[len(got)-1] != 91 {
		e, ok := next(testenv.WaitLimit)
		if !ok {
			t.Fatal("the subscription ended")
		}
		got = append(got, e.Progress)
	}
	if len(got) < 3 || got[0] != 10 || got[1] != 20 || got[2] < 90 {
		t.Errorf("progress seen %v, want 10, 20, then 90 or 91, ending at 91", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("progress seen %v does not only rise", got)
		}
	}
}

// An event that is not newer than what the subscriber was sent (a repeat,
// a lower progress, an older version, another lecture's) is dropped, and
// the next newer one is what the subscriber gets.
func TestEncodingProgressDropsStaleEvents(t *testing.T) {
	t.Parallel()
	p := setupProgress(t)
	next := p.follow(t, "ada", edustream.RoleInstructor)
	if e, _ := next(testenv.WaitLimit); e.Status != "PROCESSING" {
		t.Fatalf("first event = %+v, want the state in the database", e)
	}
	if s := p.signals.Subscribed.WaitOrTimeout(t); s.Field != "encodingProgress" || s.ID != p.lecture.ID {
		t.Errorf("subscribed = %+v, want encodingProgress of lecture %d", s, p.lecture.ID)
	}
	p.publish(t, p.video, 40)
	if o := p.signals.Handled.WaitOrTimeout(t); o != graph.EventSent {
		t.Fatalf("progress 40 was %v, want sent", o)
	}
	if e, _ := next(testenv.WaitLimit); e.Progress != 40 {
		t.Fatalf("got %+v, want progress 40", e)
	}

	older := *p.video
	older.Version--
	elsewhere := edustream.EncodingEventOf(p.video, time.Now())
	elsewhere.LectureID, elsewhere.Progress = p.lecture.ID+1, 99
	p.publish(t, p.video, 40) // a repeat
	p.publish(t, p.video, 30)
	p.publish(t, &older, 95)
	if err := p.worker.PublishEvent(context.Background(), edustream.Event{Topic: edustream.EncodingTopic(p.lecture.ID), Encoding: elsewhere}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if o := p.signals.Handled.WaitOrTimeout(t); o != graph.EventDropped {
			t.Errorf("stale event %d was %v, want dropped", i, o)
		}
	}
	// Had any of them been sent, it would come before this one.
	p.publish(t, p.video, 50)
	if e, _ := next(testenv.WaitLimit); e.Progress != 50 {
		t.Errorf("after the stale events got %+v, want progress 50", e)
	}
}

// A change of state re-checks access: a student whose course was
// unpublished stops hearing about it.
func TestEncodingProgressEndsWhenAccessEnds(t *testing.T) {
	t.Parallel()
	p := setupProgress(t)
	p.b.post(t, p.b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(p.course)}).NoErrors(t)
	next := p.follow(t, p.b.student.Subject, edustream.RoleStudent)
	if _, ok := next(testenv.WaitLimit); !ok {
		t.Fatal("an enrolled student was refused")
	}
	p.publish(t, p.video, 30)
	if e, ok := next(testenv.WaitLimit); !ok || e.Progress != 30 {
		t.Fatalf("progress = %+v, %v", e, ok)
	}
	unpublish := false
	if _, err := p.b.courses.UpdateCourse(context.Background(), p.course.ID, edustream.CourseUpdate{Published: &unpublish}); err != nil {
		t.Fatal(err)
	}
	p.publish(t, p.moveTo(t, p.video, edustream.VideoProcessing, edustream.StagePublish), 90)
	if e, ok := next(testenv.WaitLimit); ok {
		t.Errorf("after the course was unpublished the student got %+v", e)
	}
}

// A websocket that does not read falls behind; what it gets when it reads
// again ends with the newest state, not an old one.
func TestEncodingProgressSlowReader(t *testing.T) {
	t.Parallel()
	p := setupProgress(t)
	next := p.follow(t, "ada", edustream.RoleInstructor)
	next(testenv.WaitLimit)
	for i := 1; i <= 100; i++ {
		p.publish(t, p.video, float64(i)*0.8)
	}
	ready := p.moveTo(t, p.moveTo(t, p.video, edustream.VideoProcessing, edustream.StageComplete), edustream.VideoReady, edustream.StageComplete)
	p.publish(t, ready, 100)
	var last progressEvent
	var n int
	for last.Status != "READY" {
		e, ok := next(testenv.WaitLimit)
		if !ok {
			t.Fatal("the subscription ended")
		}
		if e.Progress < last.Progress {
			t.Errorf("progress went back from %v to %v", last.Progress, e.Progress)
		}
		last, n = e, n+1
	}
	if n > 101 {
		t.Errorf("%d events for 101 published", n)
	}
}

// One student opening 300 encodingProgress subscriptions gets exactly
// the per-user bound (the default, 100); the rest are refused with
// LIMIT_EXCEEDED before their resolver runs: no SQL for any of them.
func TestEncodingProgressSubscriptionBound(t *testing.T) {
	t.Parallel()
	p := setupProgress(t)
	p.b.post(t, p.b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(p.course)}).NoErrors(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	c := gqlhttptest.Open(t, ctx, p.srv.URL)
	gqlhttptest.Init(t, ctx, c, map[string]any{"Authorization": "Bearer " + token(t, p.b.student.Subject, edustream.RoleStudent, "Sam")})
	const query = `subscription($l: ID!) { encodingProgress(lectureId: $l) { status } }`
	vars := map[string]any{"l": strconv.FormatInt(p.lecture.ID, 10)}
	const bound = gqlhttp.DefaultMaxSubscriptionsPerUser
	for i := range bound {
		gqlhttptest.Subscribe(t, ctx, c, strconv.Itoa(i), query, vars)
	}
	for range bound {
		p.signals.Subscribed.WaitOrTimeout(t)
	}
	before := p.b.queries.Load()
	for i := bound; i < 300; i++ {
		gqlhttptest.Subscribe(t, ctx, c, strconv.Itoa(i), query, vars)
	}
	next, refused := 0, 0
	for next+refused < 300 {
		m, err := gqlhttptest.Next(t, ctx, c)
		if err != nil {
			t.Fatalf("after %d events and %d refusals: %v", next, refused, err)
		}
		switch m.Type {
		case "next":
			next++
		case "error":
			var errs []struct{ Extensions map[string]any }
			json.Unmarshal(m.Payload, &errs)
			if len(errs) != 1 || errs[0].Extensions["code"] != "LIMIT_EXCEEDED" {
				t.Fatalf("error %s, want LIMIT_EXCEEDED", m.Payload)
			}
			if id, _ := strconv.Atoi(m.ID); id < bound {
				t.Errorf("subscription %s, within the bound, was refused", m.ID)
			}
			refused++
		default:
			t.Fatalf("unexpected %+v", m)
		}
	}
	if next != bound || refused != 300-bound {
		t.Errorf("%d subscriptions ran and %d were refused, want %d and %d", next, refused, bound, 300-bound)
	}
	if n := p.b.queries.Load() - before; n != 0 {
		t.Errorf("the refused subscriptions ran %d SQL queries", n)
	}
}

// open subscribes to the lecture's encodingProgress as user over a socket
// of its own, and returns a reader of its messages, each within the wait
// limit.
func (p *progressSetup) open(t *testing.T, user *edustream.User) (next func() gqlhttptest.Message) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := subscribe(t, ctx, p.srv, token(t, user.Subject, user.Role, user.Name),
		`subscription($l: ID!) { encodingProgress(lectureId: $l) { status stage progress message removed } }`,
		map[string]any{"l": strconv.FormatInt(p.lecture.ID, 10)})
	return func() gqlhttptest.Message {
		t.Helper()
		readCtx, cancel := context.WithTimeout(ctx, testenv.WaitLimit)
		defer cancel()
		m, err := gqlhttptest.Next(t, readCtx, c)
		if err != nil {
			t.Fatalf("no message: %v", err)
		}
		return m
	}
}

// encodingEvent decodes a next message of encodingProgress, failing the
// test on anything else.
func encodingEvent(t *testing.T, m gqlhttptest.Message) (e struct {
	Status, Stage, Message string
	Removed                bool
}) {
	t.Helper()
	var r struct {
		Data struct {
			EncodingProgress *struct {
				Status, Stage, Message string
				Removed                bool
			}
		}
	}
	if m.Type != "next" || json.Unmarshal(m.Payload, &r) != nil || r.Data.EncodingProgress == nil {
		t.Fatalf("got %s %s, want an encoding event", m.Type, m.Payload)
	}
	return *r.Data.EncodingProgress
}

// A re-check of access that fails for a while (the database down for a
// moment) is tried again, and the held event then reaches the subscriber.
func TestEncodingProgressRecheckRetries(t *testing.T) {
	t.Parallel()
	courses := &failingCourses{err: edustream.Errorf(edustream.EUNAVAILABLE, "the database is unavailable")}
	p := setupProgress(t, withFailingCourses(courses))
	logs := &logRecords{}
	p.srv = httptest.NewServer(logTo(logs, p.b.handler))
	t.Cleanup(p.srv.Close)
	next := p.open(t, p.b.instructor)
	if e := encodingEvent(t, next()); e.Stage != "TRANSCODE" || e.Removed {
		t.Fatalf("first event %+v", e)
	}
	courses.failures.Store(3)
	p.publish(t, p.moveTo(t, p.video, edustream.VideoProcessing, edustream.StagePublish), 90)
	if e := encodingEvent(t, next()); e.Stage != "PUBLISH" {
		t.Errorf("after the re-check failed 3 times got %+v, want the PUBLISH event", e)
	}
	if n := courses.failures.Load(); n > 0 {
		t.Errorf("%d failures left: the re-check did not ask again", n)
	}
	// Each failure is logged for the operator, at WARN: nothing broke.
	if warns := logs.at(slog.LevelWarn); len(warns) != 3 || !strings.Contains(warns[0], "access check failed") {
		t.Errorf("WARN lines %q, want one per failed check", warns)
	}
	if errs := logs.at(slog.LevelError); len(errs) > 0 {
		t.Errorf("logged at ERROR: %q", errs)
	}
}

// A re-check that keeps failing ends the subscription with an error
// message of code UNAVAILABLE, on which the client may subscribe again,
// not with a silent complete.
func TestEncodingProgressRecheckUnavailable(t *testing.T) {
	t.Parallel()
	for name, failure := range map[string]error{
		"outage": edustream.Errorf(edustream.EUNAVAILABLE, "the database is unavailable"),
		"fault":  errors.New("connection reset by peer"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			courses := &failingCourses{err: failure}
			p := setupProgress(t, withFailingCourses(courses))
			next := p.open(t, p.b.instructor)
			encodingEvent(t, next())
			courses.failures.Store(1 << 30)
			p.publish(t, p.moveTo(t, p.video, edustream.VideoProcessing, edustream.StagePublish), 90)
			m := next()
			var errs []gqlhttptest.Error
			json.Unmarshal(m.Payload, &errs)
			if m.Type != "error" || len(errs) != 1 || errs[0].Extensions["code"] != "UNAVAILABLE" || !strings.Contains(errs[0].Message, "subscribe again") {
				t.Errorf("got %s %s, want an error message with code UNAVAILABLE", m.Type, m.Payload)
			}
		})
	}
}

// Deleting the lecture or its course ends the subscription with a last
// event saying so, then complete; unpublishing the course (a denial) ends
// a student's with complete alone, as before.
func TestEncodingProgressEndsWhenDeleted(t *testing.T) {
	t.Parallel()
	for _, what := range []string{"lecture", "course"} {
		t.Run(what, func(t *testing.T) {
			t.Parallel()
			p := setupProgress(t)
			p.b.post(t, p.b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(p.course)}).NoErrors(t)
			followers := map[string]func() gqlhttptest.Message{"instructor": p.open(t, p.b.instructor), "student": p.open(t, p.b.student)}
			for _, next := range followers {
				encodingEvent(t, next())
			}
			switch what {
			case "lecture":
				p.b.post(t, p.b.instructor, `mutation($l: ID!) { deleteLecture(id: $l) }`, map[string]any{"l": strconv.FormatInt(p.lecture.ID, 10)}).NoErrors(t)
			case "course":
				p.b.post(t, p.b.instructor, `mutation($c: ID!) { deleteCourse(id: $c) }`, map[string]any{"c": idOf(p.course)}).NoErrors(t)
			}
			for who, next := range followers {
				e := encodingEvent(t, next())
				if !e.Removed || !strings.Contains(e.Message, "deleted") || e.Stage != "TRANSCODE" {
					t.Errorf("%s: last event %+v, want removed, saying so, with the state last sent", who, e)
				}
				if m := next(); m.Type != "complete" {
					t.Errorf("%s: after the last event got %s %s, want complete", who, m.Type, m.Payload)
				}
			}
		})
	}
}

// lossyEvents is an event service whose test can tell its subscribers
// that events may have been lost (Resync), as the real one does when its
// connection to Redis drops.
type lossyEvents struct {
	edustream.EventService
	mu          sync.Mutex
	subscribers []func(edustream.Event)
}

func (l *lossyEvents) SubscribeFunc(ctx context.Context, topic string, fn func(edustream.Event)) error {
	l.mu.Lock()
	l.subscribers = append(l.subscribers, fn)
	l.mu.Unlock()
	return l.EventService.SubscribeFunc(ctx, topic, fn)
}

func (l *lossyEvents) resync() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, fn := range l.subscribers {
		fn(edustream.Event{Resync: true})
	}
}

// A deletion whose announcement was lost still ends the subscription:
// after a Resync, access is checked again.
func TestEncodingProgressEndsWhenDeletedDuringOutage(t *testing.T) {
	t.Parallel()
	lossy := &lossyEvents{}
	p := setupProgress(t, func(_ *graph.Config, r *graph.Resolver) {
		lossy.EventService = r.Events
		r.Events = lossy
	})
	next := p.open(t, p.b.instructor)
	encodingEvent(t, next())
	// Deleted behind the API's back: no announcement.
	if err := p.b.lectures.DeleteLecture(context.Background(), p.lecture.ID); err != nil {
		t.Fatal(err)
	}
	lossy.resync()
	if e := encodingEvent(t, next()); !e.Removed {
		t.Errorf("after the resync got %+v, want the last event, removed", e)
	}
	if m := next(); m.Type != "complete" {
		t.Errorf("got %s %s, want complete", m.Type, m.Payload)
	}
}
