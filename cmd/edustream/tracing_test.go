package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/tracing/tracingtest"
)

// One trace from upload to READY: a completeVideoUpload sent with a
// traceparent makes one tree of spans under the client's span, from the
// HTTP request through the mutation to every step of the chain, which a
// worker in another process runs, the last step leaving the video READY,
// with the SQL, Redis and enqueues in between; the log lines of the
// request and of every step carry the trace's id.
func TestOneTraceFromUploadToReady(t *testing.T) {
	testenv.FFmpeg(t)
	clip := testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2, Audio: true})
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	recv := tracingtest.NewReceiver(t)
	env, _ := backendEnv(t)
	env["EDUSTREAM_WORK"] = "false"
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = recv.Endpoint()
	env["OTEL_SERVICE_NAME"] = "edustream-api"
	in := start(t, env, "serve")
	workerEnv := maps.Clone(env)
	workerEnv["OTEL_SERVICE_NAME"] = "edustream-worker"
	worker := startProcess(t, workerEnv, "work")

	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lectureID := in.publishedLecture(t, ada)
	progress, err := in.subscribe(t, ada, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	videoID, parts := in.uploadParts(t, ada, lectureID, data)

	traceID, clientSpan := randomHex(t, 16), randomHex(t, 8)
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation Complete($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id } }`,
		"variables": map[string]any{"in": map[string]any{"uploadId": videoID, "parts": parts}},
	})
	req, _ := http.NewRequest(http.MethodPost, in.url+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ada)
	req.Header.Set("traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), videoID) {
		t.Fatalf("completeVideoUpload: %d %s", resp.StatusCode, raw)
	}
	progress.until(t, "READY", 2*time.Minute)
	// Stopping flushes the spans the exporters still hold.
	in.stop(t)
	worker.stop(t)

	spans := recv.Trace(traceID)
	byID := map[string]tracingtest.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	// One tree: every span hangs from another of the trace, or from the
	// client's; those under a task's are the worker's.
	for _, s := range spans {
		if _, ok := byID[s.ParentSpanID]; !ok && s.ParentSpanID != clientSpan {
			t.Errorf("span %q has parent %s, which is not in the trace", s.Name, s.ParentSpanID)
		}
		want := "edustream-api"
		if underTask(byID, s) {
			want = "edustream-worker"
		}
		if s.Service != want {
			t.Errorf("span %q comes from %q, want %q", s.Name, s.Service, want)
		}
	}
	find := func(what string, ok func(tracingtest.Span) bool) tracingtest.Span {
		t.Helper()
		for _, s := range spans {
			if ok(s) {
				return s
			}
		}
		t.Fatalf("no span of %s in the trace; it has %s", what, spanNames(spans))
		return tracingtest.Span{}
	}
	named := func(name string) func(tracingtest.Span) bool {
		return func(s tracingtest.Span) bool { return s.Name == name }
	}

	server := find("the request", named("POST /query"))
	if server.ParentSpanID != clientSpan {
		t.Errorf("the request's span has parent %s, want the client's %s", server.ParentSpanID, clientSpan)
	}
	op := find("the operation", named("mutation Complete"))
	field := find("the mutation's field", named("Mutation.completeVideoUpload"))
	if op.ParentSpanID != server.SpanID || field.ParentSpanID != op.SpanID {
		t.Errorf("request → operation → field is broken: %+v %+v %+v", server, op, field)
	}
	find("a statement", func(s tracingtest.Span) bool { return s.Attributes["db.query.text"] != nil })
	find("a Redis command", func(s tracingtest.Span) bool { return s.Attributes["db.system.name"] == "redis" })

	// Every step, each enqueued by the one before (the probe by the
	// mutation), the last leaving the video READY.
	previous := field
	for _, stage := range edustream.Stages[1:] {
		step := find("the "+string(stage)+" step", func(s tracingtest.Span) bool {
			return s.Attributes["edustream.video.stage"] == string(stage) && s.Attributes["edustream.video.id"] == mustInt(t, videoID)
		})
		enqueue := byID[step.ParentSpanID]
		if !strings.HasPrefix(enqueue.Name, "enqueue video:") || !descends(byID, enqueue, previous) {
			t.Errorf("the %s step's span hangs from %q, not from an enqueue under the step before (%q)", stage, enqueue.Name, previous.Name)
		}
		previous = step
	}
	if last := previous; last.Attributes["edustream.video.status"] != "READY" {
		t.Errorf("the last step left the video %v, want READY", last.Attributes["edustream.video.status"])
	}
	transcode := find("the transcode", func(s tracingtest.Span) bool { return s.Attributes["edustream.video.stage"] == "TRANSCODE" })
	if r, _ := transcode.Attributes["edustream.video.renditions"].([]string); len(r) == 0 || !(transcode.Attributes["edustream.transcode.speed"].(float64) > 0) {
		t.Errorf("the transcode's span says renditions %v, speed %v", transcode.Attributes["edustream.video.renditions"], transcode.Attributes["edustream.transcode.speed"])
	}

	// The log lines of the request and of every step's task carry the trace.
	var traced []string
	for _, line := range strings.Split(in.out.String()+worker.out.String(), "\n") {
		if strings.Contains(line, `"trace_id":"`+traceID+`"`) {
			traced = append(traced, line)
		}
	}
	for _, want := range append([]string{`"msg":"http request"`, `"msg":"graphql"`}, stepTaskLines(videoID)...) {
		if !slices.ContainsFunc(traced, func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("no log line with %s carries the trace id", want)
		}
	}
}

// stepTaskLines are what the "task done" line of each step's task holds.
func stepTaskLines(videoID string) []string {
	var out []string
	for _, step := range []string{"probe", "transcode", "publish", "thumbnails", "captions", "metadata", "complete"} {
		out = append(out, `"task_id":"video:`+step+`:`+videoID+`"`)
	}
	return out
}

// underTask reports whether span is a task's or under one.
func underTask(byID map[string]tracingtest.Span, span tracingtest.Span) bool {
	for s, ok := span, true; ok; s, ok = byID[s.ParentSpanID] {
		if strings.HasPrefix(s.Name, "process ") {
			return true
		}
	}
	return false
}

// descends reports whether span is ancestor or a descendant of it.
func descends(byID map[string]tracingtest.Span, span, ancestor tracingtest.Span) bool {
	for s, ok := span, true; ok; s, ok = byID[s.ParentSpanID] {
		if s.SpanID == ancestor.SpanID {
			return true
		}
	}
	return false
}

func spanNames(spans []tracingtest.Span) string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// stop ends the process as SIGTERM does and waits for it to exit.
func (p *process) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Errorf("%v exited with %v", p.cmd.Args, err)
	}
}
