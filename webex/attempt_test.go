package webex_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// attemptRecorder is a transport that notes the attempt of every request
// it carries.
type attemptRecorder struct {
	mu       sync.Mutex
	attempts []int
}

func (r *attemptRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.attempts = append(r.attempts, webex.Attempt(req.Context()))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// A transport sees which try of its call each request is, so that it can
// count retries: 1, then 2 and 3 after two 429s.
func TestTransportSeesTheAttempt(t *testing.T) {
	t.Parallel()
	rec := &attemptRecorder{}
	b := setup(t, func(_ *webextest.Config, c *webex.Config) { c.HTTPClient = &http.Client{Transport: rec} })
	m := b.meeting(t, "Counted")
	rec.mu.Lock()
	rec.attempts = nil
	rec.mu.Unlock()
	b.fake.Inject(http.MethodGet, "/meetings/*", 2, webextest.Fault{Status: 429, RetryAfter: "1"})
	if _, err := b.client.GetMeeting(context.Background(), m.ID); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !cmp.Equal(rec.attempts, []int{1, 2, 3}) {
		t.Errorf("attempts = %v, want [1 2 3]", rec.attempts)
	}
	if got := webex.Attempt(context.Background()); got != 0 {
		t.Errorf("Attempt of a context no Client made = %d, want 0", got)
	}
}
