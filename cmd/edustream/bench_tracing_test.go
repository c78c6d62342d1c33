package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/tracing"
)

// benchTracingEnv selects BenchmarkCatalogTracing's variant: "off" (or
// unset) runs with no OTEL_* variable set, "on" with every request traced.
const benchTracingEnv = "EDUSTREAM_BENCH_TRACING"

// BenchmarkCatalogTracing is BenchmarkCatalog's graphql and cached cases
// with the process's tracing as EDUSTREAM_BENCH_TRACING says: "off", as
// run starts without OTEL_* variables, or "on", with
// OTEL_TRACES_SAMPLER=always_on and the spans exported over OTLP/HTTP to a
// collector in another process on this machine, which decodes and counts
// them (spans/op: a figure under the spans a request makes means the
// exporter dropped some).
//
// The two variants are compared in processes of their own, alternately,
// not with -count: testdata/bench_tracing.sh runs them and prints the
// medians. Results: docs/benchmarks.md. With the variable unset (CI's
// -bench . -benchtime 1x) both run, as sub-benchmarks off and on, so the
// traced path (exporter, collector process) is exercised on every run.
func BenchmarkCatalogTracing(b *testing.B) {
	variant := os.Getenv(benchTracingEnv)
	if variant == "" {
		for _, v := range []string{"off", "on"} {
			b.Run(v, func(b *testing.B) { benchCatalogTracing(b, v) })
		}
		return
	}
	benchCatalogTracing(b, variant)
}

// benchCatalogTracing is BenchmarkCatalogTracing's variant, "off" or "on".
func benchCatalogTracing(b *testing.B, variant string) {
	forEachEngine(b, func(b *testing.B, env *benchEnv) {
		vars := map[string]string{}
		var collector *countingCollector
		switch variant {
		case "off":
		case "on":
			collector = newCountingCollector(b)
			vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
			vars["OTEL_TRACES_SAMPLER"] = "always_on"
		default:
			b.Fatalf("%s=%q: want on or off", benchTracingEnv, variant)
		}
		// As run wires it.
		log := slog.New(slog.DiscardHandler)
		tr, err := tracing.New(context.Background(), func(k string) string { return vars[k] }, log)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Shutdown(context.Background()) })
		mount := func(gql http.Handler) http.Handler {
			return server.New(server.Config{Logger: tr.Logger(log), GraphQL: gql, Auth: env.auth,
				Tracer: traceStarts(tr), Propagator: tr.Propagator()})
		}
		body, _ := json.Marshal(map[string]string{"query": benchCatalogQuery})
		for _, c := range []struct {
			name    string
			handler http.Handler
		}{{"graphql", mount(env.gql)}, {"cached", mount(env.cachedGQL)}} {
			b.Run(c.name, func(b *testing.B) {
				env.postTo(b, c.handler, env.token, body, "Lecture 0.9") // warms the caches
				tr.ForceFlush(context.Background())
				before := collector.count()
				parallel(b, func() { env.postTo(b, c.handler, env.token, body, "Lecture 0.9") })
				b.StopTimer()
				if collector != nil {
					tr.ForceFlush(context.Background())
					b.ReportMetric(float64(collector.count()-before)/float64(b.N), "spans/op")
				}
			})
		}
	})
}

// countingCollector is an OTLP/HTTP collector in a process of its own
// (TestCountingCollector run as a helper), so that its work is not counted
// in the benchmark's cpu-ns/op: it decodes the exports and counts their
// spans.
type countingCollector struct {
	url string
}

// collectorEnv runs TestCountingCollector as the collector.
const collectorEnv = "EDUSTREAM_BENCH_COLLECTOR"

func newCountingCollector(b *testing.B) *countingCollector {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCountingCollector$")
	cmd.Env = append(os.Environ(), collectorEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// Closing its stdin stops it.
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the collector did not start: %v", err)
	}
	return &countingCollector{url: strings.TrimSpace(line)}
}

// count is the spans received so far (0 for no collector).
func (c *countingCollector) count() int64 {
	if c == nil {
		return 0
	}
	resp, err := http.Get(c.url + "/count")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	n, _ := strconv.ParseInt(readAll(resp.Body), 10, 64)
	return n
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

// TestCountingCollector is not a test: it is BenchmarkCatalogTracing's
// collector when that starts it, and skips otherwise. It prints its URL,
// takes OTLP/HTTP exports, answers GET /count with the spans received, and
// exits when its stdin closes.
func TestCountingCollector(t *testing.T) {
	if os.Getenv(collectorEnv) != "1" {
		t.Skip("the collector process of BenchmarkCatalogTracing")
	}
	var spans atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &export); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range export.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans.Add(int64(len(ss.Spans)))
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, spans.Load())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	fmt.Println(srv.URL)
	io.Copy(io.Discard, os.Stdin)
}
