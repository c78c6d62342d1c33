package main

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
)

// metricsURL is the /metrics URL a process logged.
var metricsURL = regexp.MustCompile(`(?:"msg":"metrics listening".*"url":"([^"]+)")|(?:msg="metrics listening" .*url=(\S+))`)

// opsURL waits for the process writing out to say where its metrics are,
// and returns the operations listener's root.
func opsURL(t testing.TB, out interface{ String() string }) string {
	t.Helper()
	var m []string
	testenv.Eventually(t, "the metrics listener", func() bool {
		m = metricsURL.FindStringSubmatch(out.String())
		return m != nil
	})
	return strings.TrimSuffix(m[1]+m[2], "/metrics")
}

// families is one scrape, parsed.
type families map[string]*dto.MetricFamily

// scrapeMetrics GETs /metrics as Prometheus does and parses the text.
func scrapeMetrics(t testing.TB, root string) families {
	t.Helper()
	resp, err := http.Get(root + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s (%s)", resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	f, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return f
}

// sum adds up the series of name whose labels include labels: counters'
// and gauges' values, histograms' counts.
func (f families) sum(name string, labels map[string]string) (total float64, found bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
series:
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total, found
}

// moved is how much a series grew between two scrapes.
func moved(before, after families, name string, labels map[string]string) float64 {
	b, _ := before.sum(name, labels)
	a, _ := after.sum(name, labels)
	return a - b
}

// The metrics of the issue, scraped from the real listener of a serve that
// runs its workers: a catalog read (twice: a cache hit), a refusal, a
// subscription, an upload to READY and one that fails its probe, and a
// live class whose first call to Webex is rate limited move the GraphQL,
// queue, pipeline and dependency metrics; the API's port has no /metrics.
func TestMetricsOfAServe(t *testing.T) {
	testenv.FFmpeg(t)
	clip := testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: 2, Audio: true})
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	env, _, fake := liveEnv(t)
	env["EDUSTREAM_METRICS_ADDR"] = "127.0.0.1:0"
	in := start(t, env, "serve")
	ops := opsURL(t, in.out)
	if got := in.getStatus(t, "/metrics"); got != http.StatusNotFound {
		t.Errorf("the API's port answers %d at /metrics, want 404", got)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if got := httpStatus(t, ops+path); got != http.StatusOK {
			t.Errorf("GET %s on the metrics listener = %d, want 200", path, got)
		}
	}
	before := scrapeMetrics(t, ops)

	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	sam := token(t, testSecret, "sam", edustream.RoleStudent, time.Hour)
	courseID, lectureID := in.publishedLecture(t, ada)
	const catalog = `query Catalog { courses(first: 10) { edges { node { id title } } } }`
	in.graphql(t, "", catalog, nil).ok(t)
	in.graphql(t, "", catalog, nil).ok(t)
	if r := in.graphql(t, sam, `mutation Sneaky { createCourse(input: {title: "x"}) { id } }`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("a student created a course: %s", r.Raw)
	}

	progress, err := in.subscribe(t, ada, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	progress.next(t) // subscribed: the first event is the current state
	during := scrapeMetrics(t, ops)
	if n, _ := during.sum("edustream_graphql_subscriptions", map[string]string{"field": "encodingProgress"}); n != 1 {
		t.Errorf("active encodingProgress subscriptions = %v, want 1", n)
	}
	if n, _ := during.sum("edustream_graphql_websocket_connections", nil); n != 1 {
		t.Errorf("open websockets = %v, want 1", n)
	}

	uploadID, parts := in.uploadParts(t, ada, lectureID, data)
	in.graphql(t, ada, `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"uploadId": uploadID, "parts": parts}}).ok(t)
	progress.until(t, "READY", 2*time.Minute)

	// A text file fails its probe: the input's fault.
	garbage := []byte("these are my lecture notes, not a video\n")
	uploadID, parts = in.uploadParts(t, ada, lectureID, garbage)
	in.graphql(t, ada, `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"uploadId": uploadID, "parts": parts}}).ok(t)
	progress.until(t, "FAILED", time.Minute)

	// Webex is asked to slow down once: the client waits and retries.
	fake.RateLimit(http.MethodPost, "/meetings", 1, "1")
	in.createLive(t, ada, courseID, "Office hours", time.Now().Add(24*time.Hour)).ok(t)

	// The chain's last task is measured after the video is READY, and the
	// failed probe's after the video is FAILED.
	var after families
	testenv.Eventually(t, "the last tasks to be measured", func() bool {
		after = scrapeMetrics(t, ops)
		complete, _ := after.sum("edustream_task_duration_seconds", map[string]string{"type": "video:complete:v1", "outcome": "ok"})
		probes, _ := after.sum("edustream_task_duration_seconds", map[string]string{"type": "video:probe:v1", "outcome": "failed"})
		return complete == 1 && probes == 1
	})

	for _, tt := range []struct {
		name   string
		labels map[string]string
		atLeast,
		atMost float64
	}{
		// GraphQL RED.
		{"edustream_graphql_requests_total", map[string]string{"type": "query", "operation": "Catalog", "outcome": "ok"}, 2, 2},
		{"edustream_graphql_requests_total", map[string]string{"type": "mutation", "operation": "Sneaky", "outcome": "error"}, 1, 1},
		{"edustream_graphql_requests_total", map[string]string{"type": "subscription", "outcome": "ok"}, 1, 1},
		{"edustream_graphql_request_duration_seconds", map[string]string{"type": "query", "operation": "Catalog"}, 2, 2},
		{"edustream_graphql_request_duration_seconds", map[string]string{"type": "mutation"}, 5, 100},
		{"edustream_graphql_errors_total", map[string]string{"code": "FORBIDDEN"}, 1, 1},
		{"edustream_graphql_response_cache_hits_total", nil, 1, 1},
		{"edustream_graphql_response_cache_misses_total", nil, 1, 100},
		// Queues and tasks.
		{"asynq_tasks_processed_total", map[string]string{"queue": "video"}, 4, 100},
		{"edustream_task_duration_seconds", map[string]string{"type": "video:transcode:v1", "outcome": "ok"}, 1, 1},
		// The pipeline.
		{"edustream_video_step_duration_seconds", map[string]string{"stage": "TRANSCODE", "outcome": "ok"}, 1, 1},
		{"edustream_video_step_duration_seconds", map[string]string{"stage": "PROBE", "outcome": "failed"}, 1, 1},
		{"edustream_video_transcode_speed_ratio", nil, 1, 1},
		{"edustream_video_transcoded_media_seconds_total", nil, 1.5, 2.5},
		{"edustream_video_moves_total", map[string]string{"move": "store", "status": "UPLOADED"}, 2, 2},
		{"edustream_video_moves_total", map[string]string{"move": "complete", "status": "READY"}, 1, 1},
		{"edustream_video_failures_total", map[string]string{"stage": "PROBE", "class": "input"}, 1, 1},
		{"edustream_videos", map[string]string{"status": "READY"}, 1, 1},
		{"edustream_videos", map[string]string{"status": "FAILED"}, 1, 1},
		{"edustream_video_uploaded_bytes_total", nil, float64(len(data) + len(garbage)), float64(len(data) + len(garbage))},
		{"edustream_video_published_bytes_total", nil, 1000, 1e9},
		// Dependencies.
		{"edustream_http_client_requests_total", map[string]string{"service": "webex", "code": "429"}, 1, 1},
		{"edustream_http_client_requests_total", map[string]string{"service": "webex", "code": "200"}, 1, 10},
		{"edustream_http_client_retries_total", map[string]string{"service": "webex"}, 1, 1},
		{"edustream_redis_pool_hits_total", nil, 1, 1e9},
	} {
		if got := moved(before, after, tt.name, tt.labels); got < tt.atLeast || got > tt.atMost {
			t.Errorf("%s%v moved by %v, want %v to %v", tt.name, tt.labels, got, tt.atLeast, tt.atMost)
		}
	}
	for _, tt := range []struct {
		name   string
		labels map[string]string
	}{
		{"asynq_queue_size", map[string]string{"queue": "video"}},
		{"asynq_queue_latency_seconds", map[string]string{"queue": "default"}},
		{"go_sql_open_connections", map[string]string{"db_name": "primary"}},
		{"edustream_redis_pool_connections", map[string]string{"state": "idle"}},
		{"edustream_video_steps_running", map[string]string{"stage": "TRANSCODE"}},
		{"go_goroutines", nil},
		{"process_cpu_seconds_total", nil},
	} {
		if _, ok := after.sum(tt.name, tt.labels); !ok {
			t.Errorf("no %s%v", tt.name, tt.labels)
		}
	}
}

