package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/metrics"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/sqldb"
)

// BenchmarkCatalogMetrics is BenchmarkCatalog's requests (on SQLite) with
// the metrics off and on, as serve wires them with EDUSTREAM_METRICS_ADDR
// set (the GraphQL measures and the response cache's, the database pool's,
// the Go runtime's and the process's) and tracing unset:
//
//   - graphql: the full handler as a student, no response cache;
//   - cached: a response cache hit as a student;
//   - cached-anonymous: a hit without a token, the cheapest request there
//     is, where a fixed cost per request weighs most.
//
// Compare the variants in alternating rounds, one test binary run per
// variant: cmd/edustream/testdata/bench-metrics.sh. Results:
// docs/benchmarks.md, "Metrics".
func BenchmarkCatalogMetrics(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := sqldb.OpenSQLite(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	env := newBenchEnv(b, db, raw) // seeds the catalog
	body, _ := json.Marshal(map[string]string{"query": benchCatalogQuery})
	for _, variant := range []string{"off", "on"} {
		b.Run(variant, func(b *testing.B) {
			uncached, cached, cache := catalogHandlers(db, variant == "on")
			b.Run("graphql", func(b *testing.B) {
				env.postTo(b, uncached, env.token, body, "Lecture 0.9")
				parallel(b, func() { env.postTo(b, uncached, env.token, body, "Lecture 0.9") })
			})
			for _, who := range []struct{ name, token string }{{"cached", env.token}, {"cached-anonymous", ""}} {
				b.Run(who.name, func(b *testing.B) {
					env.postTo(b, cached, who.token, body, "Lecture 0.9") // fills the cache
					hits := cache.Stats().Hits
					parallel(b, func() { env.postTo(b, cached, who.token, body, "Lecture 0.9") })
					if got := cache.Stats().Hits - hits; got < int64(b.N) {
						b.Fatalf("%d of %d requests were cache hits", got, b.N)
					}
				})
			}
		})
	}
}

// catalogHandlers builds the API's handler over db as serve does, without
// and with a response cache, measured or not.
func catalogHandlers(db *sqldb.DB, measured bool) (uncached, cached http.Handler, cache *gqlhttp.ResponseCache) {
	users := sqldb.NewUserService(db)
	auth := server.NewAuthenticator(server.NewHS256Verifier([]byte(testSecret), "", ""), users, nil)
	resolver := &graph.Resolver{
		UserService:       users,
		CourseService:     sqldb.NewCourseService(db, nil),
		LectureService:    sqldb.NewLectureService(db, nil),
		EnrollmentService: sqldb.NewEnrollmentService(db, nil),
		PublicCatalog:     true,
	}
	cache = gqlhttp.NewResponseCache(gqlhttp.ResponseCacheConfig{MaxBytes: defaultsFor("serve").ResponseCacheBytes})
	var plain, withCache *gqlhttp.Metrics
	if measured {
		// One registry per handler, as each would be one process's.
		for _, m := range []**gqlhttp.Metrics{&plain, &withCache} {
			reg := metrics.NewRegistry()
			metrics.NewPipeline(reg)
			metrics.NewOutbound(reg)
			primary, _ := db.Pools()
			metrics.RegisterDB(reg, "primary", primary)
			c := cache
			if m == &plain {
				c = nil
			}
			*m = gqlhttp.NewMetrics(reg, gqlhttp.MetricsConfig{ResponseCache: c})
		}
	}
	log := slog.New(slog.DiscardHandler)
	gql := graph.NewHandler(graph.Config{Config: gqlhttp.Config{Auth: auth, Metrics: plain}}, resolver)
	gqlCached := graph.NewHandler(graph.Config{Config: gqlhttp.Config{Auth: auth, ResponseCache: cache, Metrics: withCache}}, resolver)
	return server.New(server.Config{Logger: log, GraphQL: gql, Auth: auth}),
		server.New(server.Config{Logger: log, GraphQL: gqlCached, Auth: auth}), cache
}

// BenchmarkMetricsScrape is one Prometheus scrape of a serve that runs its
// workers, with 1,000 encodingProgress subscriptions open (held by another
// process) and 10 queues in Redis (its two and eight more, a task
// scheduled in each). It reports the time of a scrape and its size.
// asynq's collector asks Redis about every queue at every scrape, so run
// it against a real Redis (EDUSTREAM_TEST_REDIS_URL) for figures that
// mean something.
func BenchmarkMetricsScrape(b *testing.B) {
	const subscriptions, queues = 1000, 10
	env, _ := backendEnv(b)
	env["EDUSTREAM_METRICS_ADDR"] = "127.0.0.1:0"
	// One instructor holds every subscription: lift the per-user bounds.
	env["EDUSTREAM_MAX_SOCKETS_PER_USER"] = strconv.Itoa(2 * subscriptions)
	env["EDUSTREAM_MAX_SUBSCRIPTIONS_PER_USER"] = strconv.Itoa(2 * subscriptions)
	in := start(b, env, "serve")
	ops := opsURL(b, in.out)
	ada := token(b, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lecture := in.publishedLecture(b, ada)
	in.graphql(b, "", `query Catalog { courses { edges { node { id } } } }`, nil).ok(b)

	opts, err := goredis.ParseURL(env["EDUSTREAM_REDIS_URL"])
	if err != nil {
		b.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	client := asynq.NewClientFromRedisClient(rdb)
	names := []string{"default", "video"}
	for i := range queues - len(names) {
		names = append(names, fmt.Sprintf("bench-%d", i))
	}
	for _, q := range names {
		if _, err := client.Enqueue(asynq.NewTask("bench:idle", nil), asynq.Queue(q), asynq.ProcessIn(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}

	_, _, stdout := helperProcess(b, clientsEnv, fmt.Sprintf("%s %d graphql %s %s",
		"ws"+strings.TrimPrefix(in.url, "http")+"/query", subscriptions, ada, lecture))
	if line, err := stdout.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		b.Fatalf("clients: %q %v", line, err)
	}
	f := scrapeMetrics(b, ops)
	if n, _ := f.sum("edustream_graphql_subscriptions", map[string]string{"field": "encodingProgress"}); n != subscriptions {
		b.Fatalf("%v subscriptions, want %d", n, subscriptions)
	}
	if n := len(f["asynq_queue_size"].GetMetric()); n != queues {
		b.Fatalf("%d queues, want %d", n, queues)
	}

	var size, series int
	b.ResetTimer()
	for range b.N {
		resp, err := http.Get(ops + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
		}
		size = len(body)
	}
	b.StopTimer()
	for line := range strings.Lines(string(scrapeBody(b, ops))) {
		if !strings.HasPrefix(line, "#") {
			series++
		}
	}
	b.ReportMetric(float64(size), "bytes/scrape")
	b.ReportMetric(float64(series), "series")
}

func scrapeBody(b *testing.B, root string) []byte {
	b.Helper()
	resp, err := http.Get(root + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return body
}
