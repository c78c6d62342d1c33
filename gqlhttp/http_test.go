package gqlhttp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
)

type httpCase struct {
	name        string
	method      string
	target      string // after /query
	contentType string // "" means application/json for POST
	accept      string
	body        string

	status  int
	media   string // expected Content-Type media type
	data    bool   // whether the body has a data entry
	message string // part of the first error's message; "" for none
	allow   string
}

// The GraphQL-over-HTTP rules for both media types, one request each.
func TestGraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	const (
		gql   = "application/graphql-response+json"
		plain = "application/json"
	)
	q := func(query string) string { return "?query=" + url.QueryEscape(query) }
	tests := []httpCase{
		{name: "graphql-response+json", method: "POST", accept: gql, body: `{"query":"{ __typename }"}`, status: 200, media: gql, data: true},
		{name: "json", method: "POST", accept: plain, body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "no Accept", method: "POST", body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "*/*", method: "POST", accept: "*/*", body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "application/*", method: "POST", accept: "application/*", body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "both, new one first", method: "POST", accept: gql + ", " + plain + ";q=0.9", body: `{"query":"{ __typename }"}`, status: 200, media: gql, data: true},
		{name: "both, legacy preferred", method: "POST", accept: plain + ", " + gql + ";q=0.5", body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "graphql-response+json refused with q=0", method: "POST", accept: gql + ";q=0, */*;q=0.1", body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "unacceptable Accept is disregarded", method: "POST", accept: "text/html", body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "charset in the request", method: "POST", contentType: "application/json; charset=utf-8", body: `{"query":"{ __typename }"}`, status: 200, media: plain, data: true},
		{name: "null parameters", method: "POST", accept: gql, body: `{"query":"{ __typename }","variables":null,"operationName":null,"extensions":null}`, status: 200, media: gql, data: true},
		{name: "spaced JSON", method: "POST", accept: gql, body: "{ \"query\" :\n \"{ __typename }\" ,\n \"variables\" : { } }", status: 200, media: gql, data: true},
		{name: "escapes in the query", method: "POST", accept: gql, body: `{"query":"query Q\n{ \u005f_typename me }"}`, status: 200, media: gql, data: true},
		{name: "non-ASCII in the query", method: "POST", accept: gql, body: `{"query":"# Ünïcödé 🏃\n{ __typename }"}`, status: 200, media: gql, data: true},
		{name: "operationName", method: "POST", accept: gql, body: `{"query":"query A { __typename } query B { me }","operationName":"A"}`, status: 200, media: gql, data: true},

		// Request errors: no data entry; 400 in graphql-response+json, 200 in json.
		{name: "parse error, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{"}`, status: 400, media: gql, message: "Expected"},
		{name: "parse error, json", method: "POST", accept: plain, body: `{"query":"{"}`, status: 200, media: plain, message: "Expected"},
		{name: "validation error, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{ nope }"}`, status: 400, media: gql, message: "Cannot query field"},
		{name: "validation error, json", method: "POST", accept: plain, body: `{"query":"{ nope }"}`, status: 200, media: plain, message: "Cannot query field"},
		{name: "variable coercion, graphql-response+json", method: "POST", accept: gql, body: `{"query":"query($id: ID!) { __typename }","variables":{"id":null}}`, status: 400, media: gql, message: "id"},
		{name: "variable coercion, json", method: "POST", accept: plain, body: `{"query":"query($id: ID!) { __typename }","variables":{"id":null}}`, status: 200, media: plain, message: "id"},
		{name: "limit, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{ a: books(first: 100) { related(first: 100) { related(first: 100) { title } } } }"}`, status: 400, media: gql, message: "complexity"},
		{name: "subscription over POST", method: "POST", accept: gql, body: `{"query":"subscription { ticks(n: 1) }"}`, status: 400, media: gql, message: "subscriptions need a websocket"},
		{name: "unknown operation", method: "POST", accept: gql, body: `{"query":"query A { __typename }","operationName":"B"}`, status: 400, media: gql, message: "operation B not found"},
		{name: "Int literal beyond 32 bits", method: "POST", accept: gql, body: `{"query":"{ books(first: 2147483648) { id } }"}`, status: 400, media: gql, message: "non 32-bit"},
		{name: "Int variable beyond 32 bits", method: "POST", accept: gql, body: `{"query":"query($n: Int) { books(first: $n) { id } }","variables":{"n":4294967296}}`, status: 400, media: gql, message: "must be a 32-bit integer"},
		{name: "Int in an input object beyond 32 bits", method: "POST", accept: gql, body: `{"query":"query($m: Int) { count(filter: {min: $m}) }","variables":{"m":-2147483649}}`, status: 400, media: gql, message: "must be a 32-bit integer"},
		{name: "Int in a list beyond 32 bits", method: "POST", accept: gql, body: `{"query":"query($f: Filter) { count(filter: $f) }","variables":{"f":{"tags":[1,4294967296]}}}`, status: 400, media: gql, message: "tags: [1]: Int must be a 32-bit integer"},

		// Field errors: data, and 200 for both.
		{name: "field error, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{ book(id: 999999) { id } }"}`, status: 200, media: gql, data: true, message: "not found"},
		{name: "field error, json", method: "POST", accept: plain, body: `{"query":"{ book(id: 999999) { id } }"}`, status: 200, media: plain, data: true, message: "not found"},
		{name: "null data", method: "POST", accept: gql, body: `{"query":"{ greeting failHard }"}`, status: 200, media: gql, data: true, message: "hard failure"},

		// The body: each mistake named, nothing echoed.
		{name: "empty body", method: "POST", accept: gql, body: ``, status: 400, media: gql, message: "request body is empty"},
		{name: "not JSON", method: "POST", accept: plain, body: `{ "not a JSON SECRET`, status: 400, media: plain, message: "request body is not valid JSON"},
		{name: "not an object", method: "POST", accept: gql, body: `["SECRET"]`, status: 400, media: gql, message: "request body must be a JSON object"},
		{name: "a string", method: "POST", body: `"{ SECRET }"`, status: 400, media: plain, message: "request body must be a JSON object"},
		{name: "no query", method: "POST", body: `{"qeury":"{ SECRET }"}`, status: 400, media: plain, message: "query is required"},
		{name: "null query", method: "POST", body: `{"query":null}`, status: 400, media: plain, message: "query is required"},
		{name: "query an object", method: "POST", body: `{"query":{"SECRET":1}}`, status: 400, media: plain, message: "query must be a string"},
		{name: "query a number", method: "POST", body: `{"query":0}`, status: 400, media: plain, message: "query must be a string"},
		{name: "query false", method: "POST", body: `{"query":false}`, status: 400, media: plain, message: "query must be a string"},
		{name: "operationName a number", method: "POST", body: `{"query":"{ __typename }","operationName":0}`, status: 400, media: plain, message: "operationName must be a string"},
		{name: "variables a string", method: "POST", body: `{"query":"{ __typename }","variables":"SECRET"}`, status: 400, media: plain, message: "variables must be an object"},
		{name: "variables an array", method: "POST", body: `{"query":"{ __typename }","variables":["SECRET"]}`, status: 400, media: plain, message: "variables must be an object"},
		{name: "extensions false", method: "POST", body: `{"query":"{ __typename }","extensions":false}`, status: 400, media: plain, message: "extensions must be an object"},
		{name: "form body", method: "POST", contentType: "application/x-www-form-urlencoded", body: `query=SECRET`, status: 415, media: plain, message: "application/json"},
		{name: "no content type", method: "POST", contentType: "-", body: `{"query":"{ __typename }"}`, status: 415, media: plain, message: "application/json"},

		// GET.
		{name: "GET", method: "GET", target: q("{ __typename }"), accept: gql, status: 200, media: gql, data: true},
		{name: "GET with variables", method: "GET", target: q("query($n: Int) { books(first: $n) { id } }") + "&variables=" + url.QueryEscape(`{"n":1}`), status: 200, media: plain, data: true},
		{name: "GET mutation", method: "GET", target: q(`mutation { setGreeting(text: "x") }`), accept: gql, status: 405, media: gql, message: "queries only", allow: "POST"},
		{name: "GET named mutation", method: "GET", target: q(`query Q { __typename } mutation M { setGreeting(text: "x") }`) + "&operationName=M", status: 405, media: plain, message: "queries only", allow: "POST"},
		{name: "GET without query", method: "GET", target: "", accept: gql, status: 400, media: gql, message: "query is required"},
		{name: "GET variables not JSON", method: "GET", target: q("{ __typename }") + "&variables=%7BSECRET", status: 400, media: plain, message: "variables is not valid JSON"},
		{name: "GET variables not an object", method: "GET", target: q("{ __typename }") + "&variables=%5B1%5D", status: 400, media: plain, message: "variables must be an object"},
		{name: "GET parse error", method: "GET", target: q("{"), accept: gql, status: 400, media: gql, message: "Expected"},

		{name: "PUT", method: "PUT", body: `{"query":"{ __typename }"}`, status: 405, media: plain, message: "use POST", allow: "GET, POST"},
		{name: "HEAD", method: "HEAD", status: 405, media: plain, allow: "GET, POST"},
	}
	s := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, "/query"+tt.target, strings.NewReader(tt.body))
			switch {
			case tt.contentType == "-":
			case tt.contentType != "":
				req.Header.Set("Content-Type", tt.contentType)
			case tt.method == "POST":
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)

			if rec.Code != tt.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.media+";") || !strings.Contains(ct, "charset=utf-8") {
				t.Errorf("Content-Type %q, want %s; charset=utf-8", ct, tt.media)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if tt.method == "HEAD" {
				return
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not a JSON object: %q", rec.Body)
			}
			if _, ok := body["data"]; ok != tt.data {
				t.Errorf("data entry present: %v, want %v: %s", ok, tt.data, rec.Body)
			}
			var errs []gqlhttptest.Error
			json.Unmarshal(body["errors"], &errs)
			switch {
			case tt.message == "" && len(errs) > 0:
				t.Errorf("unexpected errors: %s", rec.Body)
			case tt.message != "" && (len(errs) == 0 || !strings.Contains(errs[0].Message, tt.message)):
				t.Errorf("errors %s, want one mentioning %q", body["errors"], tt.message)
			}
			for _, e := range errs {
				if e.Extensions["code"] == nil {
					t.Errorf("error %q has no code", e.Message)
				}
			}
			for _, leak := range []string{"SECRET", "Go value", "RawParams", "unmarshal", "json:"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("the response leaks %q: %s", leak, rec.Body)
				}
			}
		})
	}
}

