package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/tracing"
)

// runMigrate applies the migrations and exits.
func runMigrate(ctx context.Context, cfg config, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("migrations applied")
	return nil
}

// runWork runs the workers until ctx ends.
func runWork(ctx context.Context, cfg config, log *slog.Logger, tr *tracing.Provider) error {
	if cfg.RedisURL == "" {
		return errors.New("work needs EDUSTREAM_REDIS_URL: an embedded Redis would be private to this process and receive no tasks (use serve, which runs the workers in-process, or dev)")
	}
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	rds, err := openRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer rds.close()
	pm := newProcessMetrics(cfg, log)
	pm.backends(db, rds)
	traceRedis(tr, rds)
	events := redis.NewEvents(rds.client, log)
	defer events.Close()
	// A worker signs no URLs, but the local store is the same store the API
	// serves, with the same key.
	var key []byte
	if cfg.S3Bucket == "" {
		if key, err = urlSigningKey(cfg, []byte(cfg.JWTSecret)); err != nil {
			return err
		}
	}
	blobs, _, err := openBlobStore(ctx, cfg, firstNonEmpty(cfg.PublicURL, "http://127.0.0.1:8080"), key, log, tr)
	if err != nil {
		return err
	}
	webexClient, err := openWebex(ctx, cfg, db, log, pm)
	if err != nil {
		return err
	}
	transcoder, err := newTranscoder(ctx, cfg, log, pm, tr)
	if err != nil {
		return err
	}
	queue := jobs.NewQueue(rds.client)
	svc := newServices(cfg, db, queue, events, blobs, webexClient)
	svc.life.Observer = pm.videoObserver()
	// A worker has no API port: the operations listener is how an
	// autoscaling group probes it.
	opsSrv, err := pm.listen(backendChecks(db, rds, webexClient))
	if err != nil {
		return err
	}
	defer opsSrv.close()
	media := newMediaTools(ctx, cfg, log)
	speech, err := newSpeech(ctx, cfg, log, media, blobs, pm, tr)
	if err != nil {
		return err
	}
	worker := newWorker(cfg, log, rds, svc, workerTools{events: events, blobs: blobs, media: media, speech: speech, transcoder: transcoder, metrics: pm.workerMetrics(rds), tracer: traceStarts(tr)})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return opsSrv.serve(gctx) })
	g.Go(func() error { return worker.Run(gctx) })
	return g.Wait()
}

// workerTools are what a worker's handlers use besides the services.
type workerTools struct {
	events     edustream.EventService
	blobs      edustream.BlobStore
	media      edustream.MediaTools
	transcoder edustream.TranscodeService
	// speech is the captions step's engine (nil: no automatic captions);
	// the services' captions store its tracks.
	speech edustream.SpeechToText
	// metrics measures the worker (nil: not measured).
	metrics *jobs.Metrics
	tracer  trace.TracerProvider
}

func newWorker(cfg config, log *slog.Logger, rds *redisBackend, svc *services, t workerTools) *jobs.Worker {
	return jobs.NewWorker(rds.client, jobs.WorkerConfig{
		Concurrency: map[string]int{
			jobs.QueueDefault:   cfg.WorkerConcurrency,
			jobs.QueueVideo:     cfg.VideoConcurrency,
			jobs.QueueVideoLong: cfg.VideoLongConcurrency,
		},
		VideoConcurrencyPerUploader: perUploader(cfg.VideoConcurrencyPerUploader),
		ShutdownTimeout:             cfg.ShutdownTimeout,
		TaskLease:                   cfg.TaskLease,
		RecoveryInterval:            cfg.RecoveryInterval,
		ReconcileInterval:           cfg.ReconcileInterval,
	}, jobs.Deps{
		Courses:    svc.courses,
		Videos:     svc.videos,
		Life:       svc.life,
		Uploads:    svc.uploads,
		Blobs:      t.blobs,
		Events:     t.events,
		Media:      t.media,
		Transcoder: t.transcoder,
		Live:       svc.live,
		// Automatic captions (issue 15).
		Speech:           t.speech,
		CaptionsLanguage: cfg.CaptionsLanguage,
		CaptionsTimeout:  cfg.CaptionsTimeout,
		Captions:         svc.captions,
		Limits:           videoLimits(cfg),
		Logger:           log,
		WorkDir:          cfg.WorkDir,
		Metrics:          t.metrics,
		Tracer:           t.tracer,
	})
}

