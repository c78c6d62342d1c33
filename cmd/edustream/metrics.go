package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/metrics"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex"
)

// The metrics side of the wiring. A process measures itself when
// EDUSTREAM_METRICS_ADDR is set (dev: on a loopback port of its own) and
// serves what it measured, with /healthz and /readyz, on that address: an
// operations listener, never the API's port. processMetrics is nil when
// it is off; its methods are safe on nil and then hand out nothing, so the
// wiring reads the same either way.
type processMetrics struct {
	reg      *prometheus.Registry
	log      *slog.Logger
	cfg      config
	pipeline *metrics.Pipeline
	outbound *metrics.Outbound

	workerOnce sync.Once
	worker     *jobs.Metrics
}

// newProcessMetrics returns the process's metrics, or nil when
// EDUSTREAM_METRICS_ADDR is empty.
func newProcessMetrics(cfg config, log *slog.Logger) *processMetrics {
	if cfg.MetricsAddr == "" {
		return nil
	}
	reg := metrics.NewRegistry()
	return &processMetrics{
		reg:      reg,
		log:      log,
		cfg:      cfg,
		pipeline: metrics.NewPipeline(reg),
		outbound: metrics.NewOutbound(reg),
	}
}

// videoObserver is the lifecycle's observer: a nil interface when off, not
// a nil pointer in one.
func (m *processMetrics) videoObserver() edustream.VideoObserver {
	if m == nil {
		return nil
	}
	return m.pipeline
}

// graphql returns the GraphQL endpoint's measures, with those of its
// response cache, if any. Called once, by serve.
func (m *processMetrics) graphql(cache *gqlhttp.ResponseCache) *gqlhttp.Metrics {
	if m == nil {
		return nil
	}
	return gqlhttp.NewMetrics(m.reg, gqlhttp.MetricsConfig{OperationNames: m.cfg.MetricsOperationNames, ResponseCache: cache})
}

// workerMetrics returns the workers' measures, and measures the queues
// (asynq's collector) in the processes that run workers: every process
// would report the same numbers, read from Redis at every scrape.
func (m *processMetrics) workerMetrics(rdb *redisBackend) *jobs.Metrics {
	if m == nil {
		return nil
	}
	m.workerOnce.Do(func() {
		m.worker = jobs.NewMetrics(m.reg)
		metrics.RegisterQueues(m.reg, asynq.NewInspectorFromRedisClient(rdb.client))
	})
	return m.worker
}

// backends measures the pools of the database and of Redis.
func (m *processMetrics) backends(db *sqldb.DB, rdb *redisBackend) {
	if m == nil {
		return
	}
	primary, replica := db.Pools()
	metrics.RegisterDB(m.reg, "primary", primary)
	metrics.RegisterDBWaits(m.reg, "primary", poolWaits(db.PrimaryWaits))
	if replica != nil {
		metrics.RegisterDB(m.reg, "replica", replica)
		metrics.RegisterDBWaits(m.reg, "replica", poolWaits(db.ReplicaWaits))
	}
	metrics.RegisterRedisPool(m.reg, rdb.client)
}

// poolWaits adapts a pool's waits to metrics.RegisterDBWaits.
func poolWaits(get func() sqldb.PoolWaits) func() (int64, time.Duration, int64) {
	return func() (int64, time.Duration, int64) {
		w := get()
		return w.Waits, w.Waited, w.Timeouts
	}
}

// videoCounts measures the videos by status, in the API's processes (a
// worker would report the same numbers).
func (m *processMetrics) videoCounts(videos edustream.VideoService) {
	if m == nil {
		return
	}
	metrics.RegisterVideoCounts(m.reg, videos.CountVideos, m.log)
}

// httpClient returns c measured as calls to service (c unchanged when
// off).
func (m *processMetrics) httpClient(service string, c *http.Client, attempt func(*http.Request) int) *http.Client {
	if m == nil {
		return c
	}
	return m.outbound.Client(service, c, attempt)
}

// webexHTTPClient is the Webex client's HTTP client: nil (the client's
// own) when off, else one measured that, like the client's own, refuses
// redirects, so the bearer token never follows one to another host.
func (m *processMetrics) webexHTTPClient() *http.Client {
	if m == nil {
		return nil
	}
	return m.outbound.Client("webex", &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, func(r *http.Request) int { return webex.Attempt(r.Context()) })
}

// awsHTTPClient is the HTTP client of an AWS SDK client of service: nil
// (the SDK's own) when off.
func (m *processMetrics) awsHTTPClient(service string) aws.HTTPClient {
	if m == nil {
		return nil
	}
	return m.outbound.Client(service, &http.Client{}, metrics.AWSAttempt)
}

// opsListener is the operations listener of a process: /metrics, /healthz
// and /readyz.
type opsListener struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// listen opens the operations listener (nil when off), so that its
// address is known before the process says it is up.
func (m *processMetrics) listen(checks []server.Check) (*opsListener, error) {
	if m == nil {
		return nil, nil
	}
	ln, err := net.Listen("tcp", m.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_METRICS_ADDR: %w", err)
	}
	m.log.Info("metrics listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/metrics")
	return &opsListener{
		ln:  ln,
		log: m.log,
		srv: &http.Server{
			Handler:           server.Ops(metrics.Handler(m.reg, m.log), checks),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		},
	}, nil
}

// url is where the listener's metrics are, "" when off.
func (o *opsListener) url() string {
	if o == nil {
		return ""
	}
	return "http://" + o.ln.Addr().String() + "/metrics"
}

// serve answers until ctx ends, then closes the listener.
func (o *opsListener) serve(ctx context.Context) error {
	if o == nil {
		return nil
	}
	go func() {
		<-ctx.Done()
		// Scrapes and probes are short; a stuck one is not worth the wait.
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := o.srv.Shutdown(shutdownCtx); err != nil {
			o.srv.Close()
		}
	}()
	if err := o.srv.Serve(o.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics listener: %w", err)
	}
	return nil
}

// close closes a listener that will not be served (start-up failed).
func (o *opsListener) close() {
	if o != nil {
		o.ln.Close()
	}
}

// backendChecks are the /readyz checks of a process: its database, Redis
// and, with live classes on, Webex's credentials. A replica down only
// degrades the process: its reads go to the primary meanwhile.
func backendChecks(db *sqldb.DB, rdb *redisBackend, client *webex.Client) []server.Check {
	return append([]server.Check{
		{Name: "database", Check: db.PingPrimary},
		{Name: "database replica", Check: db.PingReplica, Degrades: true},
		{Name: "redis", Check: func(ctx context.Context) error { return rdb.client.Ping(ctx).Err() }},
	}, webexChecks(client)...)
}

// validateMetricsAddr refuses an operations listener on the API's port:
// the metrics and the probes are for the fleet's own network, never the
// public one.
func (c config) validateMetricsAddr() error {
	if c.MetricsAddr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(c.MetricsAddr)
	if err != nil {
		return fmt.Errorf("EDUSTREAM_METRICS_ADDR=%q: %w", c.MetricsAddr, err)
	}
	apiHost, apiPort, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil || port == "0" || port != apiPort {
		return nil // the API's own check reports its address
	}
	anyHost := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	if host == apiHost || anyHost(host) || anyHost(apiHost) || strings.EqualFold(host, "localhost") && apiHost == "127.0.0.1" {
		return fmt.Errorf("EDUSTREAM_METRICS_ADDR=%q is the API's port (EDUSTREAM_HTTP_ADDR=%q): metrics are served on a listener of their own", c.MetricsAddr, c.HTTPAddr)
	}
	return nil
}
