package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testsignal"
)

// Defaults of WorkerConfig.
const (
	// DefaultPollInterval is how often an idle worker asks Redis for work.
	// asynq's own default of 1 s adds about 0.4 s median pickup latency to
	// every task, and the chain pays it at each of its six hops; at 50 ms a
	// hop's p90 is about 66 ms on this project's benchmark, for about twenty
	// cheap commands a second per queue per worker.
	DefaultPollInterval = 50 * time.Millisecond
	// DefaultShutdownTimeout is how long Run lets running tasks finish after
	// its context is cancelled before it hands them back to the queue
	// (asynq's default).
	DefaultShutdownTimeout = 8 * time.Second
	// DefaultReconcileInterval is how often the reconcilers compare the
	// database with Redis.
	DefaultReconcileInterval = time.Minute
	// DefaultConcurrency is the default queue's: short tasks that mostly
	// wait on the database and the object store.
	DefaultConcurrency = 10
)

// DefaultVideoConcurrency is the video queue's default: one ffmpeg
// transcode keeps about two cores busy, so one task per two cores.
func DefaultVideoConcurrency() int { return max(1, runtime.NumCPU()/2) }

// DefaultVideoLongConcurrency is the long videos' queue's default: half
// the video queue's default slots (one per four cores), at least one. They come on top of the video
// queue's, which stay free for short videos and the other ffmpeg steps.
func DefaultVideoLongConcurrency() int { return max(1, DefaultVideoConcurrency()/2) }

// redisPingTimeout bounds the start-up check of Redis, so a black-holed
// address fails Run instead of hanging it.
const redisPingTimeout = 5 * time.Second

// WorkerConfig configures a Worker. The zero value is usable.
type WorkerConfig struct {
	// Concurrency is how many tasks of each queue run at once (missing or
	// 0: DefaultConcurrency for the default queue, DefaultVideoConcurrency
	// for the video queue, DefaultVideoLongConcurrency for the long
	// videos'). A queue set to a negative number is not served by this
	// worker.
	Concurrency map[string]int
	// VideoConcurrencyPerUploader bounds the steps of one uploader's
	// videos running at once in the video queues, across the fleet (0:
	// DefaultVideoConcurrencyPerUploader; negative: no bound). See
	// uploaderslots.go.
	VideoConcurrencyPerUploader int
	// PollInterval is asynq's TaskCheckInterval, the wait between polls of
	// an empty queue (0: DefaultPollInterval).
	PollInterval time.Duration
	// RetryCheckInterval is asynq's DelayedTaskCheckInterval: how often
	// the tasks waiting for a retry (a dead worker's among them) are
	// moved back to their queue once their backoff is over (0: asynq's
	// 5 s). It adds up to that much to every retry's backoff.
	RetryCheckInterval time.Duration
	// ShutdownTimeout is how long running tasks may take to finish once Run's
	// context is cancelled; after it they are handed back to the queue (0:
	// DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// ReconcileInterval is the period of the reconcilers, which also run once
	// at start, when Redis answers again after failing and when it comes
	// back empty (0: DefaultReconcileInterval; negative: none, for tests or
	// a fleet where other processes reconcile).
	ReconcileInterval time.Duration
	// TaskLease is how long a running task's lease may go unrenewed
	// before its worker counts as dead and the task goes back to its queue
	// (0: DefaultTaskLease; at least MinTaskLease; negative: left to
	// asynq's own recoverer, 60 to 120 s). See recover.go.
	TaskLease time.Duration
	// RecoveryInterval is how often the worker checks Redis and the
	// leases (0: DefaultRecoveryInterval).
	RecoveryInterval time.Duration
	// StuckAfter is how long a video must have sat in a non-terminal state
	// without a change before the reconciler enqueues its step again (0:
	// no wait). Waiting is never needed for correctness: a step whose task
	// is queued, running or retrying has the same task id, so the enqueue
	// collapses into it; it only spares Redis a few lookups.
	StuckAfter time.Duration
	// TranscoderSilentAfter is how long an external transcoder's job may
	// go without a report before the reconciler asks about it (0:
	// DefaultTranscoderSilentAfter).
	TranscoderSilentAfter time.Duration
}

