package server

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// requestIDHeader carries the request id in and out, so a client, a load
// balancer and our logs can name the same request.
const requestIDHeader = "X-Request-Id"

// observe is the outermost middleware: it gives the request an id, puts a
// logger carrying it into the context, writes the access log line, and turns
// a panic into a 500. Recovery lives here rather than in its own middleware
// because it needs to know what the access log knows: whether the response
// has started.
func observe(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get(requestIDHeader))
		w.Header().Set(requestIDHeader, id)
		log := logger.With("request_id", id)
		ctx := edustream.NewContextWithLogger(r.Context(), log)
		rec := &responseRecorder{ResponseWriter: w}

		defer func() {
			p := recover()
			// Too late for a clean error response once it has started:
			// then the connection is aborted below instead.
			abort := p != nil && (p == http.ErrAbortHandler || rec.started())
			if p != nil && p != http.ErrAbortHandler {
				log.ErrorContext(ctx, "panic serving request", "panic", p, "stack", string(debug.Stack()))
				if !abort {
					keepOnly(rec.Header(), requestIDHeader, "Vary",
						"Access-Control-Allow-Origin", "Access-Control-Expose-Headers")
					writeJSON(rec, http.StatusInternalServerError, errorBody("INTERNAL", "internal error"))
				}
			}
			level := slog.LevelInfo
			if isProbe(r.URL.Path) {
				// Load balancers poll these every few seconds.
				level = slog.LevelDebug
			}
			// The path only: a query string may carry a token.
			log.LogAttrs(ctx, level, "http request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rec.statusCode()),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", r.RemoteAddr),
			)
			if abort {
				// So the client cannot mistake a truncated body for a
				// whole one; net/http drops the connection without
				// logging this panic.
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// keepOnly drops the headers a handler set before it panicked (a
// Content-Encoding or Content-Type would misdescribe our error body), but
// keeps the request id and CORS headers so a browser can still read it.
func keepOnly(h http.Header, keep ...string) {
	for k := range h {
		if !slices.Contains(keep, k) {
			delete(h, k)
		}
	}
}

// requestID accepts an inbound id only if it is short and plain, since it
// ends up in headers and logs; anything else gets a fresh random one.
func requestID(inbound string) string {
	if inbound != "" && len(inbound) <= 128 && strings.IndexFunc(inbound, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':')
	}) < 0 {
		return inbound
	}
	return rand.Text()
}

func isProbe(path string) bool { return path == "/healthz" || path == "/readyz" }

// responseRecorder notes the status and size of a response for the access
// log. It passes Flush and Hijack through, because GraphQL subscriptions
// stream (SSE, multipart) and upgrade to websockets through it.
type responseRecorder struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
}

func (w *responseRecorder) WriteHeader(code int) {
	// 1xx responses (other than 101) may come before the real one.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher; it is a no-op if the underlying writer
// cannot flush.
func (w *responseRecorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker for websocket upgrades.
func (w *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		if w.status == 0 {
			w.status = http.StatusSwitchingProtocols
		}
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer for the
// controls not passed through here (deadlines, full duplex).
func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseRecorder) started() bool { return w.status != 0 || w.hijacked }

func (w *responseRecorder) statusCode() int {
	if w.status == 0 {
		// The handler wrote nothing, so net/http sends 200.
		return http.StatusOK
	}
	return w.status
}

// authenticate runs in front of /query. No Authorization header means an
// anonymous caller (a websocket upgrade carries its token in connection_init
// instead); a header with a bad token is refused here with a GraphQL-shaped
// 401, so the GraphQL handler never sees the request.
func authenticate(auth edustream.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := edustream.BearerToken(header)
		if !ok {
			writeError(w, r, unauthenticated("authorization header must be a Bearer token"))
			return
		}
		if auth == nil {
			writeError(w, r, errors.New("token presented but no authenticator is configured"))
			return
		}
		ctx := r.Context()
		u, err := auth.Authenticate(ctx, token)
		if err != nil {
			writeError(w, r, err)
			return
		}
		ctx = edustream.NewContextWithUser(ctx, u)
		ctx = edustream.NewContextWithLogger(ctx, edustream.Logger(ctx).With("user_id", u.ID))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// cors answers preflights and adds CORS headers for the SPA origins in the
// allow-list, and for no others. It is written here rather than taken from
// rs/cors or go-chi/cors because what we need is small and fixed: exact
// origins (or "*"), GET and POST, two request headers, no credentials (the
// token travels in a header, never in a cookie). An unknown origin simply gets
// no CORS headers, and the browser refuses the response.
func cors(origins []string, next http.Handler) http.Handler {
	allowed := make(map[string]bool, len(origins))
	anyOrigin := false
	for _, o := range origins {
		o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		switch o {
		case "":
		case "*":
			anyOrigin = true
		default:
			allowed[o] = true
		}
	}
	if !anyOrigin && len(allowed) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Origin")
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if origin != "" && (anyOrigin || allowed[strings.ToLower(origin)]) && corsRequestAllowed(r) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", corsMethods)
				h.Set("Access-Control-Allow-Headers", corsHeaders)
				h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
			}
			// A preflight is answered here whatever the verdict; the
			// handlers behind do not speak OPTIONS.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// Even a response without CORS headers varies by Origin, or a
		// cache could hand it to a cross-origin caller.
		h.Add("Vary", "Origin")
		if origin != "" {
			if anyOrigin || allowed[strings.ToLower(origin)] {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Expose-Headers", requestIDHeader)
			}
		}
		next.ServeHTTP(w, r)
	})
}

const (
	corsMethods = "GET, POST"
	corsHeaders = "Authorization, Content-Type"
	corsMaxAge  = 600 // seconds; Chromium caps preflight caching at 2 hours anyway
)

// corsRequestAllowed reports whether a preflight asks for nothing beyond the
// methods and headers we allow.
func corsRequestAllowed(r *http.Request) bool {
	switch r.Header.Get("Access-Control-Request-Method") {
	case http.MethodGet, http.MethodPost, http.MethodHead:
	default:
		return false
	}
	for _, line := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(line, ",") {
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "", "authorization", "content-type":
			default:
				return false
			}
		}
	}
	return true
}

// errorStatus maps domain error codes to HTTP statuses: the HTTP edge's one
// mapping. The code clients read comes from edustream.PublicCode.
var errorStatus = map[string]int{
	edustream.EUNAUTHENTICATED: http.StatusUnauthorized,
	edustream.EFORBIDDEN:       http.StatusForbidden,
	edustream.ENOTFOUND:        http.StatusNotFound,
	edustream.EINVALID:         http.StatusBadRequest,
	edustream.ECONFLICT:        http.StatusConflict,
}

// writeError writes err as a GraphQL-shaped JSON error, so a client parses
// refusals at the edge the same way as those from resolvers. Internal errors
// are logged with their detail and shown as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := edustream.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
		edustream.Logger(r.Context()).ErrorContext(r.Context(), "http error", "error", err)
	}
	if status == http.StatusUnauthorized {
		// RFC 6750 §3.
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeJSON(w, status, errorBody(edustream.PublicCode(code), edustream.ErrorMessage(err)))
}

// graphQLErrors is the body of a GraphQL response that has only errors.
type graphQLErrors struct {
	Errors []graphQLError `json:"errors"`
}

type graphQLError struct {
	Message    string            `json:"message"`
	Extensions map[string]string `json:"extensions"`
}

func errorBody(code, message string) graphQLErrors {
	return graphQLErrors{[]graphQLError{{message, map[string]string{"code": code}}}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed shapes get here.
		panic(err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
