package webex_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream/webex"
	"github.com/edustream/edustream/webex/webextest"
)

// withLifetimes sets what the fake's token endpoint grants.
func withLifetimes(access, refresh time.Duration) option {
	return func(f *webextest.Config, _ *webex.Config) {
		f.AccessTokenLifetime, f.RefreshTokenLifetime = access, refresh
	}
}

// withOAuthWindows sets the client's refresh margin, warning window and
// minimum interval between early refreshes.
func withOAuthWindows(margin, warning, minInterval time.Duration) option {
	return func(_ *webextest.Config, c *webex.Config) {
		c.OAuth = &webex.OAuthConfig{RefreshMargin: margin, RefreshWarning: warning, MinRefreshInterval: minInterval}
	}
}

// list makes a cheap authenticated call.
func list(t *testing.T, c *webex.Client) {
	t.Helper()
	if _, err := c.ListMeetings(context.Background(), webex.ListMeetingsOptions{}); err != nil {
		t.Fatal(err)
	}
}

func tokenRequests(s *webextest.Server) []webextest.Request {
	return s.Requests(http.MethodPost, "/access_token")
}

func TestOAuthRefreshesBeforeTheAccessTokenExpires(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t, withLifetimes(2*time.Hour, 90*24*time.Hour), withOAuthWindows(30*time.Minute, 0, 0))
	list(t, b.client)
	reqs := tokenRequests(b.fake)
	if len(reqs) != 1 {
		t.Fatalf("%d token requests for the first call, want 1", len(reqs))
	}
	form, err := url.ParseQuery(string(reqs[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"grant_type": {"refresh_token"}, "client_id": {b.clientID}, "client_secret": {b.clientSecret}, "refresh_token": {b.refreshToken}}
	if form.Encode() != want.Encode() || reqs[0].Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("token request %s (%s), want the form %s", reqs[0].Body, reqs[0].Header.Get("Content-Type"), want.Encode())
	}
	first := lastBearer(t, b.fake)
	stored, _ := b.store.Load(context.Background())
	if stored.AccessToken != first || !stored.Expiry.Equal(epoch.Add(2*time.Hour)) || stored.RefreshToken != b.refreshToken {
		t.Errorf("stored %v, want the token in use expiring at %v", stored, epoch.Add(2*time.Hour))
	}

	b.clock.Advance(89 * time.Minute) // 31 minutes left: outside the margin
	list(t, b.client)
	if n := len(tokenRequests(b.fake)); n != 1 {
		t.Errorf("refreshed %d times with 31 minutes left, want no refresh", n-1)
	}
	if lastBearer(t, b.fake) != first {
		t.Error("the token changed without a refresh")
	}

	b.clock.Advance(2 * time.Minute) // 29 minutes left: inside the margin
	list(t, b.client)
	if n := len(tokenRequests(b.fake)); n != 2 {
		t.Fatalf("%d token requests, want a refresh inside the margin", n)
	}
	second := lastBearer(t, b.fake)
	if second == first {
		t.Error("the call inside the margin used the old token; the refresh should come first")
	}
	stored, _ = b.store.Load(context.Background())
	if stored.AccessToken != second {
		t.Error("the refreshed token was not saved")
	}
	if h := b.client.Health(); h.Status != webex.AuthOK || !h.Ready || !h.AccessTokenExpiry.Equal(b.clock.Now().Add(2*time.Hour)) {
		t.Errorf("health = %+v", h)
	}
}