// Deps is everything the handlers use, in one place: adding a task family
// adds fields here, never parameters to a constructor.
type Deps struct {
	Courses edustream.CourseService
	// Videos reads videos; Life makes every move of them, and Uploads
	// expires the uploads never completed.
	Videos  edustream.VideoService
	Life    *edustream.VideoLifecycle
	Uploads *edustream.Uploads
	Blobs   edustream.BlobStore
	// Events carries the video queue's moves (the videos' own go through
	// Life).
	Events edustream.EventService
	// Media runs ffmpeg and ffprobe (nil: video tasks fail with a reason).
	Media edustream.MediaTools
	// Transcoder, if set, transcodes instead of Media: the transcode step
	// submits a job and its reports move the video on. Media still probes;
	// the thumbnails of such videos come from the job's frame captures.
	Transcoder edustream.TranscodeService
	Limits     edustream.VideoLimits
	// Speech, if set, transcribes the videos' audio in the captions step,
	// and Captions stores the tracks it makes (either nil: the step does
	// nothing). CaptionsLanguage is the language asked for (empty: "en");
	// CaptionsTimeout bounds the engine's work on one video (0:
	// DefaultCaptionsTimeout), after which the track is recorded FAILED.
	Speech           edustream.SpeechToText
	Captions         AutomaticCaptions
	CaptionsLanguage string
	CaptionsTimeout  time.Duration
	// Live runs the live-class tasks (nil: no Webex on this worker; those
	// tasks fail and are retried).
	Live *edustream.LiveClasses
	// Logger receives one line per task and asynq's own warnings (nil:
	// slog.Default()).
	Logger *slog.Logger
	// Tracer starts the span of each task (nil: none; the trace a task
	// carries still passes to the tasks it enqueues). See tracing.go.
	Tracer trace.TracerProvider
	// WorkDir holds the per-task temporary directories (empty: the
	// system's temp dir). Each process works in its own subdirectory and
	// removes those of dead processes at start.
	WorkDir string
	// Now is the clock (nil: time.Now).
	Now edustream.Clock
	// Metrics measures the tasks and the chain's steps (nil: not
	// measured).
	Metrics *Metrics

	// signals are the Worker's TestSignals, for the handlers.
	signals *WorkerTestSignals
	// slots bound each uploader's running steps (nil: no bound).
	slots *uploaderSlots
}

// WorkerTestSignals are the moments of a Worker's life that tests wait
// for, so that a test proving something did not happen waits until it had
// its chance instead of sleeping (see internal/testsignal). Each is off,
// and costs an atomic load, until a test calls Init.
type WorkerTestSignals struct {
	// ReconcileRound is sent after every round of the reconcilers, once
	// each of them has run.
	ReconcileRound testsignal.Signal[ReconcileRound]
	// TaskRecovered is sent when the worker put back the task of a dead
	// worker.
	TaskRecovered testsignal.Signal[RecoveredTask]
	// LiveSync is sent when a live meeting sync task has finished, with
	// what it did.
	LiveSync testsignal.Signal[LiveSync]
}

// Init turns every signal on. Call it before Run.
func (s *WorkerTestSignals) Init() {
	s.ReconcileRound.Init()
	s.TaskRecovered.Init()
	s.LiveSync.Init()
}

// ReconcileRound is what one round of the reconcilers did.
type ReconcileRound struct {
	// Trigger is why it ran: "start", "interval", "redis returned" or
	// "redis empty".
	Trigger string
	// Queued is how many tasks the round added that Redis did not hold.
	Queued int
	// Failed names the reconcilers that returned an error.
	Failed []string
}

// LiveSync is what one live meeting sync task did.
type LiveSync struct {
	// Repaired is how many sessions it changed to match Webex.
	Repaired int
	// Imports is how many recording imports it asked for; an import
	// that already exists, archived included, is asked for and not
	// queued again (see Queue.EnqueueRecordingImportOnce).
	Imports int
	// Err is why it failed, if it did.
	Err error
}

