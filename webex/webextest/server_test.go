package webextest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/webex/webextest"
)

// call sends a raw request to the fake and decodes the JSON answer.
func call(t *testing.T, s *webextest.Server, token, method, path, contentType, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// webexError checks the shape of a Webex error body.
func webexError(t *testing.T, status int, h http.Header, body map[string]any, wantStatus int) []string {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status = %d, want %d (%v)", status, wantStatus, body)
	}
	tid, _ := body["trackingId"].(string)
	if !regexp.MustCompile(`^ROUTER_[0-9A-F-]{36}$`).MatchString(tid) || h.Get("TrackingID") != tid {
		t.Errorf("trackingId %q, header %q", tid, h.Get("TrackingID"))
	}
	if m, _ := body["message"].(string); m == "" {
		t.Error("no message")
	}
	var descs []string
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		d, _ := e.(map[string]any)["description"].(string)
		descs = append(descs, d)
	}
	if len(descs) == 0 {
		t.Error("no errors[].description")
	}
	return descs
}

func TestUnauthorizedAnswers(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := webextest.New(t, webextest.Config{Now: func() time.Time { return now }})
	short := s.IssueAccessToken(time.Minute)
	for name, tok := range map[string]string{"no token": "", "unknown token": "nope"} {
		st, h, body := call(t, s, tok, "GET", "/meetings", "", "")
		t.Run(name, func(t *testing.T) { webexError(t, st, h, body, 401) })
	}
	if st, _, _ := call(t, s, short, "GET", "/meetings", "", ""); st != 200 {
		t.Errorf("live token: %d", st)
	}
	s.Advance(time.Minute)
	st, h, body := call(t, s, short, "GET", "/meetings", "", "")
	webexError(t, st, h, body, 401)
}

func TestCreateValidationAndMediaTypes(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	s := webextest.New(t, webextest.Config{Now: func() time.Time { return now }})
	tok := s.IssueAccessToken(0)

	st, h, body := call(t, s, tok, "POST", "/meetings", "text/plain", `{}`)
	webexError(t, st, h, body, 415)

	st, h, body = call(t, s, tok, "POST", "/meetings", "application/json", `{"start":"2030-01-02 10:00:00","end":"2030-01-02 10:05:00"}`)
	descs := strings.Join(webexError(t, st, h, body, 400), " | ")
	for _, want := range []string{"Title cannot be empty", "shorter than 10 minutes"} {
		if !strings.Contains(descs, want) {
			t.Errorf("descriptions %q lack %q", descs, want)
		}
	}

	// A time without an offset is in the meeting's time zone; times come
	// back in UTC, to the minute.
	st, _, body = call(t, s, tok, "POST", "/meetings", "application/json",
		`{"title":"Zoned","timezone":"Asia/Shanghai","start":"2030-01-02 20:00:42","end":"2030-01-02 21:00:00"}`)
	if st != 200 || body["start"] != "2030-01-02T12:00:00Z" || body["end"] != "2030-01-02T13:00:00Z" || body["meetingType"] != "meetingSeries" {
		t.Errorf("%d %v", st, body)
	}
	id := body["id"].(string)

	// PUT needs the whole meeting; PATCH takes a part.
	st, h, body = call(t, s, tok, "PUT", "/meetings/"+id, "application/json", `{"title":"Only a title"}`)
	descs = strings.Join(webexError(t, st, h, body, 400), " | ")
	if !strings.Contains(descs, "password") || !strings.Contains(descs, "start") {
		t.Errorf("PUT descriptions %q", descs)
	}
	st, _, body = call(t, s, tok, "PATCH", "/meetings/"+id, "application/json-patch+json", `{"title":"Patched","agenda":null}`)
	if st != 200 || body["title"] != "Patched" || body["start"] != "2030-01-02T12:00:00Z" {
		t.Errorf("PATCH: %d %v", st, body)
	}
}

func TestListsPageThroughLinkHeaders(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	s := webextest.New(t, webextest.Config{Now: func() time.Time { return now }})
	tok := s.IssueAccessToken(0)
	for _, name := range []string{"a", "b", "c"} {
		body := `{"name":"` + name + `","targetUrl":"https://example.com/` + name + `","resource":"meetings","event":"started"}`
		if st, _, b := call(t, s, tok, "POST", "/webhooks", "application/json", body); st != 200 {
			t.Fatalf("%d %v", st, b)
		}
	}
	path := "/webhooks?max=2"
	var names []string
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		st, h, body := call(t, s, tok, "GET", path, "", "")
		if st != 200 {
			t.Fatalf("%d %v", st, body)
		}
		for _, it := range body["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		path = ""
		if l := h.Get("Link"); l != "" {
			m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("Link %q", l)
			}
			u, _ := url.Parse(m[1])
			if u.Host != strings.TrimPrefix(strings.TrimSuffix(s.URL, "/v1"), "http://") || u.Query().Get("max") != "2" {
				t.Errorf("next link %q leaves the host or the filters", m[1])
			}
			path = strings.TrimPrefix(u.RequestURI(), "/v1")
		}
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("names = %v", names)
	}
	st, h, body := call(t, s, tok, "GET", "/webhooks?max=101", "", "")
	webexError(t, st, h, body, 400)
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	s := webextest.New(t, webextest.Config{Now: func() time.Time { return now }, AccessTokenLifetime: time.Hour})
	s.AddClient("cid", "csecret")
	rt := s.IssueRefreshToken("cid")
	post := func(form url.Values) (int, map[string]any) {
		st, _, body := call(t, s, "", "POST", "/access_token", "application/x-www-form-urlencoded", form.Encode())
		return st, body
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"csecret"}, "refresh_token": {rt}}
	st, body := post(form)
	if st != 200 || body["expires_in"] != float64(3600) || body["refresh_token"] != rt || body["access_token"] == "" || body["refresh_token_expires_in"] == nil {
		t.Fatalf("%d %v", st, body)
	}
	if st, _, _ := call(t, s, body["access_token"].(string), "GET", "/meetings", "", ""); st != 200 {
		t.Errorf("the issued token does not work: %d", st)
	}

	bad := url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"wrong"}, "refresh_token": {rt}}
	if st, body := post(bad); st != 401 || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", st, body)
	}
	s.RevokeRefreshToken(rt)
	if st, body := post(form); st != 400 || body["error"] != "invalid_grant" || body["trackingId"] == "" {
		t.Errorf("revoked: %d %v", st, body)
	}
}

func TestFaultsAndTheRequestLog(t *testing.T) {
	t.Parallel()
	s := webextest.New(t, webextest.Config{})
	tok := s.IssueAccessToken(0)
	s.RateLimit("GET", "/meetings", 2, "17")
	for range 2 {
		st, h, body := call(t, s, tok, "GET", "/meetings", "", "")
		webexError(t, st, h, body, 429)
		if h.Get("Retry-After") != "17" {
			t.Errorf("Retry-After = %q", h.Get("Retry-After"))
		}
	}
	if st, _, _ := call(t, s, tok, "GET", "/meetings", "", ""); st != 200 {
		t.Errorf("after the fault: %d", st)
	}
	reqs := s.Requests("GET", "/meetings")
	if len(reqs) != 3 || reqs[0].Status != 429 || reqs[2].Status != 200 || reqs[2].Header.Get("Authorization") != "Bearer "+tok {
		t.Errorf("log = %+v", reqs)
	}
}