func TestOAuthRefreshesAfterA401(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	list(t, b.client)
	first := lastBearer(t, b.fake)
	b.fake.ResetRequests()
	b.fake.ExpireAccessTokens() // revoked early, as Webex may
	list(t, b.client)
	var got []string
	for _, r := range b.fake.Requests("", "") {
		got = append(got, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	want := []string{"GET /meetings 401", "POST /access_token 200", "GET /meetings 200"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("requests = %v, want %v", got, want)
	}
	if lastBearer(t, b.fake) == first {
		t.Error("the retry used the refused token")
	}
}

func TestOAuthGivesUpAfterOneRefreshAndRetry(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	list(t, b.client)
	b.fake.ResetRequests()
	b.fake.Inject(http.MethodGet, "/meetings", 10, webextest.Fault{Status: 401})
	_, err := b.client.ListMeetings(context.Background(), webex.ListMeetingsOptions{})
	if !webex.IsUnauthorized(err) {
		t.Fatalf("err = %v, want 401", err)
	}
	if n, r := len(b.fake.Requests(http.MethodGet, "/meetings")), len(tokenRequests(b.fake)); n != 2 || r != 1 {
		t.Errorf("%d GETs and %d refreshes, want 2 and 1", n, r)
	}
}

func TestOAuthRefreshIsSingleFlight(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	run := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				_, err := b.client.ListMeetings(context.Background(), webex.ListMeetingsOptions{})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	}
	run() // no token yet: all wait for one refresh
	if n := len(tokenRequests(b.fake)); n != 1 {
		t.Errorf("%d refreshes for 16 concurrent first calls, want 1", n)
	}
	b.fake.ExpireAccessTokens()
	run() // all get a 401 for the same token: one refresh again
	if n := len(tokenRequests(b.fake)); n != 2 {
		t.Errorf("%d refreshes after 16 concurrent 401s, want 2 in all", n)
	}
}

func TestOAuthTokenSurvivesARestart(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	list(t, b.client)
	used := lastBearer(t, b.fake)

	restarted := b.newClient(t)
	list(t, restarted)
	if n := len(tokenRequests(b.fake)); n != 1 {
		t.Errorf("%d refreshes, want the restarted client to reuse the stored token", n)
	}
	if lastBearer(t, b.fake) != used {
		t.Error("the restarted client did not send the stored token")
	}
}

func TestOAuthPrefersTheStoredRefreshTokenOverTheConfiguredOne(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t, func(f *webextest.Config, _ *webex.Config) { f.RotateRefreshTokens = true })
	list(t, b.client)
	stored, _ := b.store.Load(context.Background())
	if stored.RefreshToken == b.refreshToken {
		t.Fatal("the fake did not rotate the refresh token")
	}
	// The configured token is dead now; a restart must use the stored one.
	b.fake.ExpireAccessTokens()
	restarted := b.newClient(t)
	list(t, restarted)
	reqs := tokenRequests(b.fake)
	form, _ := url.ParseQuery(string(reqs[len(reqs)-1].Body))
	if form.Get("refresh_token") != stored.RefreshToken {
		t.Error("the restarted client refreshed with the configured token, not the stored one")
	}
}

func TestOAuthRevokedRefreshToken(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	b.fake.RevokeRefreshToken(b.refreshToken)
	_, err := b.client.ListMeetings(context.Background(), webex.ListMeetingsOptions{})
	if !errors.Is(err, webex.ErrRefreshRejected) || !webex.IsUnauthorized(err) {
		t.Fatalf("err = %v, want ErrRefreshRejected", err)
	}
	if n := len(b.fake.Requests(http.MethodGet, "/meetings")); n != 0 {
		t.Errorf("%d API requests without a token", n)
	}
	h := b.client.Health()
	if h.Status != webex.AuthRevoked || h.Ready || h.Err() == nil {
		t.Errorf("health = %+v, want revoked and not ready", h)
	}
	if !strings.Contains(h.LastError, "invalid") {
		t.Errorf("last error %q does not say why", h.LastError)
	}
	if n := len(tokenRequests(b.fake)); n != 1 {
		t.Errorf("%d token requests: a rejected refresh must not be retried", n)
	}
}

func TestOAuthRecoversWithANewlyConfiguredRefreshToken(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	list(t, b.client)
	b.fake.RevokeRefreshToken(b.refreshToken)
	b.fake.ExpireAccessTokens()
	// An operator authorizes again and restarts with the new token; the
	// store still holds the dead one.
	fresh := b.fake.IssueRefreshToken(b.clientID)
	b.cfg.OAuth.RefreshToken = fresh
	restarted := b.newClient(t)
	list(t, restarted)
	if h := restarted.Health(); h.Status != webex.AuthOK {
		t.Errorf("health = %+v", h)
	}
	if stored, _ := b.store.Load(context.Background()); stored.RefreshToken != fresh {
		t.Error("the new refresh token was not saved")
	}
}

func TestOAuthHealthWarnsBeforeTheRefreshTokenExpires(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t, withLifetimes(14*24*time.Hour, 5*24*time.Hour), withOAuthWindows(0, 7*24*time.Hour, 0))
	if h := b.client.Health(); h.Status != webex.AuthOK || !h.Ready {
		t.Errorf("health before any call = %+v", h)
	}
	if err := b.client.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := b.client.Health()
	if h.Status != webex.AuthRefreshExpiring || !h.Ready || h.Err() != nil {
		t.Errorf("health = %+v, want a warning that stays ready", h)
	}
	if !h.RefreshTokenExpiry.Equal(epoch.Add(5 * 24 * time.Hour)) {
		t.Errorf("refresh expiry = %v", h.RefreshTokenExpiry)
	}
	if !strings.Contains(b.logs.String(), "refresh token expires soon") {
		t.Error("the expiring refresh token was not logged")
	}
}