// A worker has no API port: it answers the probes of its autoscaling
// group and Prometheus's scrapes on its operations listener, with the
// queues and its tasks, until it stops.
func TestMetricsOfAWorker(t *testing.T) {
	env, _ := backendEnv(t)
	env["EDUSTREAM_METRICS_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	out := newLogBuffer()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"work"}, func(k string) string { return env[k] }, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("work returned %v after shutdown\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("work did not return within 30s of shutdown\n%s", out)
		}
	})
	ops := opsURL(t, out)
	for _, path := range []string{"/healthz", "/readyz"} {
		if got := httpStatus(t, ops+path); got != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, got)
		}
	}
	// A task for it: the queue appears in asynq's metrics, and its run in
	// the worker's.
	opts, err := goredis.ParseURL(env["EDUSTREAM_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	if err := jobs.NewQueue(rdb).EnqueueCoursePurge(ctx, 42); err != nil {
		t.Fatal(err)
	}
	var f families
	testenv.Eventually(t, "the purge to be measured", func() bool {
		f = scrapeMetrics(t, ops)
		_, ok := f.sum("edustream_task_duration_seconds", map[string]string{"type": jobs.TypeCoursePurge})
		return ok
	})
	for _, name := range []string{"asynq_queue_size", "asynq_tasks_processed_total", "edustream_video_steps_running", "edustream_video_failures_total", "go_sql_open_connections", "process_cpu_seconds_total"} {
		if _, ok := f.sum(name, nil); !ok {
			t.Errorf("a worker serves no %s", name)
		}
	}
	if _, ok := f.sum("edustream_graphql_requests_total", nil); ok {
		t.Error("a worker serves GraphQL metrics")
	}
}

