package jobs

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream/internal/testsignal"
)

// Defaults and bounds of the recovery timers (WorkerConfig.TaskLease and
// RecoveryInterval).
const (
	// DefaultTaskLease is how long a running task's lease may go without
	// a renewal before its worker is taken for dead and the task is put
	// back at the head of its queue. asynq renews every lease every 5 s
	// and stores it in whole seconds, so a live worker has 2 s to spare;
	// and a worker whose heartbeat still lists the task (for 10 s after
	// each beat) keeps it anyway (see runByLiveWorker).
	DefaultTaskLease = 8 * time.Second
	// MinTaskLease keeps a lease longer than asynq's heartbeat (5 s, a
	// constant) and the second its storage rounds off, or live workers
	// would lose their tasks.
	MinTaskLease = asynqHeartbeat + 2*time.Second
	// DefaultRecoveryInterval is how often each worker checks Redis: that
	// it answers (a return triggers a reconciler round), that it kept its
	// data (an empty one too), and for tasks of dead workers.
	DefaultRecoveryInterval = time.Second
)

// asynq v0.26's own timers, package constants there (internal/rdb's
// LeaseDuration, the heartbeater's interval). Left alone, a task whose
// worker was SIGKILLed runs again only when its lease has been over for
// 30 s and the recoverer, once a minute, looks: 60 to 120 s later. The
// recovery below relies on the layout of asynq's keys (asynq:{queue}:lease
// and friends); TestWorkerRecoversTaskOfDeadWorker fails if an upgrade
// moves them.
const (
	asynqLeaseDuration = 30 * time.Second
	asynqHeartbeat     = 5 * time.Second
)

// maxRecoveries is how often a task is taken back from dead workers
// within recoveryMemory before it is left to asynq's own, slow recoverer,
// which counts it as a failed attempt: a task that kills its worker each
// time must not kill the whole fleet in a loop.
const (
	maxRecoveries  = 3
	recoveryMemory = 24 * time.Hour
)

// redisEpochKey marks a Redis that has seen this deployment's workers.
// Every check sets it if missing; finding it missing means Redis lost
// its data (a restart without persistence, a failover to an empty
// replica, a flush) and the reconcilers should put the work back now.
const redisEpochKey = "edustream:workers:epoch"

// requeueOrphan puts back the task of a dead worker, the way asynq's own
// Requeue does at a graceful shutdown: out of the active list and the
// lease set, onto the pending list's dequeue end. It does so only if the
// lease is still as stale as the caller saw it (a renewal in between
// means the worker lives), and at most maxRecoveries times.
//
// KEYS: active, lease, pending, task hash, recovery counter.
// ARGV: task id, lease cutoff (unix seconds), maxRecoveries, counter TTL (s).
// Returns 1 when requeued, 0 when the task is no longer orphaned, -1 when
// it was recovered too often.
var requeueOrphan = redis.NewScript(`
local score = redis.call("ZSCORE", KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
	return 0
end
local n = tonumber(redis.call("GET", KEYS[5]) or "0")
if n >= tonumber(ARGV[3]) then
	return -1
end
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then
	return 0
end
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("RPUSH", KEYS[3], ARGV[1])
redis.call("HSET", KEYS[4], "state", "pending")
redis.call("INCR", KEYS[5])
redis.call("EXPIRE", KEYS[5], ARGV[4])
return 1`)

// RecoveredTask is a task of a dead worker that a worker put back in its
// queue.
type RecoveredTask struct {
	Queue, ID string
}

// monitor is a worker's watch on Redis, every RecoveryInterval. It turns
// what it sees into events the rest of the worker acts on:
//   - Redis answers again after failing (a restart, a failover): a
//     reconciler round, since tasks enqueued meanwhile may be lost;
//   - Redis answers without the epoch key (it came back empty): a
//     reconciler round;
//   - a running task's lease has not been renewed for TaskLease: its
//     worker is dead, and the task goes back to its queue at once.
type monitor struct {
	rdb    redis.UniversalClient
	logger *slog.Logger
	// lease is WorkerConfig.TaskLease (negative: tasks of dead workers are
	// left to asynq).
	lease    time.Duration
	interval time.Duration
	// reconcile asks the reconcilers for a round now, saying why.
	reconcile func(reason string)
	recovered *testsignal.Signal[RecoveredTask]
	now       func() time.Time

	down, checked bool
	// runID is the server's, as last seen.
	runID string
	// upSince is when Redis was last seen answering after a failure (or
	// the monitor started): live workers renew their leases within a
	// heartbeat of that, so none is judged before.
	upSince time.Time
	// leftAlone are the tasks already reported as recovered too often.
	leftAlone map[string]bool
}

