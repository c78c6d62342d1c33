package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

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
// workers, the write marks and the events, with how to let it go.
type redisBackend struct {
	client   *goredis.Client
	embedded bool
	close    func()
}

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
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_REDIS_URL: %w", err)
	}
	// Maintenance notifications are a Redis Enterprise/Cloud feature; asking
	// other servers for them only adds a failed handshake to each
	// connection.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// A worker's connection also carries asynq's blocking polls; the
	// default pool (10 per CPU) is plenty, but dials should fail fast.
	opts.DialTimeout = 5 * time.Second
	client := goredis.NewClient(opts)
	closeAll := func() {
		client.Close()
		if mini != nil {
			mini.Close()
		}
	}
	if err := client.Ping(ctx).Err(); err != nil {
		closeAll()
		return nil, fmt.Errorf("EDUSTREAM_REDIS_URL: redis at %s unreachable: %w", opts.Addr, err)
	}
	if mini == nil {
		log.Info("redis", "embedded", false, "addr", opts.Addr, "db", opts.DB)
	}
	return &redisBackend{client: client, embedded: mini != nil, close: closeAll}, nil
}
