package gqlhttp_test

import (
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/introspection"

	"github.com/edustream/edustream/gqlhttp"
)

func TestIntrospectionSwitch(t *testing.T) {
	t.Parallel()
	const query = `{ __schema { queryType { name } } }`
	on := newServer(t)
	on.post(t, nil, query, nil).NoErrors(t)
	// GraphiQL's schema query is deep by design: the depth limit leaves
	// introspection to the switch.
	if r := on.post(t, nil, introspection.Query, nil).NoErrors(t); !strings.Contains(r.Raw, `"name":"Book"`) {
		t.Errorf("the full introspection query: %.300s", r.Raw)
	}
	off := newServer(t, func(_ *gqlhttp.Schema, c *gqlhttp.Config) { c.Introspection = false })
	if r := off.post(t, nil, query, nil); r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "INTROSPECTION_DISABLED" {
		t.Errorf("introspection while disabled: %s", r.Raw)
	}
	// Clients need __typename whatever the switch says.
	off.post(t, nil, `{ __typename greeting }`, nil).NoErrors(t)
}

// A panicking resolver costs the request its field, not the process: the
// schema's Recover and presenter decide what the caller sees, and the next
// request is served.
func TestPanicsAreRecovered(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := s.post(t, nil, `{ greeting panics }`, nil)
	if r.Code(t) != "INTERNAL" || r.Errors[0].Message != "internal error" || strings.Contains(r.Raw, "boom") || r.Data["greeting"] != "Hello" {
		t.Errorf("got %s, want the greeting and one bare internal error", r.Raw)
	}
	s.post(t, nil, `{ greeting }`, nil).NoErrors(t)
}

// Without a presenter of the schema's, resolvers' errors are gqlgen's,
// and the document's are still BAD_USER_INPUT with their reason.
func TestDefaultPresenter(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(s *gqlhttp.Schema, _ *gqlhttp.Config) { s.ErrorPresenter = nil })
	if r := s.post(t, nil, `{ fail }`, nil); len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "it failed") || r.Errors[0].Extensions != nil {
		t.Errorf("a resolver's error: %s", r.Raw)
	}
	if r := s.post(t, nil, `{ nope }`, nil); r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("a validation error: %s", r.Raw)
	}
}

// Every error message is bounded, whoever presents it: it may quote the
// document.
func TestErrorMessagesAreBounded(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	long := strings.Repeat("é", 200)
	for _, q := range []string{
		`{ book(id: "` + long + `") { id } }`, // the schema's
		`{ count(filter: "` + long + `") }`,   // the document's
	} {
		r := s.post(t, nil, q, nil)
		if len(r.Errors) != 1 || len(r.Errors[0].Message) > 300+len("…") || !strings.HasSuffix(r.Errors[0].Message, "…") {
			t.Errorf("%.40s: %s", q, r.Raw)
		}
	}
}
