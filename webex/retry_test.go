package webex_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	date := time.Date(2030, time.March, 4, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		fault webextest.Fault
		want  time.Duration
	}{
		{"429 in seconds", webextest.Fault{Status: 429, RetryAfter: "7"}, 7 * time.Second},
		{"423 in seconds", webextest.Fault{Status: 423, RetryAfter: "2"}, 2 * time.Second},
		{
			"429 as an HTTP-date, against the Date header",
			webextest.Fault{Status: 429, RetryAfter: date.Add(12 * time.Second).Format(http.TimeFormat), Header: http.Header{"Date": {date.Format(http.TimeFormat)}}},
			12 * time.Second,
		},
		{
			"429 as an HTTP-date, against our clock without a Date header",
			webextest.Fault{Status: 429, RetryAfter: epoch.Add(9 * time.Second).Format(http.TimeFormat), Header: http.Header{"Date": nil}},
			9 * time.Second,
		},
		{"429 without Retry-After backs off", webextest.Fault{Status: 429}, webex.DefaultBaseBackoff},
		{"503 with Retry-After", webextest.Fault{Status: 503, RetryAfter: "4"}, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			m := b.meeting(t, "Rate limited")
			b.fake.Inject(http.MethodGet, "/meetings/*", 1, tt.fault)
			if _, err := b.client.GetMeeting(context.Background(), m.ID); err != nil {
				t.Fatal(err)
			}
			if got := b.clock.Sleeps(); !cmp.Equal(got, []time.Duration{tt.want}) {
				t.Errorf("slept %v, want %v", got, tt.want)
			}
			if got := statuses(b.fake.Requests(http.MethodGet, "/meetings/*")); !cmp.Equal(got, []int{tt.fault.Status, 200}) {
				t.Errorf("statuses = %v", got)
			}
		})
	}
}

func TestRateLimitedCreateIsRetriedAndCreatesOnce(t *testing.T) {
	t.Parallel()
	for _, status := range []int{429, 423} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			b := setup(t)
			b.fake.Inject(http.MethodPost, "/meetings", 2, webextest.Fault{Status: status, RetryAfter: "3"})
			b.meeting(t, "Created once")
			if got := statuses(b.fake.Requests(http.MethodPost, "/meetings")); !cmp.Equal(got, []int{status, status, 200}) {
				t.Errorf("statuses = %v", got)
			}
			if got := b.clock.Sleeps(); !cmp.Equal(got, []time.Duration{3 * time.Second, 3 * time.Second}) {
				t.Errorf("slept %v", got)
			}
			if n := len(b.fake.Meetings()); n != 1 {
				t.Errorf("%d meetings, want 1", n)
			}
		})
	}
}

func TestRetryAfterTooLongFailsAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		ctx        func() (context.Context, context.CancelFunc)
	}{
		{"beyond MaxRetryAfter", "600", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"beyond the caller's deadline", "30", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			m := b.meeting(t, "Busy")
			b.fake.RateLimit(http.MethodGet, "/meetings/*", 1, tt.retryAfter)
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := b.client.GetMeeting(ctx, m.ID)
			var we *webex.Error
			if !errors.As(err, &we) || !webex.IsRateLimited(err) {
				t.Fatalf("err = %v, want the 429", err)
			}
			if we.RetryAfter == 0 {
				t.Error("the error does not carry Retry-After for the caller to reschedule")
			}
			if got := b.clock.Sleeps(); len(got) != 0 {
				t.Errorf("slept %v before giving up", got)
			}
			if n := len(b.fake.Requests(http.MethodGet, "/meetings/*")); n != 1 {
				t.Errorf("%d GETs, want 1", n)
			}
		})
	}
}

func TestBackoffIsCappedAndAttemptsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, withRetries(6, time.Second, 5*time.Second))
	m := b.meeting(t, "Flaky")
	b.fake.Fail(http.MethodGet, "/meetings/*", 100, http.StatusServiceUnavailable)
	_, err := b.client.GetMeeting(context.Background(), m.ID)
	if webex.StatusCode(err) != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want the last 503", err)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if got := b.clock.Sleeps(); !cmp.Equal(got, want) {
		t.Errorf("backoff ceilings = %v, want %v", got, want)
	}
	if n := len(b.fake.Requests(http.MethodGet, "/meetings/*")); n != 6 {
		t.Errorf("%d attempts, want 6", n)
	}
}

func TestDefaultJitterStaysUnderTheCeiling(t *testing.T) {
	t.Parallel()
	b := setup(t, withRetries(4, 100*time.Millisecond, 250*time.Millisecond), func(_ *webextest.Config, c *webex.Config) { c.Jitter = nil })
	m := b.meeting(t, "Jitter")
	for range 20 {
		b.fake.Fail(http.MethodGet, "/meetings/*", 3, http.StatusBadGateway)
		if _, err := b.client.GetMeeting(context.Background(), m.ID); err != nil {
			t.Fatal(err)
		}
	}
	ceilings := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond}
	sleeps := b.clock.Sleeps()
	if len(sleeps) != 60 {
		t.Fatalf("%d sleeps, want 60", len(sleeps))
	}
	distinct := map[time.Duration]bool{}
	for i, d := range sleeps {
		if d < 0 || d > ceilings[i%3] {
			t.Errorf("sleep %d = %v, outside [0, %v]", i, d, ceilings[i%3])
		}
		distinct[d] = true
	}
	if len(distinct) < 10 {
		t.Errorf("only %d distinct waits in 60: not jittered", len(distinct))
	}
}

func TestRequestsNotSafeToRepeat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		inject      func(*webextest.Server)
		wantPosts   int
		wantCreated int
	}{
		{"500", func(s *webextest.Server) { s.Fail(http.MethodPost, "/meetings", 1, 500) }, 1, 0},
		{"504", func(s *webextest.Server) { s.Fail(http.MethodPost, "/meetings", 1, 504) }, 1, 0},
		{"connection dropped before Webex acted", func(s *webextest.Server) { s.DropConnection(http.MethodPost, "/meetings", 1, false) }, 1, 0},
		{"answer lost after Webex acted", func(s *webextest.Server) { s.DropConnection(http.MethodPost, "/meetings", 1, true) }, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			tt.inject(b.fake)
			start := epoch.Add(24 * time.Hour)
			_, err := b.client.CreateMeeting(context.Background(), webex.NewMeeting{
				Title: "Maybe created", Start: start, End: start.Add(time.Hour), IntegrationTags: []string{"session-42"},
			})
			if !errors.Is(err, webex.ErrOutcomeUnknown) {
				t.Fatalf("err = %v, want ErrOutcomeUnknown", err)
			}
			if n := len(b.fake.Requests(http.MethodPost, "/meetings")); n != tt.wantPosts {
				t.Errorf("%d POSTs, want %d: a create is never repeated blindly", n, tt.wantPosts)
			}
			if len(b.clock.Sleeps()) != 0 {
				t.Error("the client waited to retry a create")
			}
			// The recovery the package documents: look for the tag.
			found, err := b.client.ListMeetings(context.Background(), webex.ListMeetingsOptions{
				IntegrationTag: "session-42", From: start.Add(-time.Hour), To: start.Add(2 * time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != tt.wantCreated {
				t.Errorf("found %d meetings by integration tag, want %d", len(found), tt.wantCreated)
			}
		})
	}
}

func TestSafeRequestsAreRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		inject func(*webextest.Server)
		call   func(*bundle, *webex.Meeting) error
	}{
		{"GET after a dropped connection", http.MethodGet,
			func(s *webextest.Server) { s.DropConnection(http.MethodGet, "/meetings/*", 1, false) },
			func(b *bundle, m *webex.Meeting) error {
				_, err := b.client.GetMeeting(context.Background(), m.ID)
				return err
			}},
		{"PATCH after a 502", http.MethodPatch,
			func(s *webextest.Server) { s.Fail(http.MethodPatch, "/meetings/*", 1, 502) },
			func(b *bundle, m *webex.Meeting) error {
				_, err := b.client.UpdateMeeting(context.Background(), m.ID, webex.MeetingUpdate{Title: webex.Ptr("Renamed")})
				return err
			}},
		{"PATCH after a lost answer", http.MethodPatch,
			func(s *webextest.Server) { s.DropConnection(http.MethodPatch, "/meetings/*", 1, true) },
			func(b *bundle, m *webex.Meeting) error {
				_, err := b.client.UpdateMeeting(context.Background(), m.ID, webex.MeetingUpdate{Title: webex.Ptr("Renamed")})
				return err
			}},
		{"DELETE after a 500", http.MethodDelete,
			func(s *webextest.Server) { s.Fail(http.MethodDelete, "/meetings/*", 1, 500) },
			func(b *bundle, m *webex.Meeting) error {
				return b.client.DeleteMeeting(context.Background(), m.ID, false)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			m := b.meeting(t, "Retry me")
			tt.inject(b.fake)
			if err := tt.call(b, m); err != nil {
				t.Fatal(err)
			}
			if n := len(b.fake.Requests(tt.method, "/meetings/*")); n < 2 {
				t.Errorf("%d %s requests, want a retry", n, tt.method)
			}
		})
	}
}

