package main

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/speech/openai"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex"
)

// config is every setting of the binary. Each comes from an EDUSTREAM_
// environment variable and may be overridden by a flag of the same name in
// kebab case (EDUSTREAM_HTTP_ADDR → -http-addr).
type config struct {
	HTTPAddr        string
	PublicURL       string
	DataDir         string
	MySQLDSN        string
	MySQLReplicaDSN string
	RedisURL        string

	// Database pools (issue 13): the bounds of each process's connections,
	// on either engine; see dbPools.
	DBMaxOpenConns        int
	DBMaxIdleConns        int // 0: DBMaxOpenConns
	DBReplicaMaxOpenConns int // 0: DBMaxOpenConns
	DBReplicaMaxIdleConns int // 0: the replica's max open
	DBConnMaxLifetime     time.Duration
	DBConnMaxIdleTime     time.Duration
	DBPoolWaitTimeout     time.Duration

	// The blob store: S3 when S3Bucket is set, else files in DataDir.
	S3Bucket         string
	S3Endpoint       string
	S3PublicEndpoint string
	S3Region         string
	S3PathStyle      bool
	// URLSigningKey signs playback and local blob URLs; the same on every
	// instance.
	URLSigningKey string
	// AWSAccessKeyID and AWSSecretAccessKey are AWS's own variables, read
	// through getenv like everything else so a run is configured by what it
	// is given; empty means the SDK's default chain (IAM roles).
	AWSAccessKeyID     string
	AWSSecretAccessKey string

	// Transcoder is "ffmpeg" (the workers run it) or "mediaconvert".
	Transcoder  string
	FFmpegPath  string
	FFprobePath string
	// FFmpeg's resource limits: address space per child, and CPU time per
	// second of the source (see package ffmpeg).
	FFmpegMemoryLimit  int64
	FFmpegCPUPerSecond time.Duration
	// MediaConvert, when Transcoder is "mediaconvert".
	MediaConvertRoleARN  string
	MediaConvertQueue    string
	MediaConvertEndpoint string
	// Automatic captions (issue 15): the captions step's speech-to-text
	// engine, "local" (ffmpeg's asr filter), "aws" (Transcribe), "openai"
	// (an OpenAI-compatible endpoint), "off", or "auto" (dev's default:
	// local when ffmpeg has asr and the model is installed).
	CaptionsEngine         string
	CaptionsLanguage       string
	CaptionsTimeout        time.Duration
	TranscribeEndpoint     string
	OpenAITranscribeURL    string
	OpenAITranscribeAPIKey string
	OpenAITranscribeModel  string
	// SNSTopicARNs are the topics /sns accepts; none: /sns is not served.
	SNSTopicARNs []string
	// CloudFront serves playback when all three are set.
	CloudFrontDomain     string
	CloudFrontKeyID      string
	CloudFrontPrivateKey string

	VideoConcurrency int

	// Fair workers: the long videos' queue's slots (jobs.QueueVideoLong)
	// and the ffmpeg tasks of one uploader running at once across the
	// fleet (0: no bound).
	VideoLongConcurrency        int
	VideoConcurrencyPerUploader int

	MaxUploadBytes   int64
	MaxVideoDuration time.Duration
	UploadTTL        time.Duration
	PlaybackTTL      time.Duration
	// WorkDir holds the workers' temporary files (empty: the system's).
	WorkDir string
	// CompletionThreshold is the watched fraction that completes a
	// lecture.
	CompletionThreshold float64

	// Live classes: Webex, with a static token or an OAuth integration
	// (unset: live classes off).
	WebexBaseURL       string
	WebexToken         string
	WebexClientID      string
	WebexClientSecret  string
	WebexRefreshToken  string
	WebexWebhookSecret string

	JWTSecret   string
	JWKSURL     string
	JWTIssuer   string
	JWTAudience string

	CORSOrigins   []string
	Playground    bool
	Introspection bool
	PublicCatalog bool

	// ResponseCacheBytes bounds the shared reads an API process holds (0:
	// none are held); ResponseCacheTTL is how long one is served at most.
	ResponseCacheBytes int64
	ResponseCacheTTL   time.Duration
	// PublicMaxAge is how long a CDN may keep what every anonymous caller
	// shares (0: it may not).
	PublicMaxAge time.Duration

	// Work runs the workers in the serve process too, as on the EC2 fleet.
	Work bool
	// Migrate applies migrations when serve starts.
	Migrate           bool
	WorkerConcurrency int
	// ReadYourWritesWindow is how long a user's reads skip the replica after
	// they wrote; longer than the replica's worst lag.
	ReadYourWritesWindow time.Duration
	ShutdownTimeout      time.Duration

	LogFormat string
	LogLevel  string

	// Redis and recovery (issue 13): a private CA for rediss://, and the
	// timers that bring work back after a worker or Redis fails.
	RedisCAFile       string
	TaskLease         time.Duration
	RecoveryInterval  time.Duration
	ReconcileInterval time.Duration

	// MetricsAddr is the operations listener's address: /metrics, and
	// /healthz and /readyz (empty: no metrics; dev: a loopback port).
	MetricsAddr string
	// MetricsOperationNames bounds the GraphQL operation names with
	// series of their own.
	MetricsOperationNames int

	// Bounds on websockets and subscriptions (issue 13), per API process
	// and per user within it.
	MaxSockets              int
	MaxSocketsPerUser       int
	MaxSubscriptions        int
	MaxSubscriptionsPerUser int
}

