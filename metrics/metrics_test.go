package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/metrics"
)

// scrape GETs /metrics from h and parses the text format.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// value returns the value (a histogram's count) of the series of name
// with exactly labels, and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
metrics:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue metrics
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func newRegistry(t *testing.T) (*prometheus.Registry, http.Handler) {
	t.Helper()
	reg := metrics.NewRegistry()
	return reg, metrics.Handler(reg, slog.New(slog.DiscardHandler))
}

// failingCollector fails every scrape.
type failingCollector struct{}

var failingDesc = prometheus.NewDesc("edustream_test_broken", "A collector that fails.", nil, nil)

func (failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- failingDesc }
func (failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(failingDesc, errors.New("backend down"))
}

// The registry has the Go runtime and the process, and a collector that
// fails does not take the others down with it.
func TestRegistry(t *testing.T) {
	t.Parallel()
	reg, h := newRegistry(t)
	reg.MustRegister(failingCollector{})
	families := scrape(t, h)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if families["edustream_test_broken"] != nil {
		t.Error("a failed collector's metric was served")
	}
}

// The lifecycle's observer counts every move by the status it left the
// video in, failures by stage and class (every pair from zero), and the
// bytes of stored uploads.
func TestPipeline(t *testing.T) {
	t.Parallel()
	reg, h := newRegistry(t)
	p := metrics.NewPipeline(reg)
	ctx := context.Background()
	state := func(s edustream.VideoStatus, st edustream.VideoStage) edustream.VideoState {
		return edustream.VideoState{Status: s, Stage: st}
	}
	v := &edustream.Video{ID: 1, SizeBytes: 12345}
	p.VideoMoved(ctx, edustream.VideoMoveReport{Move: edustream.MoveOpenUpload, To: state(edustream.VideoAwaitingUpload, edustream.StageUpload), Video: v})
	p.VideoMoved(ctx, edustream.VideoMoveReport{Move: edustream.MoveStore, To: state(edustream.VideoUploaded, edustream.StageProbe), Video: v})
	p.VideoMoved(ctx, edustream.VideoMoveReport{Move: edustream.MoveFail, To: state(edustream.VideoFailed, edustream.StageProbe), Video: v, Failure: edustream.FailureInput})
	p.VideoMoved(ctx, edustream.VideoMoveReport{Move: edustream.MoveComplete, To: state(edustream.VideoReady, edustream.StageComplete), Video: v})
	families := scrape(t, h)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"edustream_video_moves_total", map[string]string{"move": "open_upload", "status": "AWAITING_UPLOAD"}, 1},
		{"edustream_video_moves_total", map[string]string{"move": "store", "status": "UPLOADED"}, 1},
		{"edustream_video_moves_total", map[string]string{"move": "fail", "status": "FAILED"}, 1},
		{"edustream_video_moves_total", map[string]string{"move": "complete", "status": "READY"}, 1},
		{"edustream_video_failures_total", map[string]string{"stage": "PROBE", "class": "input"}, 1},
		{"edustream_video_failures_total", map[string]string{"stage": "TRANSCODE", "class": "processing"}, 0},
		{"edustream_video_uploaded_bytes_total", nil, 12345},
	} {
		if got, ok := value(families, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found: %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if n, want := len(families["edustream_video_failures_total"].GetMetric()), len(edustream.Stages)*len(edustream.FailureClasses); n != want {
		t.Errorf("%d failure series, want every stage and class: %d", n, want)
	}
}

// Outbound calls are counted per attempt by status, with no response as
// "error"; the attempts past a call's first are retries.
func TestOutbound(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	codes := []int{429, 503, 200}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(codes[int(n.Add(1)-1)%len(codes)])
	}))
	t.Cleanup(srv.Close)
	reg, h := newRegistry(t)
	out := metrics.NewOutbound(reg)
	client := out.Client("webex", &http.Client{}, func(r *http.Request) int {
		a, _ := strconv.Atoi(r.Header.Get("Attempt"))
		return a
	})
	for attempt := 1; attempt <= 3; attempt++ {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Attempt", strconv.Itoa(attempt))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	sns := out.Client("sns", nil, nil)
	if _, err := sns.Get("http://" + testenv.ClosedAddr(t)); err == nil {
		t.Fatal("a closed address answered")
	}
	families := scrape(t, h)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"edustream_http_client_requests_total", map[string]string{"service": "webex", "code": "429"}, 1},
		{"edustream_http_client_requests_total", map[string]string{"service": "webex", "code": "503"}, 1},
		{"edustream_http_client_requests_total", map[string]string{"service": "webex", "code": "200"}, 1},
		{"edustream_http_client_requests_total", map[string]string{"service": "sns", "code": "error"}, 1},
		{"edustream_http_client_retries_total", map[string]string{"service": "webex"}, 2},
		{"edustream_http_client_retries_total", map[string]string{"service": "sns"}, 0},
		{"edustream_http_client_request_duration_seconds", map[string]string{"service": "webex"}, 3},
	} {
		if got, ok := value(families, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found: %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
}

func TestAWSAttempt(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]int{
		"":                                       0,
		"attempt=1; max=3":                       1,
		"attempt=3; max=3":                       3,
		"ttl=20240101T000000Z; attempt=2; max=3": 2,
		"attempt=x":                              0,
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if header != "" {
			r.Header.Set("amz-sdk-request", header)
		}
		if got := metrics.AWSAttempt(r); got != want {
			t.Errorf("AWSAttempt(%q) = %d, want %d", header, got, want)
		}
	}
}