// Automatic persisted queries: a hash alone runs a document sent before
// with it, over POST and GET.
func TestPersistedQueries(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const query = `{ __typename }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	post := func(body map[string]any) gqlhttptest.Response {
		raw, _ := json.Marshal(body)
		return s.raw(t, nil, http.MethodPost, "/query", "application/json", raw)
	}
	if r := post(map[string]any{"extensions": ext}); len(r.Errors) != 1 || r.Errors[0].Message != "PersistedQueryNotFound" {
		t.Errorf("unknown hash: %s", r.Raw)
	}
	post(map[string]any{"query": query, "extensions": ext}).NoErrors(t)
	post(map[string]any{"extensions": ext}).NoErrors(t)
	extJSON, _ := json.Marshal(ext)
	s.raw(t, nil, http.MethodGet, "/query?extensions="+url.QueryEscape(string(extJSON)), "", nil).NoErrors(t)

	wrong := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := post(map[string]any{"query": query, "extensions": wrong}); len(r.Errors) != 1 || r.Data != nil {
		t.Errorf("mismatched hash: %s", r.Raw)
	}
}

// Refused requests say why, echo nothing back and change nothing.
func TestHTTPRefusals(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	before := s.greetingNow()
	huge := `{"query":"mutation { setGreeting(text: \"` + strings.Repeat("x", 5<<20) + `\") }"}`

	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		status      int
		message     string
	}{
		{"5 MB body", http.MethodPost, "/query", "application/json", huge, http.StatusRequestEntityTooLarge, "larger than"},
		{"malformed JSON", http.MethodPost, "/query", "application/json", `{"query": "{ me }"`, http.StatusBadRequest, "not valid JSON"},
		{"JSON that is not an object", http.MethodPost, "/query", "application/json", `"{ me }"`, http.StatusBadRequest, "must be a JSON object"},
		{"mutation over GET", http.MethodGet, getTarget(`mutation { setGreeting(text: "x") }`), "", "", http.StatusMethodNotAllowed, "queries only"},
		{"form body", http.MethodPost, "/query", "application/x-www-form-urlencoded", `query=mutation+{+setGreeting(text:+"x")+}`, http.StatusUnsupportedMediaType, "application/json"},
		{"no content type", http.MethodPost, "/query", "", `{"query": "{ me }"}`, http.StatusUnsupportedMediaType, "application/json"},
		{"PUT", http.MethodPut, "/query", "application/json", `{"query": "{ me }"}`, http.StatusMethodNotAllowed, "use POST"},
		{"GET with malformed variables", http.MethodGet, "/query?variables=%7Bnope&query=" + url.QueryEscape(`{ me }`), "", "", http.StatusBadRequest, "variables is not valid JSON"},
		{"GET with a syntax error", http.MethodGet, getTarget(`{ me`), "", "", http.StatusOK, "Expected"},
		{"named mutation over GET", http.MethodGet, "/query?operationName=M&query=" + url.QueryEscape(`query Q { me } mutation M { setGreeting(text: "x") }`), "", "", http.StatusMethodNotAllowed, "queries only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.raw(t, staff, tt.method, tt.target, tt.contentType, []byte(tt.body))
			if r.Status != tt.status {
				t.Errorf("status = %d, want %d: %.300s", r.Status, tt.status, r.Raw)
			}
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tt.message) {
				t.Fatalf("errors = %.300s, want one mentioning %q", r.Raw, tt.message)
			}
			if len(r.Raw) > 10000 {
				t.Errorf("the error echoes the request back: %d bytes", len(r.Raw))
			}
		})
	}
	if after := s.greetingNow(); after != before {
		t.Errorf("refused requests changed the greeting to %q", after)
	}

	r := s.get(t, alice, `{ books { title } }`).NoErrors(t)
	if !strings.Contains(r.Raw, "Dune") {
		t.Errorf("a query over GET: %s", r.Raw)
	}
}

// A backend down for now (UNAVAILABLE) is worth retrying, and the
// response says so: Retry-After always, and 503 in
// application/graphql-response+json when nothing but UNAVAILABLE came
// back. application/json keeps 200, as the spec says; other errors are
// not retryable and keep their status.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const gql, plain = "application/graphql-response+json", "application/json"
	tests := []struct {
		name, accept, query string
		status              int
		retry               bool
	}{
		{"only UNAVAILABLE, graphql-response+json", gql, "{ unavailable }", 503, true},
		{"only UNAVAILABLE, json", plain, "{ unavailable }", 200, true},
		{"UNAVAILABLE beside another error", gql, "{ fail unavailable }", 200, true},
		{"another error", gql, "{ greeting failHard }", 200, false},
		{"INTERNAL stays INTERNAL", gql, "{ panics }", 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, _ := json.Marshal(map[string]any{"query": tt.query})
			req := httptest.NewRequest("POST", "/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", tt.accept)
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); (got != "") != tt.retry {
				t.Errorf("Retry-After %q, want one: %v", got, tt.retry)
			}
			if tt.retry && !strings.Contains(rec.Body.String(), `"code":"UNAVAILABLE"`) {
				t.Errorf("body %s lacks code UNAVAILABLE", rec.Body)
			}
		})
	}
}