// devCORSOrigins are the origins dev allows by default.
var devCORSOrigins = []string{"http://localhost:5173", "http://127.0.0.1:5173", "http://localhost:3000", "http://127.0.0.1:3000"}

// setting describes one configuration entry, for parsing and for the
// README's table.
type setting struct {
	name  string // environment variable without the EDUSTREAM_ prefix
	usage string
	bind  func(fs *flag.FlagSet, flagName, usage string)
}

// defaultsFor returns the defaults of a subcommand: dev is a laptop
// (loopback, text logs, playground on), everything else is production.
func defaultsFor(cmd string) config {
	c := config{
		HTTPAddr:             ":8080",
		DataDir:              "./data",
		PublicCatalog:        true,
		ResponseCacheBytes:   64 << 20,
		ResponseCacheTTL:     gqlhttp.DefaultResponseCacheTTL,
		PublicMaxAge:         gqlhttp.DefaultPublicMaxAge,
		Migrate:              true,
		WorkerConcurrency:    10,
		ReadYourWritesWindow: 10 * time.Second,
		ShutdownTimeout:      20 * time.Second,
		S3Region:             "us-east-1",
		Transcoder:           "ffmpeg",
		FFmpegMemoryLimit:    ffmpeg.DefaultMemoryLimit,
		FFmpegCPUPerSecond:   ffmpeg.DefaultCPUPerSecond,
		CaptionsEngine:       "off",
		CaptionsLanguage:     "en",
		CaptionsTimeout:      jobs.DefaultCaptionsTimeout,
		VideoConcurrency:     jobs.DefaultVideoConcurrency(),
		MaxUploadBytes:       edustream.DefaultMaxUploadBytes,
		MaxVideoDuration:     edustream.DefaultMaxVideoDuration,
		UploadTTL:            edustream.DefaultUploadTTL,
		PlaybackTTL:          server.DefaultPlaybackTTL,
		CompletionThreshold:  edustream.DefaultCompletionThreshold,
		LogFormat:            "json",
		LogLevel:             "info",

		MetricsOperationNames: gqlhttp.DefaultMetricsOperationNames,

		// Database pools (issue 13).
		DBMaxOpenConns:    sqldb.DefaultMaxOpenConns,
		DBConnMaxLifetime: sqldb.DefaultConnMaxLifetime,
		DBConnMaxIdleTime: sqldb.DefaultConnMaxIdleTime,
		DBPoolWaitTimeout: sqldb.DefaultWaitTimeout,
		// Redis and recovery.
		TaskLease:         jobs.DefaultTaskLease,
		RecoveryInterval:  jobs.DefaultRecoveryInterval,
		ReconcileInterval: jobs.DefaultReconcileInterval,
		// Bounds on websockets and subscriptions (issue 13).
		MaxSockets:              gqlhttp.DefaultMaxSockets,
		MaxSocketsPerUser:       gqlhttp.DefaultMaxSocketsPerUser,
		MaxSubscriptions:        gqlhttp.DefaultMaxSubscriptions,
		MaxSubscriptionsPerUser: gqlhttp.DefaultMaxSubscriptionsPerUser,
	}
	// Fair workers.
	c.VideoLongConcurrency, c.VideoConcurrencyPerUploader = jobs.DefaultVideoLongConcurrency(), jobs.DefaultVideoConcurrencyPerUploader
	if cmd == "dev" {
		c.HTTPAddr = "127.0.0.1:8080"
		c.Playground = true
		c.Introspection = true
		c.LogFormat = "text"
		c.Work = true
		// A port of its own each run, printed in the banner: a fixed one
		// would clash with a second dev, or a local Prometheus.
		c.MetricsAddr = "127.0.0.1:0"
		// dev's CORS: the dev servers a local SPA usually runs on (Vite,
		// and Create React App or Next.js), so it can call dev at once.
		c.CORSOrigins = devCORSOrigins
		// Captions with nothing to download, where Debian's packages are.
		c.CaptionsEngine = "auto"
	}
	return c
}