func TestCreateIsRetriedWhenNoConnectionWasMade(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: epoch}
	c, err := webex.New(webex.Config{
		BaseURL: "http://" + closedAddr(t) + "/v1", Token: "tok", Clock: clock, MaxAttempts: 3,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	start := epoch.Add(time.Hour)
	_, err = c.CreateMeeting(context.Background(), webex.NewMeeting{Title: "Nobody home", Start: start, End: start.Add(time.Hour)})
	if err == nil {
		t.Fatal("create succeeded with nothing listening")
	}
	if errors.Is(err, webex.ErrOutcomeUnknown) {
		t.Error("a refused connection cannot have created anything")
	}
	if n := len(clock.Sleeps()); n != 2 {
		t.Errorf("waited %d times, want 2: a refused dial is safe to retry", n)
	}
}

func TestEveryCallHasADeadline(t *testing.T) {
	// Not parallel: it races real deadlines of a few hundred
	// milliseconds, which the package's other tests would eat into.
	b := setup(t, withTimeouts(400*time.Millisecond, 100*time.Millisecond), withRetries(50, time.Millisecond, time.Millisecond))
	m := b.meeting(t, "Slow")
	b.fake.Inject(http.MethodGet, "/meetings/*", 1000, webextest.Fault{Delay: time.Minute})
	_, err := b.client.GetMeeting(context.Background(), m.ID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the call deadline", err)
	}
	if n := len(b.fake.Requests(http.MethodGet, "/meetings/*")); n < 2 || n >= 50 {
		t.Errorf("%d attempts: want several per-attempt timeouts, ended by the call deadline", n)
	}
}

func TestACreateCutOffByTheDeadlineMayHaveLanded(t *testing.T) {
	// Not parallel: it races real deadlines of a few hundred
	// milliseconds, which the package's other tests would eat into.
	b := setup(t, withTimeouts(200*time.Millisecond, time.Second))
	b.fake.Inject(http.MethodPost, "/meetings", 1, webextest.Fault{Delay: time.Minute})
	start := epoch.Add(time.Hour)
	_, err := b.client.CreateMeeting(context.Background(), webex.NewMeeting{Title: "Slow create", Start: start, End: start.Add(time.Hour)})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, webex.ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want the deadline and ErrOutcomeUnknown: Webex may have the request", err)
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
