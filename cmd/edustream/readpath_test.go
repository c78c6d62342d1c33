package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// getQuery sends a GraphQL GET, anonymously, with the headers given.
func (in *instance) getQuery(t *testing.T, query string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.url+"/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Two API instances on the same database and Redis, as on the fleet: each
// holds the anonymous catalog, a CDN may keep it briefly, and an
// instructor's write through one instance shows on the next read through
// the other.
func TestSharedReadsAcrossInstances(t *testing.T) {
	t.Parallel()
	env, _ := backendEnv(t)
	a := start(t, env, "serve")
	other := map[string]string{}
	for k, v := range env {
		other[k] = v
	}
	other["EDUSTREAM_WORK"] = "false"
	other["EDUSTREAM_PUBLIC_MAX_AGE"] = "30s"
	b := start(t, other, "serve")

	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	r := a.graphql(t, ada, `mutation { createCourse(input: {title: "Before"}) { id } }`, nil).ok(t)
	id := r.Data["createCourse"].(map[string]any)["id"].(string)
	a.graphql(t, ada, `mutation($c: ID!) { publishCourse(id: $c) { published } }`, map[string]any{"c": id}).ok(t)

	const catalog = `{ courses { edges { node { id title } } } }`
	resp, body := b.getQuery(t, catalog, http.Header{})
	etag := resp.Header.Get("ETag")
	if !strings.Contains(body, "Before") || etag == "" || resp.Header.Get("Cache-Control") != "public, max-age=30" {
		t.Fatalf("catalog on b: %s, ETag %q, Cache-Control %q", body, etag, resp.Header.Get("Cache-Control"))
	}
	// The same ETag on either instance, so a CDN may revalidate on any.
	if resp, _ := a.getQuery(t, catalog, http.Header{"If-None-Match": {etag}}); resp.StatusCode != http.StatusNotModified ||
		resp.Header.Get("Cache-Control") != "public, max-age=10" {
		t.Errorf("revalidation on a: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}

	a.graphql(t, ada, `mutation($c: ID!) { updateCourse(id: $c, input: {title: "After"}) { id } }`, map[string]any{"c": id}).ok(t)
	resp, body = b.getQuery(t, catalog, http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "After") || resp.Header.Get("ETag") == etag {
		t.Errorf("after the write, b answers %d with ETag %q: %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	// Instructors' reads are their own, never shared, and never public.
	if resp, _ := b.getQuery(t, catalog, http.Header{"Authorization": {"Bearer " + ada}}); resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("an instructor's GET is %q", resp.Header.Get("Cache-Control"))
	}
	if !strings.Contains(a.out.String(), `"msg":"garbage collector","gogc":"400"`) {
		t.Errorf("serve did not log its GC settings:\n%s", a.out)
	}
}
