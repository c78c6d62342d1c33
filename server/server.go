// Package server is EduStream's HTTP edge: it mounts the GraphQL handler at
// /query behind bearer-token authentication, takes the players' last beats
// at /progress/beacon, serves the offline GraphiQL
// playground, the signed HLS playlists (/play/) and the local blob store
// (/blobs/), mounts the Webex webhook (/webhooks/webex) and the Amazon SNS
// endpoint (/sns), answers the load balancer's /healthz and
// /readyz, and wraps everything in request ids, access logs, panic recovery
// and CORS for the SPA origins.
//
// Tokens are JWTs: HS256 with a shared secret (NewHS256Verifier, IssueToken
// for the dev and token commands) or RS256/ES256 from a JWKS URL such as
// Cognito's (NewJWKSVerifier). NewAuthenticator turns a verified token into
// the edustream.User it names, for this package's middleware and for the
// websocket connection_init handler alike.
//
// Domain error codes become HTTP statuses and GraphQL extensions.code values
// in one place here (writeError); the GraphQL layer has its own presenter for
// errors raised inside a request.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/edustream/edustream"
)

// readyTimeout bounds one /readyz probe. Load balancers time out their
// health checks after a few seconds; an answer after that is worthless.
const readyTimeout = 2 * time.Second

// Config is what New needs. Zero values are safe: no GraphQL handler means
// /query is not mounted; no Auth lets anonymous requests through and answers
// any presented token with a 500, since that is a configuration error.
type Config struct {
	// Logger receives the access log and errors; nil means slog.Default().
	Logger *slog.Logger
	// GraphQL is mounted at /query behind the auth middleware. It also gets
	// websocket upgrades, which authenticate in connection_init.
	GraphQL http.Handler
	// Playground serves GraphiQL at / and its assets under /playground/.
	Playground bool
	// Auth verifies bearer tokens on /query.
	Auth edustream.Authenticator
	// CORSOrigins are the SPA origins (scheme://host[:port]) allowed to call
	// the API from a browser; "*" allows any. Empty means no CORS headers.
	CORSOrigins []string
	// Checks are run by /readyz.
	Checks []Check
	// Playback serves the signed HLS playlists at /play/ (nil: not mounted).
	Playback http.Handler
	// Blobs serves the local blob store's signed URLs at /blobs/ (nil: not
	// mounted; the S3 store's URLs point at S3).
	Blobs http.Handler
	// WebexWebhook receives Webex's deliveries at /webhooks/webex (nil:
	// not mounted, as when live classes are off). It checks every
	// delivery's signature itself.
	WebexWebhook http.Handler
	// SNS is the Amazon SNS endpoint at /sns (nil: not mounted). It checks
	// every message itself: SNS signs, it does not authenticate.
	SNS http.Handler
	// Tracer makes a span of every request but the probes (nil: none);
	// Propagator reads a client's trace context from its headers (nil: W3C
	// traceparent and baggage). See tracing.go.
	Tracer     trace.TracerProvider
	Propagator propagation.TextMapPropagator
	// Progress records the beats sendBeacon posts to BeaconPath, checked
	// by Auth (nil: not mounted).
	Progress WatchRecorder
}

// Check is one dependency /readyz probes, such as the database or Redis.
type Check struct {
	// Name is shown in the /readyz body when the check fails.
	Name string
	// Check returns nil when the dependency is usable. It should honour
	// ctx; /readyz stops waiting after a short timeout either way.
	Check func(context.Context) error
	// Degrades marks a dependency the instance can serve without, worse:
	// its failure makes /readyz answer 200 with status "degraded" and the
	// check named under "degraded", so the load balancer keeps the
	// instance (e.g. a read replica down: reads go to the primary).
	Degrades bool
}

// New returns the HTTP handler for the whole API.
func New(cfg Config) http.Handler {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	mux := http.NewServeMux()
	if cfg.GraphQL != nil {
		mux.Handle("/query", authenticate(cfg.Auth, cfg.GraphQL))
	}
	if cfg.Progress != nil {
		mux.Handle(BeaconPath, beacon{auth: cfg.Auth, rec: cfg.Progress})
	}
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(cfg.Checks))
	if cfg.Playground {
		mux.HandleFunc("GET /{$}", playgroundIndex)
		mux.Handle("GET /playground/", http.StripPrefix("/playground/", playgroundAssets()))
	}
	// Signed URLs carry their own authority and answer CORS for any origin
	// themselves (a browser PUTs upload parts and fetches playlists from the
	// SPA's origin), so they sit outside the API's CORS policy.
	outer := http.NewServeMux()
	outer.Handle("/", cors(cfg.CORSOrigins, mux))
	if cfg.Playback != nil {
		outer.Handle(playPrefix, cfg.Playback)
	}
	if cfg.Blobs != nil {
		outer.Handle("/blobs/", cfg.Blobs)
	}
	// Server to server, signed: no CORS, no bearer token.
	if cfg.WebexWebhook != nil {
		outer.Handle("/webhooks/webex", cfg.WebexWebhook)
	}
	if cfg.SNS != nil {
		outer.Handle("/sns", cfg.SNS)
	}
	return traceRequests(cfg, logger, outer)
}

// healthz says the process is up and serving; it checks nothing else, so a
// database outage does not make the load balancer kill healthy instances.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether this instance can serve traffic: 200 when every check
// passes, 503 naming those that failed, 200 "degraded" naming them when only
// checks that merely degrade the instance failed. The reasons go to the log
// only, because the endpoint is unauthenticated and errors can name hosts.
func readyz(checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		errs := make([]chan error, len(checks))
		for i, c := range checks {
			// Buffered, so a check that ignores ctx can finish later
			// without blocking forever.
			errs[i] = make(chan error, 1)
			go func() { errs[i] <- runCheck(ctx, c) }()
		}
		failed, degraded := []string{}, []string{}
		for i, c := range checks {
			var err error
			select {
			case err = <-errs[i]:
			case <-ctx.Done():
				err = ctx.Err()
			}
			switch {
			case err == nil:
			case c.Degrades:
				degraded = append(degraded, c.Name)
				edustream.Logger(ctx).WarnContext(ctx, "readiness check degraded", "check", c.Name, "error", err)
			default:
				failed = append(failed, c.Name)
				edustream.Logger(ctx).WarnContext(ctx, "readiness check failed", "check", c.Name, "error", err)
			}
		}
		switch {
		case len(failed) > 0:
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed})
		case len(degraded) > 0:
			writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "degraded": degraded})
		default:
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
	})
}

// runCheck turns a panicking or missing check into a failure instead of a
// crashed probe.
func runCheck(ctx context.Context, c Check) (err error) {
	if c.Check == nil {
		return errors.New("check has no function")
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	return c.Check(ctx)
}
