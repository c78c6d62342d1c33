package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// Defaults of WorkerConfig.
const (
	// DefaultPollInterval is how often an idle worker asks Redis for work.
	// asynq's own default of 1 s adds about 0.4 s median pickup latency to
	// every task, and a chain of six steps pays it six times; 200 ms keeps
	// that small at five cheap commands per second per worker.
	DefaultPollInterval = 200 * time.Millisecond
	// DefaultShutdownTimeout is how long Run lets running tasks finish after
	// its context is cancelled before it hands them back to the queue
	// (asynq's default).
	DefaultShutdownTimeout = 8 * time.Second
	// DefaultReconcileInterval is how often the reconciler compares the
	// database with Redis.
	DefaultReconcileInterval = time.Minute
)

// redisPingTimeout bounds the start-up check of Redis, so a black-holed
// address fails Run instead of hanging it.
const redisPingTimeout = 5 * time.Second

// WorkerConfig configures a Worker. The zero value is usable.
type WorkerConfig struct {
	// Concurrency is how many tasks run at once (0: the number of CPUs).
	Concurrency int
	// Logger receives one line per task and asynq's own warnings (nil:
	// slog.Default()).
	Logger *slog.Logger
	// PollInterval is asynq's TaskCheckInterval, the wait between polls of
	// an empty queue (0: DefaultPollInterval).
	PollInterval time.Duration
	// ShutdownTimeout is how long running tasks may take to finish once Run's
	// context is cancelled; after it they are handed back to the queue (0:
	// DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// ReconcileInterval is the period of the reconciler, which also runs once
	// at start (0: DefaultReconcileInterval; negative: no reconciler, for
	// tests or a fleet where another process reconciles).
	ReconcileInterval time.Duration
}

// Worker runs the task handlers: the `work` side of the binary.
type Worker struct {
	redisOpt asynq.RedisConnOpt
	cfg      WorkerConfig
	courses  edustream.CourseService
	mux      *asynq.ServeMux
	running  atomic.Bool
}

// NewWorker returns a Worker that takes tasks from the Redis that redisOpt
// describes and works on courses. It does not connect yet; Run does.
func NewWorker(redisOpt asynq.RedisConnOpt, cfg WorkerConfig, courses edustream.CourseService) *Worker {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = DefaultReconcileInterval
	}
	return &Worker{
		redisOpt: redisOpt,
		cfg:      cfg,
		courses:  courses,
		mux:      newMux(cfg.Logger, courses),
	}
}

// Run checks that Redis answers, starts processing tasks and the reconciler,
// and blocks until ctx is cancelled. Then it stops taking tasks, gives the
// running ones ShutdownTimeout to finish, hands the rest back to the queue
// (asynq delivers at least once, so they run again elsewhere) and returns
// nil. An unreachable Redis is an error at once. A Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("jobs: Worker.Run called twice")
	}
	rdb := redisClient(w.redisOpt)
	defer rdb.Close()

	// asynq's Start does not touch Redis and its loops only log failures,
	// so without this check a wrong address would look like an idle worker.
	pingCtx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	err := rdb.Ping(pingCtx).Err()
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		// Told to stop while starting: that is a normal stop.
		return nil
	case err != nil:
		return fmt.Errorf("jobs: redis %s is unreachable: %w", redisAddr(rdb), err)
	}

	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: w.cfg.Concurrency,
		// Handlers keep ctx's values but not its cancellation: shutdown
		// must let running tasks finish (ShutdownTimeout), and asynq
		// cancels them itself when that runs out.
		BaseContext:       func() context.Context { return context.WithoutCancel(ctx) },
		TaskCheckInterval: w.cfg.PollInterval,
		ShutdownTimeout:   w.cfg.ShutdownTimeout,
		Logger:            newAsynqLogger(w.cfg.Logger),
		LogLevel:          asynq.WarnLevel,
		Queues:            map[string]int{queueDefault: 1},
	})
	if err := srv.Start(w.mux); err != nil {
		return fmt.Errorf("jobs: start asynq server: %w", err)
	}

	var wg sync.WaitGroup
	if w.cfg.ReconcileInterval > 0 {
		r := &reconciler{
			courses:  w.courses,
			enq:      newEnqueuer(rdb),
			logger:   w.cfg.Logger.With(slog.String("component", "reconciler")),
			interval: w.cfg.ReconcileInterval,
		}
		wg.Go(func() { r.run(ctx) })
	}

	// asynq's own start-up lines are below its warn level; this one says
	// the worker is up and how it is tuned.
	w.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "jobs worker started",
		slog.String("redis", redisAddr(rdb)),
		slog.Int("concurrency", w.cfg.Concurrency),
		slog.Duration("poll_interval", w.cfg.PollInterval),
		slog.Duration("reconcile_interval", w.cfg.ReconcileInterval))

	<-ctx.Done()
	// The reconciler shares rdb, so it stops before the connection closes.
	wg.Wait()
	srv.Shutdown()
	w.cfg.Logger.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "jobs worker stopped")
	return nil
}

// redisAddr names the Redis server for an error message.
func redisAddr(c redis.UniversalClient) string {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return fmt.Sprint(c.Options().Addrs)
	}
	return fmt.Sprintf("(%T)", c)
}
