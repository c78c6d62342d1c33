package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

// openDatabase opens MySQL/MariaDB when EDUSTREAM_MYSQL_DSN is set and the
// embedded SQLite file in the data dir otherwise. A configured server that
// cannot be reached is an error, never a reason to fall back.
func openDatabase(ctx context.Context, cfg config, log *slog.Logger) (*sqldb.DB, error) {
	pools := sqldb.WithPools(cfg.dbPools())
	if cfg.MySQLDSN != "" {
		db, err := sqldb.OpenMySQL(ctx, cfg.MySQLDSN, cfg.MySQLReplicaDSN, pools)
		if err != nil {
			return nil, fmt.Errorf("EDUSTREAM_MYSQL_DSN: %w", err)
		}
		log.Info("database", "engine", "mysql", "replica", cfg.MySQLReplicaDSN != "", "max_open_conns", cfg.DBMaxOpenConns)
		return db, nil
	}
	path := filepath.Join(cfg.DataDir, "edustream.db")
	db, err := sqldb.OpenSQLite(ctx, path, pools)
	if err != nil {
		return nil, fmt.Errorf("embedded database %s: %w", path, err)
	}
	log.Info("database", "engine", "sqlite", "path", path)
	return db, nil
}

// redisBackend is the process's one Redis client, shared by the queue, the
// workers, the write marks and the events, with how to let it go. With the
// Sentinel form of EDUSTREAM_REDIS_URL it is go-redis's failover client,
// so all of them follow the primary the sentinels name.
type redisBackend struct {
	client   *goredis.Client
	embedded bool
	close    func()
}

// redisStartTimeout bounds the start-up check of Redis.
const redisStartTimeout = 10 * time.Second

// openRedis connects to EDUSTREAM_REDIS_URL, or starts an in-process
// miniredis when it is unset. The embedded one keeps nothing across
// restarts, which is fine: the database is the truth and the reconcilers
// re-enqueue what was pending.
func openRedis(ctx context.Context, cfg config, log *slog.Logger) (*redisBackend, error) {
	url := cfg.RedisURL
	var mini *miniredis.Miniredis
	if url == "" {
		mini = miniredis.NewMiniRedis()
		// Without clock-driven TTLs no key expires: not the write marks,
		// the SNS message log's leases, nor asynq's server heartbeats.
		mini.ClockTTL(true)
		if err := mini.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("embedded redis: %w", err)
		}
		url = "redis://" + mini.Addr()
		log.Info("redis", "embedded", true, "addr", mini.Addr())
	}
	client, err := redis.NewClient(redis.ClientConfig{URL: url, CAFile: cfg.RedisCAFile})
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_REDIS_URL: %w", err)
	}
	closeAll := func() {
		client.Close()
		if mini != nil {
			mini.Close()
		}
	}
	// Bounded: with every sentinel down, go-redis's retries through each
	// of them would otherwise take over half a minute to give up.
	pingCtx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		closeAll()
		return nil, fmt.Errorf("EDUSTREAM_REDIS_URL: redis at %s unreachable: %w", client.Endpoint, err)
	}
	if mini == nil {
		log.Info("redis", "embedded", false, "endpoint", client.Endpoint, "sentinel", client.Sentinel,
			"tls", client.Options().TLSConfig != nil, "db", client.Options().DB)
	}
	return &redisBackend{client: client.Client, embedded: mini != nil, close: closeAll}, nil
}