// The metrics are never on the API's port; dev has them on a loopback
// port of its own.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd, http, metrics string
		wantErr            bool
	}{
		{"serve", ":8080", "", false},
		{"serve", ":8080", ":9464", false},
		{"serve", ":8080", ":8080", true},
		{"serve", "127.0.0.1:8080", ":8080", true},
		{"serve", ":8080", "10.0.0.5:8080", true},
		{"serve", "127.0.0.1:8080", "10.0.0.5:8080", false},
		{"serve", "127.0.0.1:0", "127.0.0.1:0", false},
		{"serve", ":8080", "no-port", true},
		{"work", ":8080", ":8080", true},
	}
	for _, tt := range tests {
		env := map[string]string{"EDUSTREAM_HTTP_ADDR": tt.http, "EDUSTREAM_METRICS_ADDR": tt.metrics}
		_, err := parseConfig(tt.cmd, nil, func(k string) string { return env[k] })
		if (err != nil) != tt.wantErr {
			t.Errorf("%s with HTTP_ADDR=%q METRICS_ADDR=%q: %v, want an error: %v", tt.cmd, tt.http, tt.metrics, err, tt.wantErr)
		}
	}
	cfg, err := parseConfig("dev", nil, func(string) string { return "" })
	if err != nil || cfg.MetricsAddr != "127.0.0.1:0" {
		t.Errorf("dev's metrics address = %q (%v), want 127.0.0.1:0", cfg.MetricsAddr, err)
	}
	if cfg, _ := parseConfig("serve", nil, func(string) string { return "" }); cfg.MetricsAddr != "" {
		t.Errorf("serve's metrics address = %q, want off", cfg.MetricsAddr)
	}
}
