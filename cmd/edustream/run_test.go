package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/server"
)

// instance is one run of the binary, in-process, on 127.0.0.1:0.
type instance struct {
	url    string
	out    *logBuffer
	cancel context.CancelFunc
	done   chan error
}

// start runs the command with env and waits until it listens. The test's
// cleanup stops it and checks it shut down cleanly.
func start(t testing.TB, env map[string]string, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{out: newLogBuffer(), cancel: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() { in.done <- run(ctx, args, getenv, in.out) }()
	select {
	case u := <-in.out.listening:
		in.url = u
	case err := <-in.done:
		cancel()
		t.Fatalf("%v exited before listening: %v\n%s", args, err, in.out)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("%v did not listen within 60s\n%s", args, in.out)
	}
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop sends the equivalent of SIGTERM and waits for a clean exit.
func (in *instance) stop(t testing.TB) {
	t.Helper()
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("run returned %v after shutdown\n%s", err, in.out)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("run did not return within 30s of shutdown\n%s", in.out)
	}
}

// logBuffer collects what run writes and spots the "listening" line.
type logBuffer struct {
	testenv.LogBuffer
	listening chan string
	once      sync.Once
}

var listeningURL = regexp.MustCompile(`(?:"msg":"listening".*"url":"([^"]+)")|(?:msg=listening .*url=(\S+))`)

func newLogBuffer() *logBuffer { return &logBuffer{listening: make(chan string, 1)} }

func (b *logBuffer) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		if m := listeningURL.FindStringSubmatch(line); m != nil {
			b.once.Do(func() { b.listening <- m[1] + m[2] })
		}
	}
	return b.LogBuffer.Write(p)
}

// gqlResponse is a decoded GraphQL response.
type gqlResponse struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	Raw string
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func (r gqlResponse) ok(t testing.TB) gqlResponse {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("status %d: %s", r.Status, r.Raw)
	}
	return r
}

// graphql POSTs a document with the bearer token (empty: anonymous).
func (in *instance) graphql(t testing.TB, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, in.url+"/query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := gqlResponse{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("status %d, body is not JSON: %q", resp.StatusCode, raw)
	}
	return r
}

func (in *instance) getStatus(t testing.TB, path string) int {
	t.Helper()
	resp, err := http.Get(in.url + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func token(t testing.TB, secret, sub string, role edustream.Role, ttl time.Duration) string {
	t.Helper()
	tok, err := server.IssueToken([]byte(secret), edustream.Claims{Subject: sub, Role: role, Email: sub + "@example.test", Name: sub}, "", "", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func runErr(t testing.TB, env map[string]string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, &out)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%v did not return within 30s", args)
	}
	return err
}
