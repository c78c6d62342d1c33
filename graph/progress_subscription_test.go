package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

// A student follows their progress on one API instance and watches on
// another: the completion travels through Redis, and the subscription
// sends the state first, then the lecture's completion, then the
// course's.
func TestMyProgressUpdatedAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	opts, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	instance := func(signals **graph.SubscriptionTestSignals) *bundle {
		rdb := goredis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		events := redis.NewEvents(rdb, slog.New(slog.DiscardHandler))
		t.Cleanup(func() { events.Close() })
		return newBundle(t, db, func(c *graph.Config, r *graph.Resolver) {
			c.Auth = server.NewAuthenticator(server.NewHS256Verifier([]byte(wsSecret), "", ""), r.UserService.(*sqldb.UserService), nil)
			r.Events = events
			r.Progress = &edustream.Progress{Store: sqldb.NewProgressService(db), Events: events}
			if signals != nil {
				r.TestSignals.Init()
				*signals = &r.TestSignals
			}
		})
	}
	var signals *graph.SubscriptionTestSignals
	a, b := instance(&signals), instance(nil)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)

	course := b.seedCourse(t, b.instructor, "Course", 2, true)
	first, second := b.firstLecture(t, course), b.secondLecture(t, course)
	b.seedReadyVideo(t, first)
	b.seedReadyVideo(t, second)
	b.post(t, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)

	query := `subscription($c: ID!) { myProgressUpdated(courseId: $c) {
		kind lecture { id } lectureProgress { completed } courseProgress { completedLectures totalLectures completedAt } } }`
	follow := func(t *testing.T, u *edustream.User) func() (gqlhttptest.Message, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
		t.Cleanup(cancel)
		c, _, err := gqlhttptest.Dial(t, ctx, srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		tok, err := server.IssueToken([]byte(wsSecret), edustream.Claims{Subject: u.Subject, Role: u.Role, Name: u.Name}, "", "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		gqlhttptest.Send(t, ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tok}})
		if m, err := gqlhttptest.Next(t, ctx, c); err != nil || m.Type != "connection_ack" {
			t.Fatalf("connection_init: %+v %v", m, err)
		}
		gqlhttptest.Send(t, ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": map[string]any{"c": idOf(course)}}})
		return func() (gqlhttptest.Message, error) { return gqlhttptest.Next(t, ctx, c) }
	}
	read := func(t *testing.T, nextMessage func() (gqlhttptest.Message, error)) map[string]any {
		t.Helper()
		m, err := nextMessage()
		if err != nil || m.Type != "next" {
			t.Fatalf("message %+v, %v", m, err)
		}
		var p struct {
			Data map[string]map[string]any
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		return p.Data["myProgressUpdated"]
	}

	nextMessage := follow(t, b.student)
	signals.Subscribed.WaitOrTimeout(t)
	if u := read(t, nextMessage); u["kind"] != "CURRENT" || u["lecture"] != nil ||
		u["courseProgress"].(map[string]any)["totalLectures"] != 2.0 || u["courseProgress"].(map[string]any)["completedLectures"] != 0.0 {
		t.Errorf("first update: %v", u)
	}
	for _, l := range []*edustream.Lecture{first, second} {
		b.post(t, b.student, recordWatch, beat(l.ID, 12, [2]float64{0, 12})).NoErrors(t)
	}
	for i, want := range []struct {
		kind      string
		completed float64
	}{{"LECTURE_COMPLETED", 1}, {"LECTURE_COMPLETED", 2}, {"COURSE_COMPLETED", 2}} {
		u := read(t, nextMessage)
		cp := u["courseProgress"].(map[string]any)
		if u["kind"] != want.kind || cp["completedLectures"] != want.completed || u["lectureProgress"].(map[string]any)["completed"] != true {
			t.Errorf("update %d: %v, want %s with %v completed", i+1, u, want.kind, want.completed)
		}
	}

	t.Run("refusals", func(t *testing.T) {
		// A refusal is the subscription's one result, with the error.
		m, err := follow(t, b.otherInstructor)()
		if err != nil || m.Type != "next" {
			t.Fatalf("another instructor: %+v, %v", m, err)
		}
		var p struct{ Errors []map[string]any }
		if json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) != 1 || p.Errors[0]["extensions"].(map[string]any)["code"] != graph.CodeForbidden {
			t.Errorf("another instructor: %s", m.Payload)
		}
	})
}
