package metrics_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/metrics"
	"github.com/edustream/edustream/storage/sqldb"
)

// describing is a Registerer that notes the names of everything
// registered on it.
type describing struct {
	prometheus.Registerer
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return d.Registerer.Register(c)
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// servedNames returns the name of every metric a process can serve, from
// the collectors serve and work register.
func servedNames(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	d := &describing{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	// NewRegistry's own collectors: the Go runtime and the process.
	gathered, err := metrics.NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range gathered {
		d.names[f.GetName()] = true
	}
	metrics.NewPipeline(d)
	metrics.NewOutbound(d)
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "names.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	primary, _ := db.Pools()
	metrics.RegisterDB(d, "primary", primary)
	metrics.RegisterDBWaits(d, "primary", func() (int64, time.Duration, int64) { w := db.PrimaryWaits(); return w.Waits, w.Waited, w.Timeouts })
	metrics.RegisterVideoCounts(d, sqldb.NewVideoService(db, nil).CountVideos, slog.New(slog.DiscardHandler))
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	// asynq's collector describes what it collects: a queue must exist.
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask("test:names", nil), asynq.Queue("video")); err != nil {
		t.Fatal(err)
	}
	metrics.RegisterRedisPool(d, rdb)
	metrics.RegisterQueues(d, asynq.NewInspectorFromRedisClient(rdb))
	gqlhttp.NewMetrics(d, gqlhttp.MetricsConfig{ResponseCache: gqlhttp.NewResponseCache(gqlhttp.ResponseCacheConfig{MaxBytes: 1 << 20})})
	jobs.NewMetrics(d)
	return d.names
}

// referenced matches the metric names the operations files use.
var referenced = regexp.MustCompile(`\b(?:edustream|asynq|go|process|promhttp)_[a-z0-9_]*[a-z0-9]\b`)

// Every metric the alerts, the dashboard and the operations docs name is
// one that EduStream serves (a histogram's by its _bucket, _sum or _count
// series), so a renamed metric cannot leave a dead alert behind.
func TestDeployFilesNameServedMetrics(t *testing.T) {
	t.Parallel()
	served := servedNames(t)
	for _, file := range []string{
		"../deploy/prometheus/alerts.yml",
		"../deploy/prometheus/alerts_test.yml",
		"../deploy/grafana/dashboards/edustream.json",
		"../docs/operations.md",
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := referenced.FindAllString(string(data), -1)
		if len(names) == 0 {
			t.Errorf("%s names no metric", file)
		}
		var unknown []string
		for _, n := range names {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base = strings.TrimSuffix(base, suffix)
			}
			if !served[n] && !served[base] && !slices.Contains(unknown, n) {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			t.Errorf("%s names metrics nothing serves: %v", file, unknown)
		}
	}
}