func (c *config) settings() []setting {
	str := func(p *string) func(*flag.FlagSet, string, string) {
		return func(fs *flag.FlagSet, name, usage string) { fs.StringVar(p, name, *p, usage) }
	}
	boolean := func(p *bool) func(*flag.FlagSet, string, string) {
		return func(fs *flag.FlagSet, name, usage string) { fs.BoolVar(p, name, *p, usage) }
	}
	integer := func(p *int) func(*flag.FlagSet, string, string) {
		return func(fs *flag.FlagSet, name, usage string) { fs.IntVar(p, name, *p, usage) }
	}
	integer64 := func(p *int64) func(*flag.FlagSet, string, string) {
		return func(fs *flag.FlagSet, name, usage string) { fs.Int64Var(p, name, *p, usage) }
	}
	duration := func(p *time.Duration) func(*flag.FlagSet, string, string) {
		return func(fs *flag.FlagSet, name, usage string) { fs.DurationVar(p, name, *p, usage) }
	}
	float := func(p *float64) func(*flag.FlagSet, string, string) {
		return func(fs *flag.FlagSet, name, usage string) { fs.Float64Var(p, name, *p, usage) }
	}
	list := func(p *[]string) func(*flag.FlagSet, string, string) {
		return func(fs *flag.FlagSet, name, usage string) {
			fs.Func(name, usage, func(v string) error { *p = splitList(v); return nil })
		}
	}
	return []setting{
		{"HTTP_ADDR", "address to listen on (dev: 127.0.0.1:8080)", str(&c.HTTPAddr)},
		{"PUBLIC_URL", "URL clients reach this service at (printed links, later signed URLs)", str(&c.PublicURL)},
		{"DATA_DIR", "directory of the embedded SQLite database and dev secrets", str(&c.DataDir)},
		{"MYSQL_DSN", "MySQL/MariaDB primary DSN (unset: SQLite in DATA_DIR)", str(&c.MySQLDSN)},
		{"MYSQL_REPLICA_DSN", "MySQL/MariaDB read replica DSN (optional)", str(&c.MySQLReplicaDSN)},
		// Database pools (issue 13).
		{"DB_MAX_OPEN_CONNS", "most connections a process opens to the primary (and to the replica, unless DB_REPLICA_MAX_OPEN_CONNS); MariaDB's max_connections must exceed the fleet's sum", integer(&c.DBMaxOpenConns)},
		{"DB_MAX_IDLE_CONNS", "connections to the primary kept open while idle (0: DB_MAX_OPEN_CONNS, so a steady load does not dial again)", integer(&c.DBMaxIdleConns)},
		{"DB_REPLICA_MAX_OPEN_CONNS", "most connections a process opens to the replica (0: DB_MAX_OPEN_CONNS)", integer(&c.DBReplicaMaxOpenConns)},
		{"DB_REPLICA_MAX_IDLE_CONNS", "connections to the replica kept open while idle (0: its max open)", integer(&c.DBReplicaMaxIdleConns)},
		{"DB_CONN_MAX_LIFETIME", "how long a database connection is used before it is replaced", duration(&c.DBConnMaxLifetime)},
		{"DB_CONN_MAX_IDLE_TIME", "how long a database connection may stay idle before it is closed", duration(&c.DBConnMaxIdleTime)},
		{"DB_POOL_WAIT_TIMEOUT", "how long a request waits for a free database connection before it fails with UNAVAILABLE", duration(&c.DBPoolWaitTimeout)},
		// Redis and recovery.
		{"REDIS_URL", "Redis for the queue and events: redis://[:password@]host:6379/0, rediss://… (TLS), or Sentinel: redis://sentinel1:26379/0?master_name=NAME&addr=sentinel2:26379&addr=sentinel3:26379 (unset: in-process miniredis)", str(&c.RedisURL)},
		{"REDIS_CA_FILE", "PEM file of the CA that signs the Redis server's certificate, for a rediss:// URL with a private CA (unset: the system's roots)", str(&c.RedisCAFile)},
		{"TASK_LEASE", "how long a running task's lease may go unrenewed before its worker counts as dead and the task runs again elsewhere; at least 7s (asynq renews every 5 s); negative: asynq's own recovery, 60-120 s", duration(&c.TaskLease)},
		{"RECOVERY_INTERVAL", "how often each worker checks Redis (a return, or a return empty, starts a reconciler round) and the leases of running tasks", duration(&c.RecoveryInterval)},
		{"RECONCILE_INTERVAL", "how often the workers re-enqueue from the database what Redis lost, besides at start and when Redis comes back", duration(&c.ReconcileInterval)},
		{"S3_BUCKET", "S3 bucket for videos (unset: files under DATA_DIR/blobs, served at /blobs/)", str(&c.S3Bucket)},
		{"S3_ENDPOINT", "S3-compatible endpoint, e.g. http://seaweedfs:8333 (unset: AWS)", str(&c.S3Endpoint)},
		{"S3_PUBLIC_ENDPOINT", "endpoint browsers reach S3 at, for presigned URLs (unset: S3_ENDPOINT)", str(&c.S3PublicEndpoint)},
		{"S3_REGION", "S3 region", str(&c.S3Region)},
		{"S3_PATH_STYLE", "address buckets by path (most S3-compatible servers)", boolean(&c.S3PathStyle)},
		{"URL_SIGNING_KEY", "key of playback and blob URLs, 32+ bytes, the same on every instance (unset: derived from JWT_SECRET; dev: generated)", str(&c.URLSigningKey)},
		{"TRANSCODER", "ffmpeg (run by the workers) or mediaconvert (AWS Elemental MediaConvert; needs S3_BUCKET and MEDIACONVERT_ROLE_ARN)", str(&c.Transcoder)},
		{"FFMPEG_PATH", "ffmpeg binary (unset: ffmpeg on PATH)", str(&c.FFmpegPath)},
		{"FFPROBE_PATH", "ffprobe binary (unset: ffprobe on PATH)", str(&c.FFprobePath)},
		// ffmpeg's resource limits.
		{"FFMPEG_MEMORY_LIMIT", "address space each ffmpeg and ffprobe may map, in bytes (RLIMIT_AS)", integer64(&c.FFmpegMemoryLimit)},
		{"FFMPEG_CPU_PER_SECOND", "CPU time a transcode or thumbnail run may use per second of the source, at least a minute (RLIMIT_CPU)", duration(&c.FFmpegCPUPerSecond)},
		{"MEDIACONVERT_ROLE_ARN", "IAM role MediaConvert jobs run as: reads the sources and writes the outputs in S3_BUCKET", str(&c.MediaConvertRoleARN)},
		{"MEDIACONVERT_QUEUE", "MediaConvert queue ARN (unset: the account's Default queue)", str(&c.MediaConvertQueue)},
		{"MEDIACONVERT_ENDPOINT", "MediaConvert endpoint URL (unset: the regional endpoint of S3_REGION)", str(&c.MediaConvertEndpoint)},
		// Automatic captions (issue 15).
		{"CAPTIONS_ENGINE", "speech-to-text engine of the captions step: local (ffmpeg's asr filter with Debian's pocketsphinx-en-us; English only), aws (Amazon Transcribe; needs S3_BUCKET), openai (an OpenAI-compatible /v1/audio/transcriptions endpoint), off, or auto: local when ffmpeg has the asr filter and the model is installed, else off (dev: auto)", str(&c.CaptionsEngine)},
		{"CAPTIONS_LANGUAGE", "BCP 47 language the engine transcribes the videos in", str(&c.CaptionsLanguage)},
		{"CAPTIONS_TIMEOUT", "longest the engine may work on one video; past it the video goes on without automatic captions, the reason on its FAILED track", duration(&c.CaptionsTimeout)},
		{"TRANSCRIBE_ENDPOINT", "Amazon Transcribe endpoint URL (unset: the regional endpoint of S3_REGION)", str(&c.TranscribeEndpoint)},
		{"OPENAI_TRANSCRIBE_URL", "base URL of the OpenAI-compatible API, with its /v1, e.g. http://whisper:8000/v1 (unset: " + openai.DefaultBaseURL + ")", str(&c.OpenAITranscribeURL)},
		{"OPENAI_TRANSCRIBE_API_KEY", "bearer key of that API (unset: none, for a local server)", str(&c.OpenAITranscribeAPIKey)},
		{"OPENAI_TRANSCRIBE_MODEL", "model asked for (unset: " + openai.DefaultModel + "; faster-whisper servers name theirs, e.g. Systran/faster-whisper-small)", str(&c.OpenAITranscribeModel)},
		{"SNS_TOPIC_ARNS", "comma-separated SNS topics whose messages /sns accepts: S3 events of S3_BUCKET, MediaConvert job events (unset: no /sns)", list(&c.SNSTopicARNs)},
		{"CLOUDFRONT_DOMAIN", "CloudFront distribution that serves playback, e.g. d111111abcdef8.cloudfront.net (unset: the API and the blob store serve it)", str(&c.CloudFrontDomain)},
		{"CLOUDFRONT_KEY_ID", "ID of the CloudFront public key (in a trusted key group) that signs playback URLs", str(&c.CloudFrontKeyID)},
		{"CLOUDFRONT_PRIVATE_KEY", "PEM of that key's RSA private key (PKCS#1 or PKCS#8)", str(&c.CloudFrontPrivateKey)},
		{"VIDEO_CONCURRENCY", "ffmpeg tasks a worker process runs at once (default: one per two CPUs)", integer(&c.VideoConcurrency)},
		// Fair workers: long videos have their own slots, uploaders a share.
		{"VIDEO_LONG_CONCURRENCY", "transcodes of long videos (10 minutes and more) a worker process runs at once, in slots of their own on top of VIDEO_CONCURRENCY's (default: one per four CPUs, at least 1)", integer(&c.VideoLongConcurrency)},
		{"VIDEO_CONCURRENCY_PER_UPLOADER", "ffmpeg tasks of one uploader's videos running at once across the fleet; the uploader's others wait their turn (0: no bound)", integer(&c.VideoConcurrencyPerUploader)},
		{"MAX_UPLOAD_BYTES", "largest upload accepted, in bytes", integer64(&c.MaxUploadBytes)},
		{"MAX_VIDEO_DURATION", "longest video accepted", duration(&c.MaxVideoDuration)},
		{"UPLOAD_TTL", "how long an upload's part URLs stay valid before it is aborted", duration(&c.UploadTTL)},
		{"PLAYBACK_TTL", "how long a playback URL plays", duration(&c.PlaybackTTL)},
		{"WORK_DIR", "directory of the workers' temporary files (unset: the system's temp dir)", str(&c.WorkDir)},
		{"COMPLETION_THRESHOLD", "watched fraction of a lecture's video that completes it, above 0 and at most 1", float(&c.CompletionThreshold)},
		{"WEBEX_BASE_URL", "Webex REST API root (default " + webex.DefaultBaseURL + "; tests point it at a fake)", str(&c.WebexBaseURL)},
		{"WEBEX_TOKEN", "Webex bearer token of a bot or user (unset, and no OAuth: live classes off)", str(&c.WebexToken)},
		{"WEBEX_CLIENT_ID", "Webex integration client id, for OAuth instead of WEBEX_TOKEN", str(&c.WebexClientID)},
		{"WEBEX_CLIENT_SECRET", "Webex integration client secret", str(&c.WebexClientSecret)},
		{"WEBEX_REFRESH_TOKEN", "Webex refresh token that bootstraps OAuth; refreshed tokens are kept in the database", str(&c.WebexRefreshToken)},
		{"WEBEX_WEBHOOK_SECRET", "secret Webex signs webhook deliveries to /webhooks/webex with (unset: webhooks refused)", str(&c.WebexWebhookSecret)},
		{"JWT_SECRET", "HS256 secret for bearer tokens (dev: generated into DATA_DIR)", str(&c.JWTSecret)},
		{"JWT_JWKS_URL", "JWKS URL for RS256/ES256 tokens, e.g. Cognito's (instead of JWT_SECRET)", str(&c.JWKSURL)},
		{"JWT_ISSUER", "required token issuer (iss), if set", str(&c.JWTIssuer)},
		{"JWT_AUDIENCE", "required token audience (aud), if set", str(&c.JWTAudience)},
		{"CORS_ORIGINS", "comma-separated SPA origins allowed by CORS and websocket origin checks (dev: " + strings.Join(devCORSOrigins, ", ") + ")", list(&c.CORSOrigins)},
		{"PLAYGROUND", "serve the GraphiQL playground at / (dev: true)", boolean(&c.Playground)},
		{"INTROSPECTION", "allow GraphQL introspection (dev: true)", boolean(&c.Introspection)},
		{"PUBLIC_CATALOG", "let anonymous callers see the published catalog", boolean(&c.PublicCatalog)},
		{"RESPONSE_CACHE_BYTES", "bytes of shared read responses an API process holds (0: none)", integer64(&c.ResponseCacheBytes)},
		{"RESPONSE_CACHE_TTL", "how long a held response is served at most", duration(&c.ResponseCacheTTL)},
		{"PUBLIC_MAX_AGE", "how long a CDN may keep the GET responses every anonymous caller shares (0: private)", duration(&c.PublicMaxAge)},
		{"WORK", "serve: also run the workers in this process (dev: true)", boolean(&c.Work)},
		{"MIGRATE", "serve: apply migrations at start", boolean(&c.Migrate)},
		{"WORKER_CONCURRENCY", "short tasks (not ffmpeg) a worker process runs at once", integer(&c.WorkerConcurrency)},
		{"READ_YOUR_WRITES_WINDOW", "how long a user's reads go to the primary after they wrote", duration(&c.ReadYourWritesWindow)},
		{"SHUTDOWN_TIMEOUT", "how long SIGTERM waits for requests and tasks to drain", duration(&c.ShutdownTimeout)},
		{"LOG_FORMAT", "json or text (dev: text)", str(&c.LogFormat)},
		{"LOG_LEVEL", "debug, info, warn or error", str(&c.LogLevel)},
		{"METRICS_ADDR", "address of the operations listener, never the API's: Prometheus /metrics, /healthz and /readyz, for serve and work (unset: off; dev: 127.0.0.1:0, printed in the banner), e.g. :9464", str(&c.MetricsAddr)},
		{"METRICS_OPERATION_NAMES", "GraphQL operation names that get metric series of their own; later ones are counted as other", integer(&c.MetricsOperationNames)},
		// Bounds on websockets and subscriptions (issue 13).
		{"MAX_SOCKETS", "websockets an API process holds; more are closed with 4029", integer(&c.MaxSockets)},
		{"MAX_SOCKETS_PER_USER", "websockets of one user on an API process; more are closed with 4029 at connection_init", integer(&c.MaxSocketsPerUser)},
		{"MAX_SUBSCRIPTIONS", "subscriptions an API process runs; more are refused with LIMIT_EXCEEDED", integer(&c.MaxSubscriptions)},
		{"MAX_SUBSCRIPTIONS_PER_USER", "subscriptions of one user (or one anonymous websocket) on an API process; more are refused with LIMIT_EXCEEDED", integer(&c.MaxSubscriptionsPerUser)},
	}
}

