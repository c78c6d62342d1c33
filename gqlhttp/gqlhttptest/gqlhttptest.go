// Package gqlhttptest helps test GraphQL endpoints served by package
// gqlhttp, as net/http/httptest helps test handlers: it sends requests as
// a user and decodes the responses, speaks graphql-transport-ws, and
// writes the hostile documents every endpoint must refuse for the shape
// of its schema. Package gqlhttp tests its edge with it on a tiny schema,
// and package graph the same edge wired to EduStream's.
package gqlhttptest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/edustream/edustream"
)

// Error is one entry of a response's errors.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Response is a GraphQL response over HTTP: its status, what it decoded
// to, and its body as sent.
type Response struct {
	Status int
	Data   map[string]any `json:"data"`
	Errors []Error        `json:"errors"`
	Raw    string
}

// Code returns the extensions.code of the only error, failing the test
// unless there is exactly one.
func (r Response) Code(t testing.TB) string {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want exactly one error, got %s", r.Raw)
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// NoErrors fails the test unless r is a 200 without errors, and returns r.
func (r Response) NoErrors(t testing.TB) Response {
	t.Helper()
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("status %d, errors: %s", r.Status, r.Raw)
	}
	return r
}

// Do serves one request to h as user (nil: anonymous, otherwise in the
// request's context as the server's authentication puts it), with the
// Content-Type given if any, and decodes the response, failing the test
// if it is not JSON.
func Do(t testing.TB, h http.Handler, user *edustream.User, method, target, contentType string, body []byte) Response {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user != nil {
		req = req.WithContext(edustream.NewContextWithUser(req.Context(), user))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := Response{Status: rec.Code, Raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("response is not JSON (status %d): %q", rec.Code, rec.Body.String())
	}
	return r
}

// Post sends query with vars as a GraphQL POST to /query.
func Post(t testing.TB, h http.Handler, user *edustream.User, query string, vars map[string]any) Response {
	t.Helper()
	return Query(t, h, user, http.MethodPost, query, vars)
}

// Query sends query with vars to /query as a GraphQL GET, or a POST.
func Query(t testing.TB, h http.Handler, user *edustream.User, method, query string, vars map[string]any) Response {
	t.Helper()
	if method == http.MethodGet {
		return Do(t, h, user, method, GetTarget(query, vars), "", nil)
	}
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, h, user, method, "/query", "application/json", body)
}

// GetTarget is the target of a GraphQL GET of query with vars (nil: none).
func GetTarget(query string, vars map[string]any) string {
	target := "/query?query=" + url.QueryEscape(query)
	if vars != nil {
		raw, _ := json.Marshal(vars)
		target += "&variables=" + url.QueryEscape(string(raw))
	}
	return target
}
