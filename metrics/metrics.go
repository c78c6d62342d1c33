// Package metrics is EduStream's Prometheus side: the registry a process
// serves at /metrics on its own listener, and the collectors that belong
// to no one adapter: the video pipeline's moves (an
// edustream.VideoObserver), the database and Redis pools, the outbound
// calls to Webex, SNS and MediaConvert, asynq's queues, the Go runtime and
// the process. The GraphQL edge (gqlhttp) and the workers (jobs) measure
// what they do themselves, on the same registry.
//
// Names follow Prometheus's conventions: the edustream_ prefix, base units
// (seconds, bytes), _total on counters, and label values from bounded sets
// only. docs/operations.md lists them and says which to alert and scale on.
package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go runtime and process
// collectors. Each process (each run, in tests) has its own, never the
// global one, so that two in one test binary do not collide.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// scrapeTimeout bounds one scrape. Prometheus's own default timeout is
// 10 s; a slow collector (Redis down: asynq's queue sizes wait for its
// timeouts) must not pile scrapes up behind it.
const scrapeTimeout = 10 * time.Second

// Handler serves reg in the Prometheus text format (or OpenMetrics, when
// the scraper asks for it). A collector that fails is logged and left out
// of the answer; the rest is still served.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          reg, // promhttp_metric_handler_errors_total
		Timeout:           scrapeTimeout,
		EnableOpenMetrics: true,
	})
}