func (m *monitor) run(ctx context.Context) {
	m.upSince = m.now()
	m.leftAlone = map[string]bool{}
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		m.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check looks once.
func (m *monitor) check(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, max(m.interval, 2*time.Second))
	defer cancel()
	fresh, err := m.rdb.SetNX(ctx, redisEpochKey, m.now().UTC().Format(time.RFC3339), 0).Result()
	var runID string
	if err == nil {
		runID, err = m.serverRunID(ctx)
	}
	if err != nil {
		if parent.Err() != nil {
			return // shutting down
		}
		if !m.down {
			m.logger.LogAttrs(ctx, slog.LevelWarn, "redis unreachable", slog.String("error", err.Error()))
		}
		m.down = true
		return
	}
	// A client that follows a failover (Sentinel) may hide the outage
	// behind its retries; the server's run id still changes.
	switched := runID != "" && m.runID != "" && runID != m.runID
	if runID != "" {
		m.runID = runID
	}
	switch {
	case m.down || switched:
		m.down = false
		m.upSince = m.now()
		m.logger.LogAttrs(ctx, slog.LevelInfo, "redis is back: reconciling", slog.Bool("other_server", switched))
		m.reconcile("redis returned")
	case fresh && m.checked:
		// At the first check the key may be new for no reason but a first
		// run; the start-up round covers that case anyway.
		m.logger.LogAttrs(ctx, slog.LevelWarn, "redis lost its data: reconciling")
		m.reconcile("redis empty")
	}
	m.checked = true
	if m.lease > 0 && m.now().Sub(m.upSince) >= asynqHeartbeat+time.Second {
		m.recoverOrphans(ctx)
	}
}

// serverRunID returns the run id of the Redis server answering, which
// changes when it restarts or another one takes over; "" where the server
// does not say (miniredis).
func (m *monitor) serverRunID(ctx context.Context) (string, error) {
	info, err := m.rdb.Info(ctx, "server").Result()
	var reply redis.Error
	if errors.As(err, &reply) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(info) {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return id, nil
		}
	}
	return "", nil
}

// recoverOrphans puts back every running task whose lease has not been
// renewed for m.lease.
func (m *monitor) recoverOrphans(ctx context.Context) {
	queues, err := m.rdb.SMembers(ctx, "asynq:queues").Result()
	if err != nil {
		return // the next check says if Redis is down
	}
	// asynq stores a lease as its expiry in whole unix seconds: renewed at
	// t, it reads t+30 s.
	cutoff := m.now().Add(asynqLeaseDuration - m.lease).Unix()
	for _, q := range queues {
		prefix := "asynq:{" + q + "}:"
		ids, err := m.rdb.ZRangeByScore(ctx, prefix+"lease", &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(cutoff, 10)}).Result()
		if err != nil {
			return
		}
		for _, id := range ids {
			if live, err := m.runByLiveWorker(ctx, id); err != nil || live {
				continue // late, not dead; or Redis failed, and the next check says so
			}
			keys := []string{prefix + "active", prefix + "lease", prefix + "pending", prefix + "t:" + id,
				"edustream:{" + q + "}:recovered:" + id}
			res, err := requeueOrphan.Run(ctx, m.rdb, keys, id, cutoff, maxRecoveries, int(recoveryMemory.Seconds())).Int()
			switch {
			case err != nil:
				m.logger.LogAttrs(ctx, slog.LevelWarn, "could not take back the task of a dead worker",
					slog.String("queue", q), slog.String("task_id", id), slog.String("error", err.Error()))
			case res == 1:
				m.logger.LogAttrs(ctx, slog.LevelWarn, "took back the task of a dead worker",
					slog.String("queue", q), slog.String("task_id", id), slog.Duration("lease", m.lease))
				m.recovered.Signal(RecoveredTask{Queue: q, ID: id})
			case res == -1 && !m.leftAlone[q+id]:
				m.leftAlone[q+id] = true
				m.logger.LogAttrs(ctx, slog.LevelWarn, "a task lost its worker too often: left to asynq's recoverer, which counts it as a failed attempt",
					slog.String("queue", q), slog.String("task_id", id), slog.Int("recoveries", maxRecoveries))
			}
		}
	}
}

// runByLiveWorker reports whether a worker process that still beats lists
// the task as running. asynq's heartbeat writes each process's running
// tasks into asynq:workers:{host:pid:id} with a TTL of two heartbeats
// (10 s), so a worker whose lease renewal is only late (a starved CPU, a
// slow Redis) keeps its task for up to 5 s more than the lease alone would
// allow, while a SIGKILLed one's hash is gone 10 s after its last beat at
// the latest. A task too new to be listed yet is judged by its lease alone.
func (m *monitor) runByLiveWorker(ctx context.Context, taskID string) (bool, error) {
	keys, err := m.rdb.ZRangeByScore(ctx, "asynq:workers", &redis.ZRangeBy{Min: strconv.FormatInt(m.now().Unix(), 10), Max: "+inf"}).Result()
	if err != nil {
		return false, err
	}
	for _, key := range keys {
		listed, err := m.rdb.HExists(ctx, key, taskID).Result()
		if err != nil {
			return false, err
		}
		if listed {
			return true, nil
		}
	}
	return false, nil
}