func TestOAuthKeepsTheOldTokenWhenAnEarlyRefreshFails(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t, withLifetimes(2*time.Hour, 90*24*time.Hour), withOAuthWindows(time.Hour, 0, 0), withRetries(2, time.Second, time.Second))
	list(t, b.client)
	old := lastBearer(t, b.fake)
	b.clock.Advance(90 * time.Minute)
	b.fake.Fail(http.MethodPost, "/access_token", 2, http.StatusServiceUnavailable)
	list(t, b.client)
	if lastBearer(t, b.fake) != old {
		t.Error("the call did not fall back to the still valid token")
	}
	if h := b.client.Health(); h.Status != webex.AuthRefreshFailing || !h.Ready {
		t.Errorf("health = %+v, want refresh failing but ready", h)
	}
	// Past the minimum interval the next call tries again and recovers.
	b.clock.Advance(webex.DefaultMinRefreshInterval)
	list(t, b.client)
	if lastBearer(t, b.fake) == old {
		t.Error("no new token after the token endpoint came back")
	}
	if h := b.client.Health(); h.Status != webex.AuthOK {
		t.Errorf("health = %+v", h)
	}
}

func TestOAuthSpacesOutEarlyRefreshes(t *testing.T) {
	t.Parallel()
	// A margin longer than the lifetime keeps every new token "due", as
	// when Webex answers a refresh with the token it already gave.
	b := setupOAuth(t, withLifetimes(time.Hour, 90*24*time.Hour), withOAuthWindows(2*time.Hour, 0, 10*time.Minute))
	for range 5 {
		list(t, b.client)
	}
	if n := len(tokenRequests(b.fake)); n != 1 {
		t.Errorf("%d refreshes in 5 calls, want 1", n)
	}
	b.clock.Advance(10 * time.Minute)
	list(t, b.client)
	if n := len(tokenRequests(b.fake)); n != 2 {
		t.Errorf("%d refreshes, want one more after the interval", n)
	}
}

func TestStaticTokenRefusedShowsInHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := webex.New(webex.Config{BaseURL: b.fake.URL, Token: "not-a-token-webex-knows", Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListMeetings(context.Background(), webex.ListMeetingsOptions{})
	if !webex.IsUnauthorized(err) {
		t.Fatalf("err = %v, want 401", err)
	}
	if h := c.Health(); h.Status != webex.AuthUnauthorized || h.Ready {
		t.Errorf("health = %+v", h)
	}
	if h := b.client.Health(); h.Status != webex.AuthOK || !h.Ready || h.Mode != "token" {
		t.Errorf("health of a working token = %+v", h)
	}
}

func TestNoSecretInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t, withLifetimes(2*time.Hour, 90*24*time.Hour), withOAuthWindows(time.Hour, 0, 0), withRetries(2, time.Second, time.Second))
	ctx := context.Background()
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	list(t, b.client)
	// An error body that echoes the credentials.
	tok := lastBearer(t, b.fake)
	b.fake.Inject(http.MethodGet, "/meetings/*", 1, webextest.Fault{Status: 400,
		Body: fmt.Sprintf(`{"message":"bad token %s","errors":[{"description":"secret %s"}],"trackingId":"x %s"}`, tok, b.clientSecret, b.refreshToken)})
	_, err := b.client.GetMeeting(ctx, "0123456789abcdef0123456789abcdef")
	collect(err)
	if err == nil || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("err = %v, want the echoed secrets redacted", err)
	}
	// Retries and a failing early refresh are logged.
	b.fake.Fail(http.MethodGet, "/meetings", 1, 503)
	b.clock.Advance(90 * time.Minute)
	b.fake.Fail(http.MethodPost, "/access_token", 2, 500)
	list(t, b.client)
	// A successful refresh is logged.
	b.clock.Advance(webex.DefaultMinRefreshInterval)
	list(t, b.client)
	// A refused refresh token.
	b.fake.RevokeRefreshToken(b.refreshToken)
	b.fake.ExpireAccessTokens()
	_, err = b.client.ListMeetings(ctx, webex.ListMeetingsOptions{})
	collect(err)
	if err == nil {
		t.Fatal("a revoked refresh token still worked")
	}

	secrets := append([]string{b.clientSecret, b.refreshToken}, bearers(b.fake)...)
	stored, _ := b.store.Load(ctx)
	secrets = append(secrets, stored.AccessToken, stored.RefreshToken)
	texts := map[string]string{
		"logs":   b.logs.String(),
		"health": fmt.Sprintf("%+v", b.client.Health()),
		"token":  fmt.Sprintf("%v %+v %#v %s", stored, stored, stored, stored),
	}
	for i, err := range errs {
		texts[fmt.Sprintf("error %d", i)] = err.Error()
	}
	if !strings.Contains(texts["logs"], "refreshed access token") || !strings.Contains(texts["logs"], "retrying") {
		t.Fatalf("the scenario did not log what it should have:\n%s", texts["logs"])
	}
	for what, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s contains a secret (%.6s…):\n%s", what, s, text)
			}
		}
	}
}