// The Redis pool's statistics and asynq's queues are read at each scrape.
func TestRedisAndQueues(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	for range 3 {
		if _, err := client.Enqueue(asynq.NewTask("test:metrics", nil), asynq.Queue("video")); err != nil {
			t.Fatal(err)
		}
	}
	reg, h := newRegistry(t)
	metrics.RegisterRedisPool(reg, rdb)
	metrics.RegisterQueues(reg, asynq.NewInspectorFromRedisClient(rdb))
	families := scrape(t, h)
	if got, ok := value(families, "asynq_queue_size", map[string]string{"queue": "video"}); !ok || got != 3 {
		t.Errorf("asynq_queue_size{queue=video} = %v (found: %v), want 3", got, ok)
	}
	if got, ok := value(families, "asynq_tasks_enqueued_total", map[string]string{"queue": "video", "state": "pending"}); !ok || got != 3 {
		t.Errorf("pending video tasks = %v (found: %v), want 3", got, ok)
	}
	if _, ok := value(families, "asynq_queue_latency_seconds", map[string]string{"queue": "video"}); !ok {
		t.Error("no asynq_queue_latency_seconds{queue=video}")
	}
	stats := rdb.PoolStats()
	idle, _ := value(families, "edustream_redis_pool_connections", map[string]string{"state": "idle"})
	inUse, _ := value(families, "edustream_redis_pool_connections", map[string]string{"state": "in_use"})
	if idle+inUse != float64(stats.TotalConns) || stats.TotalConns == 0 {
		t.Errorf("redis pool connections idle %v + in use %v, want the pool's %d", idle, inUse, stats.TotalConns)
	}
	if hits, ok := value(families, "edustream_redis_pool_hits_total", nil); !ok || hits < 1 {
		t.Errorf("redis pool hits = %v (found: %v), want some after four commands", hits, ok)
	}
}

// The videos by status are counted at each scrape: every status has a
// series, zero when no video has it, and a count that fails leaves the
// gauge out of that scrape (and says why in the log) while the rest is
// served.
func TestVideoCounts(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	reg, h := newRegistry(t)
	metrics.RegisterVideoCounts(reg, func(context.Context) (map[edustream.VideoStatus]int, error) {
		if fail.Load() {
			return nil, errors.New("database down")
		}
		return map[edustream.VideoStatus]int{edustream.VideoReady: 3, edustream.VideoFailed: 1}, nil
	}, slog.New(slog.DiscardHandler))
	families := scrape(t, h)
	for status, want := range map[edustream.VideoStatus]float64{edustream.VideoReady: 3, edustream.VideoFailed: 1, edustream.VideoProcessing: 0} {
		if got, ok := value(families, "edustream_videos", map[string]string{"status": string(status)}); !ok || got != want {
			t.Errorf("edustream_videos{status=%s} = %v (%v), want %v", status, got, ok, want)
		}
	}
	fail.Store(true)
	families = scrape(t, h)
	if _, ok := families["edustream_videos"]; ok {
		t.Error("a failed count still served edustream_videos")
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Error("a failed count took the other metrics down")
	}
}
