package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

// liveWS is a websocket endpoint with live classes and real events.
type liveWS struct {
	*liveBundle
	srv    *httptest.Server
	events *redis.Events
	// reads counts the sessions the resolvers read one by one.
	reads *countingSessions
	// signals are the resolver's, on.
	signals *graph.SubscriptionTestSignals
}

// countingSessions counts FindLiveSessionByID calls.
type countingSessions struct {
	edustream.LiveSessionService
	byID atomic.Int64
}

func (c *countingSessions) FindLiveSessionByID(ctx context.Context, id int64) (*edustream.LiveSession, error) {
	c.byID.Add(1)
	return c.LiveSessionService.FindLiveSessionByID(ctx, id)
}

func setupLiveWS(t *testing.T) *liveWS {
	t.Helper()
	w := &liveWS{}
	w.liveBundle = setupLive(t, func(lb *liveBundle, c *graph.Config, r *graph.Resolver) {
		withTokens(c, r)
		w.events = redis.NewEvents(testenv.RedisClient(t, testenv.RedisURL(t)), slog.New(slog.DiscardHandler))
		t.Cleanup(func() { w.events.Close() })
		lb.live.Events = w.events
		w.reads = &countingSessions{LiveSessionService: lb.sessions}
		r.LiveSessionService, r.Events = w.reads, w.events
		r.TestSignals.Init()
		w.signals = &r.TestSignals
	})
	w.srv = serve(t, w.bundle)
	return w
}

// follow subscribes user to the course's live sessions and returns the
// data of each message (nil once the subscription completes).
func (w *liveWS) follow(t *testing.T, user *edustream.User, courseID string) <-chan map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	t.Cleanup(cancel)
	c := subscribe(t, ctx, w.srv, token(t, user.Subject, user.Role, user.Name),
		`subscription($c: ID!) { liveSessionUpdated(courseId: $c) { id status joinUrl hostKey } }`,
		map[string]any{"c": courseID})
	out := make(chan map[string]any, 16)
	go func() {
		defer close(out)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var m gqlhttptest.Message
			json.Unmarshal(b, &m)
			switch m.Type {
			case "next":
				var p struct {
					Data   map[string]any
					Errors []map[string]any
				}
				json.Unmarshal(m.Payload, &p)
				if len(p.Errors) > 0 {
					out <- map[string]any{"error": p.Errors[0]}
					continue
				}
				out <- p.Data["liveSessionUpdated"].(map[string]any)
			case "error":
				var errs []map[string]any
				json.Unmarshal(m.Payload, &errs)
				out <- map[string]any{"error": errs[0]}
				return
			case "complete":
				return
			}
		}
	}()
	return out
}

// await returns the next message, failing after the wait limit.
func await(t *testing.T, ch <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the subscription ended")
		}
		return m
	case <-time.After(testenv.WaitLimit):
		t.Fatal("no message")
	}
	return nil
}

// subscribed waits until n more subscriptions listen.
func (w *liveWS) subscribed(t *testing.T, n int) {
	t.Helper()
	for range n {
		w.signals.Subscribed.WaitOrTimeout(t)
	}
}

// handled waits until the subscriptions have dealt with n more events, and
// returns what became of them.
func (w *liveWS) handled(t *testing.T, n int) []graph.EventOutcome {
	t.Helper()
	out := make([]graph.EventOutcome, n)
	for i := range out {
		out[i] = w.signals.Handled.WaitOrTimeout(t)
	}
	return out
}

func TestLiveSessionUpdated(t *testing.T) {
	t.Parallel()
	w := setupLiveWS(t)
	ctx := context.Background()
	course := w.seedCourse(t, w.instructor, "Live", 0, true)
	enrolled := w.seedUser(t, "enrolled", edustream.RoleStudent)
	if _, err := sqldb.NewEnrollmentService(w.db, nil).Enroll(ctx, enrolled.ID, course.ID); err != nil {
		t.Fatal(err)
	}
	class := w.create(t, course)
	s, err := w.sessions.FindLiveSessionByID(ctx, mustID(t, class["id"].(string)))
	if err != nil {
		t.Fatal(err)
	}

	mine, stranger := w.follow(t, enrolled, idOf(course)), w.follow(t, w.student, idOf(course))
	w.subscribed(t, 2)

	t.Run("a change reaches every subscriber, with what each may see", func(t *testing.T) {
		if _, err := w.live.Cancel(ctx, s); err != nil {
			t.Fatal(err)
		}
		for name, tt := range map[string]struct {
			ch   <-chan map[string]any
			join bool
		}{"enrolled": {mine, true}, "stranger": {stranger, false}} {
			m := await(t, tt.ch)
			if m["id"] != class["id"] || m["status"] != "CANCELLED" || (m["joinUrl"] != nil) != tt.join || m["hostKey"] != nil {
				t.Errorf("%s got %v", name, m)
			}
		}
		if got := w.handled(t, 2); !slices.Equal(got, []graph.EventOutcome{graph.EventSent, graph.EventSent}) {
			t.Errorf("the cancel's event was %v, want sent to both subscribers", got)
		}
	})
	t.Run("repeated and stale events are not sent again, nor read", func(t *testing.T) {
		reads := w.reads.byID.Load()
		old := *s
		old.Version = 1
		stale := edustream.Event{Topic: edustream.LiveSessionTopic(course.ID), LiveSession: &old}
		for range 3 {
			if err := w.events.PublishEvent(ctx, stale); err != nil {
				t.Fatal(err)
			}
		}
		elsewhere := *s
		elsewhere.CourseID, elsewhere.Version = course.ID+1, 99
		other := edustream.Event{Topic: edustream.LiveSessionTopic(course.ID), LiveSession: &elsewhere}
		if err := w.events.PublishEvent(ctx, other); err != nil {
			t.Fatal(err)
		}
		// Four events, two subscribers.
		for i, o := range w.handled(t, 8) {
			if o != graph.EventDropped {
				t.Errorf("event %d of 8 was %v, want dropped", i, o)
			}
		}
		if n := w.reads.byID.Load() - reads; n != 0 {
			t.Errorf("the stale events cost %d reads", n)
		}
		// A new class: had anything been sent before it, it would come
		// first.
		next := w.create(t, course)
		if m := await(t, mine); m["id"] != next["id"] {
			t.Errorf("after the stale events the subscriber got %v, want the new class %v", m, next["id"])
		}
		if m := await(t, stranger); m["id"] != next["id"] {
			t.Errorf("after the stale events the other subscriber got %v, want the new class %v", m, next["id"])
		}
	})
	t.Run("unpublishing the course ends a student's subscription", func(t *testing.T) {
		unpublish := false
		if _, err := w.courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Published: &unpublish}); err != nil {
			t.Fatal(err)
		}
		w.create(t, course) // an event, which finds the course hidden
		select {
		case m, ok := <-stranger:
			if ok {
				t.Errorf("after the course was unpublished the student got %v", m)
			}
		case <-time.After(testenv.WaitLimit):
			t.Error("the subscription did not end")
		}
	})
	t.Run("a course the caller may not see", func(t *testing.T) {
		draft := w.seedCourse(t, w.otherInstructor, "Draft", 0, false)
		m := await(t, w.follow(t, w.student, idOf(draft)))
		if e, _ := m["error"].(map[string]any); e == nil || e["extensions"].(map[string]any)["code"] != graph.CodeNotFound {
			t.Errorf("subscribe to a draft: %v", m)
		}
	})
}