// parseConfig reads the environment, then the flags, for subcommand cmd.
func parseConfig(cmd string, args []string, getenv func(string) string) (config, error) {
	c := defaultsFor(cmd)
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	for _, s := range c.settings() {
		// Bind first so the environment value below lands in the variable
		// the flag writes to; flags, parsed last, win.
		s.bind(fs, strings.ReplaceAll(strings.ToLower(s.name), "_", "-"), s.usage+" [EDUSTREAM_"+s.name+"]")
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := "EDUSTREAM_" + strings.ReplaceAll(strings.ToUpper(f.Name), "-", "_")
		if v := getenv(env); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%s: unexpected arguments %q", cmd, fs.Args())
	}
	c.AWSAccessKeyID, c.AWSSecretAccessKey = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	return c, c.validate()
}

func (c config) validate() error {
	switch {
	case c.LogFormat != "json" && c.LogFormat != "text":
		return fmt.Errorf("EDUSTREAM_LOG_FORMAT must be json or text, got %q", c.LogFormat)
	case c.MySQLReplicaDSN != "" && c.MySQLDSN == "":
		return errors.New("EDUSTREAM_MYSQL_REPLICA_DSN is set without EDUSTREAM_MYSQL_DSN")
	case c.JWTSecret != "" && c.JWKSURL != "":
		return errors.New("set EDUSTREAM_JWT_SECRET or EDUSTREAM_JWT_JWKS_URL, not both")
	case c.WorkerConcurrency < 1:
		return fmt.Errorf("EDUSTREAM_WORKER_CONCURRENCY must be at least 1, got %d", c.WorkerConcurrency)
	case c.VideoConcurrency < 1:
		return fmt.Errorf("EDUSTREAM_VIDEO_CONCURRENCY must be at least 1, got %d", c.VideoConcurrency)
	case c.VideoLongConcurrency < 1:
		return fmt.Errorf("EDUSTREAM_VIDEO_LONG_CONCURRENCY must be at least 1, got %d", c.VideoLongConcurrency)
	case c.VideoConcurrencyPerUploader < 0:
		return fmt.Errorf("EDUSTREAM_VIDEO_CONCURRENCY_PER_UPLOADER must be 0 (no bound) or more, got %d", c.VideoConcurrencyPerUploader)
	case c.Transcoder != "ffmpeg" && c.Transcoder != "mediaconvert":
		return fmt.Errorf("EDUSTREAM_TRANSCODER must be ffmpeg or mediaconvert, got %q", c.Transcoder)
	case c.Transcoder == "mediaconvert" && (c.S3Bucket == "" || c.MediaConvertRoleARN == ""):
		return errors.New("EDUSTREAM_TRANSCODER=mediaconvert needs EDUSTREAM_S3_BUCKET and EDUSTREAM_MEDIACONVERT_ROLE_ARN: MediaConvert reads and writes S3 as that role")
	case (c.CloudFrontDomain == "") != (c.CloudFrontKeyID == "") || (c.CloudFrontDomain == "") != (c.CloudFrontPrivateKey == ""):
		return errors.New("set EDUSTREAM_CLOUDFRONT_DOMAIN, EDUSTREAM_CLOUDFRONT_KEY_ID and EDUSTREAM_CLOUDFRONT_PRIVATE_KEY together, or none of them")
	case c.MaxUploadBytes < 1:
		return fmt.Errorf("EDUSTREAM_MAX_UPLOAD_BYTES must be positive, got %d", c.MaxUploadBytes)
	case c.MaxVideoDuration <= 0 || c.UploadTTL <= 0 || c.PlaybackTTL <= 0:
		return errors.New("EDUSTREAM_MAX_VIDEO_DURATION, EDUSTREAM_UPLOAD_TTL and EDUSTREAM_PLAYBACK_TTL must be positive")
	case !(c.CompletionThreshold > 0 && c.CompletionThreshold <= 1):
		return fmt.Errorf("EDUSTREAM_COMPLETION_THRESHOLD must be above 0 and at most 1, got %v", c.CompletionThreshold)
	case c.UploadTTL > 7*24*time.Hour:
		return errors.New("EDUSTREAM_UPLOAD_TTL must be at most 7 days, the longest a presigned S3 URL lives")
	case c.URLSigningKey != "" && len(c.URLSigningKey) < 32:
		return errors.New("EDUSTREAM_URL_SIGNING_KEY must be at least 32 bytes")
	case c.ResponseCacheBytes < 0 || c.ResponseCacheTTL <= 0 || c.PublicMaxAge < 0:
		return errors.New("EDUSTREAM_RESPONSE_CACHE_BYTES and EDUSTREAM_PUBLIC_MAX_AGE must not be negative, EDUSTREAM_RESPONSE_CACHE_TTL must be positive")
	case c.S3Bucket == "" && (c.S3Endpoint != "" || c.S3PublicEndpoint != ""):
		return errors.New("EDUSTREAM_S3_ENDPOINT is set without EDUSTREAM_S3_BUCKET")
	case c.MetricsOperationNames < 1:
		return fmt.Errorf("EDUSTREAM_METRICS_OPERATION_NAMES must be at least 1, got %d", c.MetricsOperationNames)
	// Bounds on websockets and subscriptions (issue 13).
	case c.MaxSockets < 1 || c.MaxSocketsPerUser < 1 || c.MaxSubscriptions < 1 || c.MaxSubscriptionsPerUser < 1:
		return errors.New("EDUSTREAM_MAX_SOCKETS, EDUSTREAM_MAX_SOCKETS_PER_USER, EDUSTREAM_MAX_SUBSCRIPTIONS and EDUSTREAM_MAX_SUBSCRIPTIONS_PER_USER must be at least 1")
	}
	if err := c.validateCaptions(); err != nil {
		return err
	}
	if err := c.validateRecovery(); err != nil {
		return err
	}
	// ffmpeg's resource limits.
	switch {
	case c.FFmpegMemoryLimit < ffmpeg.MinMemoryLimit:
		return fmt.Errorf("EDUSTREAM_FFMPEG_MEMORY_LIMIT must be at least %d bytes (%s): ffmpeg maps some 300 MB before it reads anything; got %d",
			ffmpeg.MinMemoryLimit, edustream.FormatBytes(ffmpeg.MinMemoryLimit), c.FFmpegMemoryLimit)
	case c.FFmpegCPUPerSecond < time.Second:
		return fmt.Errorf("EDUSTREAM_FFMPEG_CPU_PER_SECOND must be at least 1s, got %v", c.FFmpegCPUPerSecond)
	}
	if err := c.validateMetricsAddr(); err != nil {
		return err
	}
	if err := c.validateDBPools(); err != nil {
		return err
	}
	for _, arn := range c.SNSTopicARNs {
		if !snsTopicARN.MatchString(arn) {
			return fmt.Errorf("EDUSTREAM_SNS_TOPIC_ARNS: %q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", arn)
		}
	}
	return c.validateWebex()
}

