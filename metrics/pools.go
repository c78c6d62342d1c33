package metrics

import (
	"database/sql"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
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