// Worker runs the task handlers: the `work` side of the binary.
type Worker struct {
	// TestSignals tell a test what the worker did; see WorkerTestSignals.
	TestSignals WorkerTestSignals

	rdb     redis.UniversalClient
	cfg     WorkerConfig
	deps    *Deps
	mux     *asynq.ServeMux
	enq     *enqueuer
	running atomic.Bool
	// transcodes applies what the reconciler learns of external jobs.
	transcodes *edustream.TranscodeJobs
}

// NewWorker returns a Worker that takes tasks from rdb, the process's one
// Redis client (shared, not closed). It does not connect yet; Run does.
func NewWorker(rdb redis.UniversalClient, cfg WorkerConfig, deps Deps) *Worker {
	cfg.Concurrency = maps.Clone(cfg.Concurrency)
	if cfg.Concurrency == nil {
		cfg.Concurrency = map[string]int{}
	}
	for queue, n := range map[string]int{QueueDefault: DefaultConcurrency, QueueVideo: DefaultVideoConcurrency(), QueueVideoLong: DefaultVideoLongConcurrency()} {
		if cfg.Concurrency[queue] == 0 {
			cfg.Concurrency[queue] = n
		}
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
	if cfg.TaskLease == 0 {
		cfg.TaskLease = DefaultTaskLease
	}
	if cfg.TaskLease > 0 {
		cfg.TaskLease = max(cfg.TaskLease, MinTaskLease)
	}
	if cfg.RecoveryInterval <= 0 {
		cfg.RecoveryInterval = DefaultRecoveryInterval
	}
	if cfg.TranscoderSilentAfter <= 0 {
		cfg.TranscoderSilentAfter = DefaultTranscoderSilentAfter
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	deps.Limits = deps.Limits.WithDefaults()
	w := &Worker{rdb: rdb, cfg: cfg, deps: &deps, enq: newEnqueuer(rdb)}
	w.deps.signals = &w.TestSignals
	if cfg.VideoConcurrencyPerUploader >= 0 {
		w.deps.slots = &uploaderSlots{rdb: rdb, limit: cmp.Or(cfg.VideoConcurrencyPerUploader, DefaultVideoConcurrencyPerUploader), lease: uploaderSlotLease}
	}
	w.transcodes = &edustream.TranscodeJobs{Life: deps.Life}
	w.mux = newMux(w.deps)
	return w
}

// Run checks that Redis answers, starts one asynq server per queue and the
// reconcilers, and blocks until ctx is cancelled. Then it stops taking tasks,
// gives the running ones ShutdownTimeout to finish, hands the rest back to
// the queue (asynq delivers at least once, so they run again elsewhere) and
// returns nil. An unreachable Redis is an error at once. A Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("jobs: Worker.Run called twice")
	}
	log := w.deps.Logger

	// asynq's Start does not touch Redis and its loops only log failures,
	// so without this check a wrong address would look like an idle worker.
	pingCtx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	err := w.rdb.Ping(pingCtx).Err()
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		// Told to stop while starting: that is a normal stop.
		return nil
	case err != nil:
		return fmt.Errorf("jobs: redis %s is unreachable: %w", redisAddr(w.rdb), err)
	}

	workDir, err := w.prepareWorkDir()
	if err != nil {
		return err
	}
	w.deps.WorkDir = workDir
	defer os.RemoveAll(workDir)

	// One server per queue: asynq's Concurrency is per server, and queue
	// priorities within one server would let transcodes take every slot.
	var servers []*asynq.Server
	stopAll := func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}
	for _, queue := range slices.Sorted(maps.Keys(w.cfg.Concurrency)) {
		n := w.cfg.Concurrency[queue]
		if n < 0 {
			continue
		}
		srv := asynq.NewServerFromRedisClient(w.rdb, asynq.Config{
			Concurrency: n,
			// Handlers keep ctx's values but not its cancellation: shutdown
			// must let running tasks finish (ShutdownTimeout), and asynq
			// cancels them itself when that runs out.
			BaseContext:              func() context.Context { return context.WithoutCancel(ctx) },
			TaskCheckInterval:        w.cfg.PollInterval,
			DelayedTaskCheckInterval: w.cfg.RetryCheckInterval,
			ShutdownTimeout:          w.cfg.ShutdownTimeout,
			RetryDelayFunc:           retryDelay,
			Logger:                   newAsynqLogger(log),
			LogLevel:                 asynq.WarnLevel,
			Queues:                   map[string]int{queue: 1},

			// A step put back for its uploader's turn did not fail.
			IsFailure: func(err error) bool { return !errors.Is(err, errUploaderBusy) },
		})
		if err := srv.Start(w.mux); err != nil {
			stopAll()
			return fmt.Errorf("jobs: start asynq server for queue %s: %w", queue, err)
		}
		servers = append(servers, srv)
	}

	var wg sync.WaitGroup
	reconcile := func(string) {}
	if w.cfg.ReconcileInterval > 0 {
		r := &reconcilerLoop{
			reconcilers: w.reconcilers(),
			logger:      log.With(slog.String("component", "reconciler")),
			interval:    w.cfg.ReconcileInterval,
			signal:      &w.TestSignals.ReconcileRound,
			triggers:    make(chan string, 1),
		}
		reconcile = r.trigger
		wg.Go(func() { r.run(ctx) })
	}
	m := &monitor{
		rdb:       w.rdb,
		logger:    log.With(slog.String("component", "recovery")),
		lease:     w.cfg.TaskLease,
		interval:  w.cfg.RecoveryInterval,
		reconcile: reconcile,
		recovered: &w.TestSignals.TaskRecovered,
		now:       w.deps.Now,
	}
	wg.Go(func() { m.run(ctx) })

	// asynq's own start-up lines are below its warn level; this one says
	// the worker is up and how it is tuned.
	attrs := []slog.Attr{
		slog.String("redis", redisAddr(w.rdb)),
		slog.Duration("poll_interval", w.cfg.PollInterval),
		slog.Duration("reconcile_interval", w.cfg.ReconcileInterval),
		slog.Duration("task_lease", w.cfg.TaskLease),
		slog.Duration("recovery_interval", w.cfg.RecoveryInterval),
	}
	for queue, n := range w.cfg.Concurrency {
		attrs = append(attrs, slog.Int("concurrency_"+queue, n))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "jobs worker started", attrs...)

	<-ctx.Done()
	// The reconcilers and the monitor share the Redis client, so they stop
	// first.
	wg.Wait()
	var stopping sync.WaitGroup
	for _, s := range servers {
		stopping.Go(s.Shutdown)
	}
	stopping.Wait()
	log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "jobs worker stopped")
	return nil
}

// retryDelay is asynq's backoff, except for a task whose worker died (its
// lease expired): that is nobody's fault and runs again at once; and for
// the task types with their own curve in retryDelays.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return 0
	}
	if errors.Is(err, errUploaderBusy) {
		return uploaderBusyDelay
	}
	if delay, ok := retryDelays[t.Type()]; ok {
		return delay(n)
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// prepareWorkDir makes this process's directory for task files and removes
// those left by processes that died (a SIGKILL runs no deferred cleanup).
func (w *Worker) prepareWorkDir() (string, error) {
	root := w.deps.WorkDir
	if root == "" {
		root = filepath.Join(os.TempDir(), "edustream-work")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("jobs: work dir: %w", err)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "pid-")
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err == nil {
			w.deps.Logger.Info("removed the work files of a dead worker", slog.Int("pid", pid))
		}
	}
	dir, err := os.MkdirTemp(root, fmt.Sprintf("pid-%d-", os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("jobs: work dir: %w", err)
	}
	// The name starts pid-<pid>- for the cleanup above; MkdirTemp adds a
	// suffix so two workers of one process do not share a directory.
	return dir, nil
}

// processAlive reports whether a process with pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
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