// Database pools (issue 13).

// dbPools returns the bounds of the primary's pool and the replica's.
func (c config) dbPools() (primary, replica sqldb.PoolConfig) {
	primary = sqldb.PoolConfig{
		MaxOpenConns:    c.DBMaxOpenConns,
		MaxIdleConns:    c.DBMaxIdleConns,
		ConnMaxLifetime: c.DBConnMaxLifetime,
		ConnMaxIdleTime: c.DBConnMaxIdleTime,
		WaitTimeout:     c.DBPoolWaitTimeout,
	}
	replica = primary
	if c.DBReplicaMaxOpenConns > 0 {
		replica.MaxOpenConns = c.DBReplicaMaxOpenConns
	}
	replica.MaxIdleConns = c.DBReplicaMaxIdleConns // 0: its max open
	return primary, replica
}

// validateDBPools refuses bounds the pools cannot honour. Zero lifetimes
// and waits would mean "the default" to sqldb, so they are refused here
// rather than silently replaced.
func (c config) validateDBPools() error {
	if c.DBMaxOpenConns < 1 {
		return fmt.Errorf("EDUSTREAM_DB_MAX_OPEN_CONNS must be at least 1, got %d", c.DBMaxOpenConns)
	}
	if c.DBReplicaMaxOpenConns < 0 {
		return fmt.Errorf("EDUSTREAM_DB_REPLICA_MAX_OPEN_CONNS must not be negative (0: EDUSTREAM_DB_MAX_OPEN_CONNS), got %d", c.DBReplicaMaxOpenConns)
	}
	if c.DBConnMaxLifetime <= 0 || c.DBConnMaxIdleTime <= 0 || c.DBPoolWaitTimeout <= 0 {
		return errors.New("EDUSTREAM_DB_CONN_MAX_LIFETIME, EDUSTREAM_DB_CONN_MAX_IDLE_TIME and EDUSTREAM_DB_POOL_WAIT_TIMEOUT must be positive")
	}
	primary, replica := c.dbPools()
	if err := primary.Validate(); err != nil {
		return fmt.Errorf("EDUSTREAM_DB_MAX_OPEN_CONNS, EDUSTREAM_DB_MAX_IDLE_CONNS: %w", err)
	}
	if err := replica.Validate(); err != nil {
		return fmt.Errorf("EDUSTREAM_DB_REPLICA_MAX_OPEN_CONNS, EDUSTREAM_DB_REPLICA_MAX_IDLE_CONNS: %w", err)
	}
	return nil
}

