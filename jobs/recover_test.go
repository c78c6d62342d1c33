package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream/internal/testenv"
)

// orphan puts a task in the active state with a lease last renewed at
// renewed, and no worker alive to renew it: what a SIGKILLed worker leaves
// behind. It goes through the scheduled state so that no live worker
// dequeues it on the way.
func orphan(t *testing.T, opt asynq.RedisConnOpt, typ, id string, renewed time.Time) {
	t.Helper()
	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask(typ, nil), asynq.TaskID(id), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rdb := clientOf(t, opt)
	ctx := context.Background()
	prefix := "asynq:{" + QueueDefault + "}:"
	if n, err := rdb.ZRem(ctx, prefix+"scheduled", id).Result(); err != nil || n != 1 {
		t.Fatalf("take %s from the scheduled set: %d, %v (has asynq's layout moved?)", id, n, err)
	}
	rdb.LPush(ctx, prefix+"active", id)
	rdb.HSet(ctx, prefix+"t:"+id, "state", "active")
	rdb.ZAdd(ctx, prefix+"lease", redis.Z{Score: float64(renewed.Add(asynqLeaseDuration).Unix()), Member: id})
}

// A task whose worker died runs again within seconds; a task of a live
// worker that runs longer than the lease is left alone; a task that lost
// its worker too often is left to asynq.
func TestWorkerRecoversTaskOfDeadWorker(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	ins := newInspector(t, opt)

	// A live worker, busy with a task longer than the lease.
	liveCfg, _ := testConfig(t)
	liveCfg.TaskLease = -1 // this one recovers nothing itself
	live := liveCfg.worker(t, opt, &fakeCourses{})
	// Either worker may run the recovered task.
	ran := make(chan string, 2)
	runOrphan := func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		ran <- id
		return nil
	}
	live.mux.HandleFunc("test:orphan", runOrphan)
	busy, release := make(chan struct{}), make(chan struct{})
	live.mux.HandleFunc("test:long", func(ctx context.Context, _ *asynq.Task) error {
		close(busy)
		<-release
		return nil
	})
	runWorker(t, live)
	defer close(release)
	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("test:long", nil), asynq.TaskID("long")); err != nil {
		t.Fatal(err)
	}
	<-busy
	started := time.Now()
	// The live worker's heartbeat lists its task; its lease then looks as
	// stale as a dead worker's (a heartbeat late on a starved CPU would
	// leave it so): the listing alone must keep it.
	rdb := clientOf(t, opt)
	testenv.Eventually(t, "the live worker's heartbeat to list its task", func() bool {
		keys, err := rdb.ZRange(context.Background(), "asynq:workers", 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			if ok, _ := rdb.HExists(context.Background(), key, "long").Result(); ok {
				return true
			}
		}
		return false
	})
	// It renews the lease every 5 s; put it back at once each time, for as
	// long as the test runs, to a lease last renewed 10 s ago: stale by
	// every TaskLease allowed, not yet expired for asynq's own recoverer.
	staleUntilEnd := make(chan struct{})
	defer close(staleUntilEnd)
	go func() {
		for {
			rdb.ZAdd(context.Background(), "asynq:{"+QueueDefault+"}:lease", redis.Z{Score: float64(time.Now().Add(asynqLeaseDuration - 10*time.Second).Unix()), Member: "long"})
			select {
			case <-staleUntilEnd:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	// Two dead workers' tasks, renewed when the long one started; one of
	// them has been recovered too often already.
	orphan(t, opt, "test:orphan", "orphan", started)
	orphan(t, opt, "test:orphan", "crasher", started)
	clientOf(t, opt).Set(context.Background(), "edustream:{"+QueueDefault+"}:recovered:crasher", maxRecoveries, time.Hour)

	cfg, logs := testConfig(t)
	cfg.TaskLease = MinTaskLease
	cfg.RecoveryInterval = 100 * time.Millisecond
	w := cfg.worker(t, opt, &fakeCourses{})
	w.mux.HandleFunc("test:orphan", runOrphan)
	w.TestSignals.Init()
	runWorker(t, w)

	if got := w.TestSignals.TaskRecovered.WaitOrTimeout(t); got != (RecoveredTask{Queue: QueueDefault, ID: "orphan"}) {
		t.Fatalf("recovered %+v, want the orphan", got)
	}
	select {
	case id := <-ran:
		if id != "orphan" {
			t.Fatalf("ran %s, want the orphan", id)
		}
	case <-time.After(testenv.WaitLimit):
		t.Fatal("the recovered task did not run")
	}
	t.Logf("recovered %v after its lease was last renewed (lease %v)", time.Since(started).Round(100*time.Millisecond), cfg.TaskLease)

	// The scan that took the orphan saw the live worker's task, its lease
	// as stale as the orphan's but listed by a live heartbeat: it stays.
	info, err := ins.GetTaskInfo(QueueDefault, "long")
	if err != nil || info.State != asynq.TaskStateActive {
		t.Errorf("the live worker's task: %+v, %v; want it still active", info, err)
	}
	info, err = ins.GetTaskInfo(QueueDefault, "crasher")
	if err != nil || info.State != asynq.TaskStateActive {
		t.Errorf("the task recovered too often: %+v, %v; want it left active for asynq's recoverer", info, err)
	}
	if lines := logs.Records(t, "took back the task of a dead worker"); len(lines) != 1 || lines[0]["task_id"] != "orphan" {
		t.Errorf("recovery lines = %v, want one for the orphan", lines)
	}
	if lines := logs.Records(t, "a task lost its worker too often: left to asynq's recoverer, which counts it as a failed attempt"); len(lines) != 1 || lines[0]["task_id"] != "crasher" {
		t.Errorf("lines about the crasher = %v, want one", lines)
	}
}

// A reconciler round runs as soon as Redis comes back, and when it comes
// back empty, not at the next tick of a long interval.
func TestWorkerReconcilesWhenRedisReturns(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg, logs := testConfig(t)
	cfg.ReconcileInterval = time.Hour
	cfg.RecoveryInterval = 50 * time.Millisecond
	// The purge fails, so the course stays hidden and the reconcilers
	// always have its task to put back.
	courses := &fakeCourses{hidden: []int64{4}, purgeErr: map[int64]error{4: errors.New("not now")}}
	w := cfg.worker(t, opt, courses)
	w.TestSignals.Init()
	runWorker(t, w)
	if r := w.TestSignals.ReconcileRound.WaitOrTimeout(t); r.Trigger != "start" || r.Queued != 1 {
		t.Fatalf("first round = %+v, want the start's, queuing the purge", r)
	}

	// Lost without a moment down: the data is gone.
	if err := clientOf(t, opt).FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if r := w.TestSignals.ReconcileRound.WaitOrTimeout(t); r.Trigger != "redis empty" || r.Queued != 1 {
		t.Fatalf("round after the flush = %+v, want one for an empty Redis, queuing the purge again", r)
	}

	// Down, then back (empty).
	srv.Kill()
	testenv.Eventually(t, "the worker to see Redis down", func() bool {
		return len(logs.Records(t, "redis unreachable")) > 0
	})
	srv.Restart()
	r := w.TestSignals.ReconcileRound.WaitOrTimeout(t)
	if r.Trigger != "redis returned" || len(r.Failed) != 0 {
		t.Fatalf("round after Redis came back = %+v, want one for its return, without failures", r)
	}
	if r.Queued != 1 {
		t.Errorf("the round after Redis came back empty queued %d tasks, want the purge again", r.Queued)
	}
}
