package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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
		{name: "escapes in the query", method: "POST", accept: gql, body: `{"query":"query Q\n{ \u005f_typename me { name } }"}`, status: 200, media: gql, data: true},
		{name: "non-ASCII in the query", method: "POST", accept: gql, body: `{"query":"# Ünïcödé 🏃\n{ __typename }"}`, status: 200, media: gql, data: true},
		{name: "operationName", method: "POST", accept: gql, body: `{"query":"query A { __typename } query B { me { id } }","operationName":"A"}`, status: 200, media: gql, data: true},

		// Request errors: no data entry; 400 in graphql-response+json, 200 in json.
		{name: "parse error, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{"}`, status: 400, media: gql, message: "Expected"},
		{name: "parse error, json", method: "POST", accept: plain, body: `{"query":"{"}`, status: 200, media: plain, message: "Expected"},
		{name: "validation error, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{ nope }"}`, status: 400, media: gql, message: "Cannot query field"},
		{name: "validation error, json", method: "POST", accept: plain, body: `{"query":"{ nope }"}`, status: 200, media: plain, message: "Cannot query field"},
		{name: "variable coercion, graphql-response+json", method: "POST", accept: gql, body: `{"query":"query($id: ID!) { __typename }","variables":{"id":null}}`, status: 400, media: gql, message: "id"},
		{name: "variable coercion, json", method: "POST", accept: plain, body: `{"query":"query($id: ID!) { __typename }","variables":{"id":null}}`, status: 200, media: plain, message: "id"},
		{name: "limit, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{ a: courses(first: 100) { edges { node { lectures { course { lectures { title } } } } } } }"}`, status: 400, media: gql, message: "complexity"},
		{name: "subscription over POST", method: "POST", accept: gql, body: `{"query":"subscription { encodingProgress(lectureId: 1) { status } }"}`, status: 400, media: gql, message: "subscriptions need a websocket"},
		{name: "unknown operation", method: "POST", accept: gql, body: `{"query":"query A { __typename }","operationName":"B"}`, status: 400, media: gql, message: "operation B not found"},
		{name: "Int literal beyond 32 bits", method: "POST", accept: gql, body: `{"query":"{ courses(first: 2147483648) { edges { cursor } } }"}`, status: 400, media: gql, message: "non 32-bit"},
		{name: "Int variable beyond 32 bits", method: "POST", accept: gql, body: `{"query":"query($n: Int) { courses(first: $n) { edges { cursor } } }","variables":{"n":4294967296}}`, status: 400, media: gql, message: "must be a 32-bit integer"},
		{name: "Int in an input object beyond 32 bits", method: "POST", accept: gql, body: `{"query":"mutation($p: Int) { createLecture(input: {courseId: 1, title: \"x\", position: $p}) { id } }","variables":{"p":-2147483649}}`, status: 400, media: gql, message: "must be a 32-bit integer"},

		// Field errors: data, and 200 for both.
		{name: "field error, graphql-response+json", method: "POST", accept: gql, body: `{"query":"{ course(id: 999999) { id } }"}`, status: 200, media: gql, data: true, message: "not found"},
		{name: "field error, json", method: "POST", accept: plain, body: `{"query":"{ course(id: 999999) { id } }"}`, status: 200, media: plain, data: true, message: "not found"},
		{name: "null data", method: "POST", accept: gql, body: `{"query":"{ courses(after: \"forged\") { edges { cursor } } }"}`, status: 200, media: gql, data: true, message: "invalid cursor"},

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
		{name: "GET with variables", method: "GET", target: q("query($n: Int) { courses(first: $n) { edges { cursor } } }") + "&variables=" + url.QueryEscape(`{"n":1}`), status: 200, media: plain, data: true},
		{name: "GET mutation", method: "GET", target: q(`mutation { deleteCourse(id: 1) }`), accept: gql, status: 405, media: gql, message: "queries only", allow: "POST"},
		{name: "GET named mutation", method: "GET", target: q(`query Q { __typename } mutation M { deleteCourse(id: 1) }`) + "&operationName=M", status: 405, media: plain, message: "queries only", allow: "POST"},
		{name: "GET without query", method: "GET", target: "", accept: gql, status: 400, media: gql, message: "query is required"},
		{name: "GET variables not JSON", method: "GET", target: q("{ __typename }") + "&variables=%7BSECRET", status: 400, media: plain, message: "variables is not valid JSON"},
		{name: "GET variables not an object", method: "GET", target: q("{ __typename }") + "&variables=%5B1%5D", status: 400, media: plain, message: "variables must be an object"},
		{name: "GET parse error", method: "GET", target: q("{"), accept: gql, status: 400, media: gql, message: "Expected"},

		{name: "PUT", method: "PUT", body: `{"query":"{ __typename }"}`, status: 405, media: plain, message: "use POST", allow: "GET, POST"},
		{name: "HEAD", method: "HEAD", status: 405, media: plain, allow: "GET, POST"},
	}
	b := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
			b.handler.ServeHTTP(rec, req)

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
			var errs []gqlError
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
	b := setup(t)
	const query = `{ __typename }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	post := func(body map[string]any) response {
		raw, _ := json.Marshal(body)
		return b.raw(t, nil, http.MethodPost, "/query", "application/json", raw)
	}
	if r := post(map[string]any{"extensions": ext}); len(r.Errors) != 1 || r.Errors[0].Message != "PersistedQueryNotFound" {
		t.Errorf("unknown hash: %s", r.Raw)
	}
	post(map[string]any{"query": query, "extensions": ext}).noErrors(t)
	post(map[string]any{"extensions": ext}).noErrors(t)
	extJSON, _ := json.Marshal(ext)
	b.raw(t, nil, http.MethodGet, "/query?extensions="+url.QueryEscape(string(extJSON)), "", nil).noErrors(t)

	wrong := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := post(map[string]any{"query": query, "extensions": wrong}); len(r.Errors) != 1 || r.Data != nil {
		t.Errorf("mismatched hash: %s", r.Raw)
	}
}

