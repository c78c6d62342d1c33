package webextest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/webex/webextest"
)

// undocumented lists the keys of v (recursively) that the documented shape
// doc lacks. Arrays are compared element by element against doc's first.
func undocumented(path string, v, doc any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		d, ok := doc.(map[string]any)
		if !ok {
			return []string{path + " (an object where the reference has none)"}
		}
		for k, sub := range v {
			ds, ok := d[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, undocumented(path+"."+k, sub, ds)...)
		}
	case []any:
		d, ok := doc.([]any)
		if !ok || len(d) == 0 {
			if len(v) > 0 {
				return []string{path + "[]"}
			}
			return nil
		}
		for _, e := range v {
			out = append(out, undocumented(path+"[]", e, d[0])...)
		}
	}
	sort.Strings(out)
	return out
}

func checkShape(t *testing.T, what string, body []byte, fixture string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var got, doc any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", fixture, err)
	}
	if extra := undocumented("", got, doc); len(extra) > 0 {
		t.Errorf("%s sends fields not in %s: %s", what, fixture, strings.Join(extra, ", "))
	}
}

// raw sends a request and returns the answer's body.
func raw(t *testing.T, s *webextest.Server, token, method, path, contentType, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
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
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTheFakeSpeaksTheDocumentedShapes(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(target.Close)
	now := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	s := webextest.New(t, webextest.Config{Now: func() time.Time { return now }})
	tok := s.IssueAccessToken(0)

	series := raw(t, s, tok, "POST", "/meetings", "application/json",
		`{"title":"Shape","start":"2030-01-02T10:00:00Z","end":"2030-01-02T11:00:00Z","integrationTags":["t"]}`)
	checkShape(t, "POST /meetings", series, "meeting_series.json")
	var m struct{ ID string }
	json.Unmarshal(series, &m)
	checkShape(t, "GET scheduled meeting", raw(t, s, tok, "GET", "/meetings/"+m.ID+"_20300102T100000Z", "", ""), "meeting_scheduled.json")

	for _, h := range []string{`"meetings","event":"started"`, `"recordings","event":"created"`} {
		raw(t, s, tok, "POST", "/webhooks", "application/json", `{"name":"n","targetUrl":"`+target.URL+`","secret":"k","resource":`+h+`}`)
	}
	checkShape(t, "GET /webhooks item", itemOf(t, raw(t, s, tok, "GET", "/webhooks", "", "")), "webhook.json")

	inst, err := s.StartMeeting(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, "GET instance", raw(t, s, tok, "GET", "/meetings/"+inst, "", ""), "meeting_instance.json")
	recID, err := s.AddRecording(inst, webextest.RecordingSpec{Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, "GET recording", raw(t, s, tok, "GET", "/recordings/"+recID, "", ""), "recording_details.json")
	checkShape(t, "GET /recordings item", itemOf(t, raw(t, s, tok, "GET", "/recordings?meetingId="+m.ID+"&to=2030-01-02T00:00:00Z", "", "")), "recording_details.json")

	ds := s.Deliveries()
	if len(ds) != 2 {
		t.Fatalf("%d deliveries", len(ds))
	}
	checkShape(t, "meetings started delivery", ds[0].Body, "delivery_meeting_started.json")
	checkShape(t, "recordings created delivery", ds[1].Body, "delivery_recording_created.json")

	checkShape(t, "400", raw(t, s, tok, "POST", "/meetings", "application/json", `{}`), "error.json")
	checkShape(t, "401", raw(t, s, "", "GET", "/meetings", "", ""), "error.json")
	checkShape(t, "404", raw(t, s, tok, "GET", "/meetings/nope", "", ""), "error.json")

	s.AddClient("id", "secret")
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {"id"}, "client_secret": {"secret"}, "refresh_token": {s.IssueRefreshToken("id")}}
	checkShape(t, "token", raw(t, s, "", "POST", "/access_token", "application/x-www-form-urlencoded", form.Encode()), "token.json")
	form.Set("refresh_token", "revoked")
	checkShape(t, "token error", raw(t, s, "", "POST", "/access_token", "application/x-www-form-urlencoded", form.Encode()), "token_error.json")
}

// itemOf returns the first item of a list answer.
func itemOf(t *testing.T, body []byte) []byte {
	t.Helper()
	var l struct{ Items []json.RawMessage }
	if err := json.Unmarshal(body, &l); err != nil || len(l.Items) == 0 {
		t.Fatalf("list %s: %v", body, err)
	}
	return l.Items[0]
}
