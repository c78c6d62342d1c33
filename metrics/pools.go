package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// RegisterDB registers the pool statistics of db (client_golang's go_sql_*
// metrics: open, in use and idle connections, waits and their duration)
// under db_name=name, e.g. "primary" and "replica".
func RegisterDB(reg prometheus.Registerer, name string, db *sql.DB) {
	reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// RegisterQueues registers asynq's own collector of the queues the
// inspector sees: their sizes by state, the latency of the oldest pending
// task, memory, processed and failed counts, and whether they are paused
// (asynq_*). Every process reports the same queues (they live in Redis),
// so dashboards take the max over instances, not the sum.
func RegisterQueues(reg prometheus.Registerer, inspector *asynq.Inspector) {
	reg.MustRegister(asynqmetrics.NewQueueMetricsCollector(inspector))
}

// Database pools (issue 13).

// RegisterDBWaits registers the waits for the connections of a bounded
// database pool, under db_name=name: the pool's statistics of
// RegisterDB count no waits, since the bound is kept before database/sql
// is asked for a connection. waits returns how many statements waited,
// their total wait and how many gave up.
func RegisterDBWaits(reg prometheus.Registerer, name string, waits func() (n int64, waited time.Duration, timeouts int64)) {
	// db_name is a constant label, as client_golang's DBStats collector
	// has it, so one collector per pool registers.
	labels := prometheus.Labels{"db_name": name}
	reg.MustRegister(&dbWaitCollector{
		waits: waits,
		waitsDesc: prometheus.NewDesc("edustream_db_pool_waits_total",
			"Statements (or transactions) that found every connection of the pool busy and waited.", nil, labels),
		secondsDesc: prometheus.NewDesc("edustream_db_pool_wait_seconds_total",
			"Time spent waiting for a database connection.", nil, labels),
		timeoutsDesc: prometheus.NewDesc("edustream_db_pool_timeouts_total",
			"Waits for a database connection that ran out (EDUSTREAM_DB_POOL_WAIT_TIMEOUT): the request failed with UNAVAILABLE.", nil, labels),
	})
}

type dbWaitCollector struct {
	waits                                func() (int64, time.Duration, int64)
	waitsDesc, secondsDesc, timeoutsDesc *prometheus.Desc
}

func (c *dbWaitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.waitsDesc
	ch <- c.secondsDesc
	ch <- c.timeoutsDesc
}

func (c *dbWaitCollector) Collect(ch chan<- prometheus.Metric) {
	n, waited, timeouts := c.waits()
	ch <- prometheus.MustNewConstMetric(c.waitsDesc, prometheus.CounterValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.secondsDesc, prometheus.CounterValue, waited.Seconds())
	ch <- prometheus.MustNewConstMetric(c.timeoutsDesc, prometheus.CounterValue, float64(timeouts))
}

// RegisterRedisPool registers the connection pool statistics of the
// process's Redis client.
func RegisterRedisPool(reg prometheus.Registerer, client interface{ PoolStats() *redis.PoolStats }) {
	reg.MustRegister(&redisPoolCollector{client: client})
}

var (
	redisHitsDesc = prometheus.NewDesc("edustream_redis_pool_hits_total",
		"Times a free connection was found in the Redis pool.", nil, nil)
	redisMissesDesc = prometheus.NewDesc("edustream_redis_pool_misses_total",
		"Times no free connection was found in the Redis pool and one was dialled or waited for.", nil, nil)
	redisTimeoutsDesc = prometheus.NewDesc("edustream_redis_pool_timeouts_total",
		"Times a wait for a Redis connection timed out: the pool is too small for the load.", nil, nil)
	redisWaitSecondsDesc = prometheus.NewDesc("edustream_redis_pool_wait_seconds_total",
		"Time spent waiting for a Redis connection.", nil, nil)
	redisConnsDesc = prometheus.NewDesc("edustream_redis_pool_connections",
		"Connections in the Redis pool, by state (idle or in use).", []string{"state"}, nil)
)

// redisPoolCollector reads go-redis's pool statistics at each scrape; the
// client keeps them anyway, so measuring costs the requests nothing.
type redisPoolCollector struct {
	client interface{ PoolStats() *redis.PoolStats }
}

func (c *redisPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{redisHitsDesc, redisMissesDesc, redisTimeoutsDesc, redisWaitSecondsDesc, redisConnsDesc} {
		ch <- d
	}
}

func (c *redisPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.client.PoolStats()
	ch <- prometheus.MustNewConstMetric(redisHitsDesc, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(redisMissesDesc, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(redisTimeoutsDesc, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(redisWaitSecondsDesc, prometheus.CounterValue, float64(s.WaitDurationNs)/1e9)
	idle := min(s.IdleConns, s.TotalConns)
	ch <- prometheus.MustNewConstMetric(redisConnsDesc, prometheus.GaugeValue, float64(idle), "idle")
	ch <- prometheus.MustNewConstMetric(redisConnsDesc, prometheus.GaugeValue, float64(s.TotalConns-idle), "in_use")
}

var videosDesc = prometheus.NewDesc("edustream_videos",
	"Videos of visible lectures, not replaced, by status, read from the database at each scrape.", []string{"status"}, nil)

// videoCountTimeout bounds the count a scrape makes.
const videoCountTimeout = 5 * time.Second

// RegisterVideoCounts measures how many videos are in each status, with
// count (edustream.VideoService.CountVideos) at every scrape: one grouped
// query on the replica, so a scrape every few seconds costs the database
// nothing worth noting. A failed count is logged and leaves the gauge out
// of that scrape.
func RegisterVideoCounts(reg prometheus.Registerer, count func(context.Context) (map[edustream.VideoStatus]int, error), log *slog.Logger) {
	reg.MustRegister(&videoCounter{count: count, log: log})
}

type videoCounter struct {
	count func(context.Context) (map[edustream.VideoStatus]int, error)
	log   *slog.Logger
}

func (c *videoCounter) Describe(ch chan<- *prometheus.Desc) { ch <- videosDesc }

func (c *videoCounter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), videoCountTimeout)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		c.log.Warn("count the videos by status for a scrape", slog.String("error", err.Error()))
		return
	}
	for _, status := range []edustream.VideoStatus{edustream.VideoAwaitingUpload, edustream.VideoUploaded,
		edustream.VideoProcessing, edustream.VideoReady, edustream.VideoFailed} {
		ch <- prometheus.MustNewConstMetric(videosDesc, prometheus.GaugeValue, float64(counts[status]), string(status))
	}
}