// validateCaptions checks the automatic captions' settings.
func (c config) validateCaptions() error {
	switch {
	case !slices.Contains([]string{"auto", "local", "aws", "openai", "off"}, c.CaptionsEngine):
		return fmt.Errorf("EDUSTREAM_CAPTIONS_ENGINE must be auto, local, aws, openai or off, got %q", c.CaptionsEngine)
	case c.CaptionsEngine == "aws" && c.S3Bucket == "":
		return errors.New("EDUSTREAM_CAPTIONS_ENGINE=aws needs EDUSTREAM_S3_BUCKET: Transcribe reads the audio from S3 and writes the subtitles there")
	case c.CaptionsEngine == "openai" && c.OpenAITranscribeURL == "" && c.OpenAITranscribeAPIKey == "":
		return errors.New("EDUSTREAM_CAPTIONS_ENGINE=openai needs EDUSTREAM_OPENAI_TRANSCRIBE_URL (a self-hosted server) or EDUSTREAM_OPENAI_TRANSCRIBE_API_KEY (OpenAI's)")
	case c.CaptionsTimeout <= 0:
		return fmt.Errorf("EDUSTREAM_CAPTIONS_TIMEOUT must be positive, got %v", c.CaptionsTimeout)
	}
	if _, err := language.Parse(c.CaptionsLanguage); err != nil {
		return fmt.Errorf("EDUSTREAM_CAPTIONS_LANGUAGE %q is not a BCP 47 language tag: %v", c.CaptionsLanguage, err)
	}
	return nil
}

// validateRecovery checks the Redis and recovery settings.
func (c config) validateRecovery() error {
	switch {
	case c.RedisCAFile != "" && c.RedisURL == "":
		return errors.New("EDUSTREAM_REDIS_CA_FILE is set without EDUSTREAM_REDIS_URL")
	case c.TaskLease >= 0 && c.TaskLease < jobs.MinTaskLease:
		return fmt.Errorf("EDUSTREAM_TASK_LEASE must be at least %v (asynq renews leases every 5 s), or negative to leave recovery to asynq; got %v", jobs.MinTaskLease, c.TaskLease)
	case c.RecoveryInterval <= 0:
		return fmt.Errorf("EDUSTREAM_RECOVERY_INTERVAL must be positive, got %v", c.RecoveryInterval)
	case c.ReconcileInterval <= 0:
		return fmt.Errorf("EDUSTREAM_RECONCILE_INTERVAL must be positive, got %v", c.ReconcileInterval)
	}
	return nil
}

// snsTopicARN is the shape of a topic ARN in any AWS partition.
var snsTopicARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$`)

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