// Pagination edge cases: first: 0 returns no edges and no cursor, and
// hasNextPage says whether any course follows the cursor.
func TestPaginationEdges(t *testing.T) {
	empty := setup(t)
	b := setup(t)
	var ids []string
	for _, title := range []string{"One", "Two", "Three"} {
		ids = append(ids, idOf(b.seedCourse(t, b.instructor, title, 0, true)))
	}
	cursorOf := func(id string) string {
		var after any
		for {
			r := b.post(t, b.student, `query($a: String) { courses(first: 1, after: $a) { edges { cursor node { id } } } }`, map[string]any{"a": after}).noErrors(t)
			e := r.Data["courses"].(map[string]any)["edges"].([]any)[0].(map[string]any)
			if e["node"].(map[string]any)["id"] == id {
				return e["cursor"].(string)
			}
			after = e["cursor"]
		}
	}
	oldest, newest := cursorOf(ids[0]), cursorOf(ids[2])
	const page = `query($n: Int, $a: String) { courses(first: $n, after: $a) { edges { cursor } pageInfo { hasNextPage endCursor } } }`
	tests := []struct {
		name     string
		b        *bundle
		first    int
		after    any
		edges    int
		next     bool
		noCursor bool
	}{
		{"first 0 of a catalog", b, 0, nil, 0, true, true},
		{"first 0 of an empty catalog", empty, 0, nil, 0, false, true},
		{"first 0 after the newest", b, 0, newest, 0, true, true},
		{"first 0 after the oldest", b, 0, oldest, 0, false, true},
		{"a full page with more", b, 2, nil, 2, true, false},
		{"an exact last page", b, 2, newest, 2, false, false},
		{"after the oldest", b, 5, oldest, 0, false, true},
		{"more than there is", b, 100, nil, 3, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.b.post(t, tt.b.student, page, map[string]any{"n": tt.first, "a": tt.after}).noErrors(t)
			conn := r.Data["courses"].(map[string]any)
			info := conn["pageInfo"].(map[string]any)
			edges := conn["edges"].([]any)
			if len(edges) != tt.edges || info["hasNextPage"] != tt.next || (info["endCursor"] == nil) != tt.noCursor {
				t.Errorf("got %d edges, pageInfo %v; want %d edges, hasNextPage %v, endCursor null %v", len(edges), info, tt.edges, tt.next, tt.noCursor)
			}
			if len(edges) > 0 && info["endCursor"] != edges[len(edges)-1].(map[string]any)["cursor"] {
				t.Errorf("endCursor %v is not the last edge's cursor", info["endCursor"])
			}
		})
	}
	for _, first := range []int{-1, 101} {
		if r := b.post(t, b.student, page, map[string]any{"n": first}); r.code(t) != "BAD_USER_INPUT" {
			t.Errorf("first: %d: %s", first, r.Raw)
		}
	}
}