// perUploader is EDUSTREAM_VIDEO_CONCURRENCY_PER_UPLOADER as the worker
// takes it: 0 there means no bound, which the worker spells -1.
func perUploader(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// newMediaTools returns ffmpeg, or nil when it cannot run here: the API
// still starts, says so once, and every upload then ends FAILED with
// "ffmpeg is not installed" instead of waiting for ever.
func newMediaTools(ctx context.Context, cfg config, log *slog.Logger) edustream.MediaTools {
	lim := videoLimits(cfg)
	tools := ffmpeg.New(ffmpeg.Config{
		FFmpegPath: cfg.FFmpegPath, FFprobePath: cfg.FFprobePath,
		MaxWidth: lim.MaxWidth, MaxHeight: lim.MaxHeight,
		MemoryLimit: cfg.FFmpegMemoryLimit, CPUPerSecond: cfg.FFmpegCPUPerSecond,
	})
	if err := tools.Check(ctx); err != nil {
		log.Warn("ffmpeg is not usable: uploads will fail until it is installed", "error", err)
		return nil
	}
	ffmpegPath, ffprobePath := tools.Paths()
	log.Info("transcoder", "kind", "ffmpeg", "ffmpeg", ffmpegPath, "ffprobe", ffprobePath)
	return tools
}

// runServe runs the API, and the workers too for dev, -work, or an embedded
// Redis (which no other process could reach). It returns when ctx ends and
// everything has drained.
func runServe(ctx context.Context, cmd string, cfg config, log *slog.Logger, stdout io.Writer, tr *tracing.Provider) error {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.Migrate || cmd == "dev" {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	rds, err := openRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer rds.close()
	traceRedis(tr, rds)
	if rds.embedded && !cfg.Work {
		log.Info("running the workers in-process: the embedded Redis is private to this process")
		cfg.Work = true
	}
	pm := newProcessMetrics(cfg, log)
	pm.backends(db, rds)
	events := redis.NewEvents(rds.client, log)
	defer events.Close()

	verifier, secret, err := newVerifier(ctx, cmd, cfg)
	if err != nil {
		return err
	}
	key, err := urlSigningKey(cfg, secret)
	if err != nil {
		return err
	}
	// Listen first: signed URLs name the address clients reach.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("EDUSTREAM_HTTP_ADDR: %w", err)
	}
	defer ln.Close()
	baseURL := "http://" + ln.Addr().String()
	if cfg.PublicURL != "" {
		baseURL = strings.TrimSuffix(cfg.PublicURL, "/")
	}
	blobs, blobHandler, err := openBlobStore(ctx, cfg, baseURL, key, log, tr)
	if err != nil {
		return err
	}
	cdn, err := newCDN(cfg, log)
	if err != nil {
		return err
	}
	playback, err := server.NewPlayback(server.PlaybackConfig{BaseURL: baseURL, Key: key, TTL: cfg.PlaybackTTL, Blobs: blobs, CDN: cdn,
		Captions: sqldb.NewCaptionService(db, nil)})
	if err != nil {
		return err
	}
	var media edustream.MediaTools
	var transcoder edustream.TranscodeService
	var speech edustream.SpeechToText
	if cfg.Work {
		media = newMediaTools(ctx, cfg, log)
		if transcoder, err = newTranscoder(ctx, cfg, log, pm, tr); err != nil {
			return err
		}
		if speech, err = newSpeech(ctx, cfg, log, media, blobs, pm, tr); err != nil {
			return err
		}
	}

	queue := jobs.NewQueue(rds.client)
	webexClient, err := openWebex(ctx, cfg, db, log, pm)
	if err != nil {
		return err
	}
	svc := newServices(cfg, db, queue, events, blobs, webexClient)
	svc.life.Observer = pm.videoObserver()
	pm.videoCounts(svc.videos)
	var marks edustream.WriteMarks
	if cfg.MySQLReplicaDSN != "" {
		marks = redis.NewWriteMarks(rds.client, cfg.ReadYourWritesWindow)
	}
	snsHandler, err := newSNSHandler(ctx, cfg, log, rds.client, svc.uploads, svc.transcodes, pm)
	if err != nil {
		return err
	}
	responses, err := newResponseCache(ctx, cfg, events)
	if err != nil {
		return err
	}
	auth := server.NewAuthenticator(verifier, svc.users, events)
	// The admins' view of the queues is this Redis's, whichever processes
	// run the workers.
	ops := &edustream.Operations{Tasks: jobs.NewAdmin(rds.client), Life: svc.life, Audit: svc.audit}
	gql := graph.NewHandler(graph.Config{
		Config: gqlhttp.Config{
			Introspection:  cfg.Introspection,
			AllowedOrigins: cfg.CORSOrigins,
			Auth:           auth,
			ResponseCache:  responses,
			PublicMaxAge:   publicMaxAge(cfg),
			Metrics:        pm.graphql(responses),
			// Bounds on websockets and subscriptions (issue 13).
			MaxSockets:              cfg.MaxSockets,
			MaxSocketsPerUser:       cfg.MaxSocketsPerUser,
			MaxSubscriptions:        cfg.MaxSubscriptions,
			MaxSubscriptionsPerUser: cfg.MaxSubscriptionsPerUser,
		},
		WriteMarks: marks,
	}, &graph.Resolver{
		UserService:        svc.users,
		CourseService:      svc.courses,
		LectureService:     svc.lectures,
		EnrollmentService:  svc.enrollments,
		JobQueue:           queue,
		VideoService:       svc.videos,
		Uploads:            svc.uploads,
		Events:             events,
		Playback:           playback,
		LiveSessionService: svc.sessions,
		Live:               svc.live,
		Operations:         ops,
		Progress:           svc.progress,
		Captions:           svc.captions,
		SearchService:      svc.search,
		PublicCatalog:      cfg.PublicCatalog,
	})
	checks := backendChecks(db, rds, webexClient)
	handler := server.New(server.Config{
		Logger:       log,
		GraphQL:      gql,
		Playground:   cfg.Playground,
		Auth:         auth,
		CORSOrigins:  cfg.CORSOrigins,
		Playback:     playback,
		Blobs:        blobHandler,
		SNS:          snsHandler,
		Progress:     svc.progress,
		Checks:       checks,
		WebexWebhook: webexWebhook(cfg, svc.live),
		Tracer:       traceStarts(tr),
		Propagator:   tr.Propagator(),
	})
	opsSrv, err := pm.listen(checks)
	if err != nil {
		return err
	}
	defer opsSrv.close()

	if cmd == "dev" {
		seed, err := seedDemo(ctx, svc)
		if err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
		if tools, ok := media.(*ffmpeg.Tools); ok && seed != nil {
			ffmpegPath, _ := tools.Paths()
			if err := seedDemoVideo(ctx, svc.uploads, ffmpegPath, seed); err != nil {
				// The demo works without its video.
				log.Warn("seed the demo video", "error", err)
			}
		}
		if err := printDevBanner(stdout, baseURL, opsSrv.url(), secret); err != nil {
			return err
		}
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", baseURL)

	// Websockets are hijacked, so Shutdown does not wait for them; cancelling
	// their base context ends their subscriptions instead.
	connCtx, cancelConns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelConns()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return connCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(cancelConns)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return opsSrv.serve(gctx) })
	if cfg.Work {
		worker := newWorker(cfg, log, rds, svc, workerTools{events: events, blobs: blobs, media: media, speech: speech, transcoder: transcoder, metrics: pm.workerMetrics(rds), tracer: traceStarts(tr)})
		g.Go(func() error { return worker.Run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: draining requests", "timeout", cfg.ShutdownTimeout)
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// newVerifier picks the token check: a JWKS URL, a configured secret, or in
// dev a secret generated once into the data dir so printed tokens keep
// working across restarts. It returns the secret too, for dev's tokens.
func newVerifier(ctx context.Context, cmd string, cfg config) (server.Verifier, []byte, error) {
	switch {
	case cfg.JWKSURL != "":
		v, err := server.NewJWKSVerifier(ctx, cfg.JWKSURL, cfg.JWTIssuer, cfg.JWTAudience)
		if err != nil {
			return nil, nil, fmt.Errorf("EDUSTREAM_JWT_JWKS_URL: %w", err)
		}
		return v, nil, nil
	case cfg.JWTSecret != "":
		if len(cfg.JWTSecret) < minSecretBytes {
			return nil, nil, fmt.Errorf("EDUSTREAM_JWT_SECRET must be at least %d bytes", minSecretBytes)
		}
		secret := []byte(cfg.JWTSecret)
		return server.NewHS256Verifier(secret, cfg.JWTIssuer, cfg.JWTAudience), secret, nil
	case cmd == "dev":
		secret, err := devSecret(cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		return server.NewHS256Verifier(secret, cfg.JWTIssuer, cfg.JWTAudience), secret, nil
	}
	return nil, nil, errors.New("set EDUSTREAM_JWT_SECRET (HS256) or EDUSTREAM_JWT_JWKS_URL (RS256/ES256) so the API can check tokens")
}

// newResponseCache returns the cache of shared reads, following the other
// processes' changes until ctx ends; nil when EDUSTREAM_RESPONSE_CACHE_BYTES
// is 0.
func newResponseCache(ctx context.Context, cfg config, events edustream.EventService) (*gqlhttp.ResponseCache, error) {
	if cfg.ResponseCacheBytes == 0 {
		return nil, nil
	}
	c := gqlhttp.NewResponseCache(gqlhttp.ResponseCacheConfig{MaxBytes: cfg.ResponseCacheBytes, TTL: cfg.ResponseCacheTTL, Events: events})
	// Without the other processes' changes, the cache would serve their
	// writes' old versions: no cache rather than that.
	if err := c.Listen(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// publicMaxAge turns EDUSTREAM_PUBLIC_MAX_AGE into gqlhttp.Config's, where 0
// means the default and a negative value keeps responses private.
func publicMaxAge(cfg config) time.Duration {
	if cfg.PublicMaxAge == 0 {
		return -1
	}
	return cfg.PublicMaxAge
}
