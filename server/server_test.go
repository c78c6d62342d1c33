package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// graphQLStub stands in for the GraphQL handler: it records what reached it.
type graphQLStub struct {
	mu    sync.Mutex
	calls int
	user  *edustream.User
	serve func(w http.ResponseWriter, r *http.Request) // optional
}

func (g *graphQLStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.calls++
	g.user = edustream.UserFromContext(r.Context())
	g.mu.Unlock()
	edustream.Logger(r.Context()).InfoContext(r.Context(), "graphql operation", "operation", "Me")
	if g.serve != nil {
		g.serve(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"data":{}}`)
}

func (g *graphQLStub) seen() (int, *edustream.User) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls, g.user
}

// bundle is what a server test needs: the handler and its collaborators.
type bundle struct {
	handler http.Handler
	gql     *graphQLStub
	logs    *testenv.LogBuffer
	cfg     Config
}

// setup builds the handler with a real authenticator on SQLite; edit may
// change the config first.
func setup(t *testing.T, edit func(*Config)) *bundle {
	t.Helper()
	users, _ := newUsers(t)
	b := &bundle{gql: &graphQLStub{}, logs: &testenv.LogBuffer{}}
	b.cfg = Config{
		Logger:      slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		GraphQL:     b.gql,
		Playground:  true,
		Auth:        NewAuthenticator(NewHS256Verifier(testSecret, testIssuer, testAudience), users, nil),
		CORSOrigins: []string{"https://app.edustream.test", "HTTPS://Admin.EduStream.test/"},
	}
	if edit != nil {
		edit(&b.cfg)
	}
	b.handler = New(b.cfg)
	return b
}

func (b *bundle) do(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	return w
}

func query(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ me { id } }"}`))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// graphQLErrorsOf decodes a GraphQL error response.
func graphQLErrorsOf(t *testing.T, w *httptest.ResponseRecorder) graphQLErrors {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var body graphQLErrors
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("decode error body: %v", err)
	}
	if len(body.Errors) != 1 {
		t.Fatalf("errors = %+v, want exactly one", body.Errors)
	}
	return body
}

func TestAuthMiddleware(t *testing.T) {
	t.Parallel()
	good := sign(t, jwt.SigningMethodHS256, testSecret, "", claims())
	expired := sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("exp", time.Now().Add(-time.Hour).Unix())))
	wrongKey := sign(t, jwt.SigningMethodHS256, []byte("not the secret"), "", claims())

	refused := []struct {
		name, header, message string
	}{
		{"expired", "Bearer " + expired, "token expired"},
		{"wrong key", "Bearer " + wrongKey, "token signature is invalid"},
		{"alg none", "Bearer " + unsignedToken(t, claims()), "unsupported signing algorithm none"},
		{"garbage", "Bearer garbage", "token is malformed"},
		{"basic auth", "Basic dXNlcjpwYXNz", "authorization header must be a Bearer token"},
		{"bearer without token", "Bearer ", "authorization header must be a Bearer token"},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			b := setup(t, nil)
			w := b.do(t, query("Authorization", tt.header))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", w.Code)
			}
			body := graphQLErrorsOf(t, w)
			want := graphQLError{Message: tt.message, Extensions: map[string]string{"code": "UNAUTHENTICATED"}}
			if got := body.Errors[0]; got.Message != want.Message || got.Extensions["code"] != "UNAUTHENTICATED" || len(got.Extensions) != 1 {
				t.Fatalf("error = %+v, want %+v", got, want)
			}
			if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
			if calls, _ := b.gql.seen(); calls != 0 {
				t.Fatalf("GraphQL handler called %d times for a refused token", calls)
			}
		})
	}

	t.Run("anonymous passes without a user", func(t *testing.T) {
		b := setup(t, nil)
		w := b.do(t, query())
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200", w.Code)
		}
		if calls, u := b.gql.seen(); calls != 1 || u != nil {
			t.Fatalf("GraphQL saw calls=%d user=%+v, want 1 call and no user", calls, u)
		}
	})

	t.Run("valid token puts the user in the context", func(t *testing.T) {
		b := setup(t, nil)
		for _, scheme := range []string{"Bearer", "bearer"} {
			w := b.do(t, query("Authorization", scheme+" "+good))
			if w.Code != http.StatusOK {
				t.Fatalf("%s: status = %d, want 200; body %s", scheme, w.Code, w.Body)
			}
			_, u := b.gql.seen()
			if u == nil || u.ID == 0 || u.Subject != "user-1" || u.Role != edustream.RoleInstructor || u.Name != "Ada Lovelace" {
				t.Fatalf("%s: GraphQL saw user %+v, want user-1", scheme, u)
			}
		}
		recs := b.logs.Records(t, "graphql operation")
		if len(recs) == 0 || recs[len(recs)-1]["user_id"] == nil {
			t.Fatalf("the context logger carries no user_id: %v", recs)
		}
	})

	t.Run("websocket upgrade without a header reaches GraphQL", func(t *testing.T) {
		b := setup(t, nil)
		r := httptest.NewRequest(http.MethodGet, "/query", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Protocol", "graphql-transport-ws")
		b.do(t, r)
		if calls, u := b.gql.seen(); calls != 1 || u != nil {
			t.Fatalf("GraphQL saw calls=%d user=%+v, want the upgrade with no user", calls, u)
		}
	})

	t.Run("no authenticator refuses tokens", func(t *testing.T) {
		b := setup(t, func(c *Config) { c.Auth = nil })
		if w := b.do(t, query("Authorization", "Bearer "+good)); w.Code != http.StatusInternalServerError {
			t.Fatalf("status = %d, want 500", w.Code)
		}
		if w := b.do(t, query()); w.Code != http.StatusOK {
			t.Fatalf("anonymous status = %d, want 200", w.Code)
		}
		if calls, _ := b.gql.seen(); calls != 1 {
			t.Fatalf("GraphQL handler called %d times, want only the anonymous request", calls)
		}
	})
}

func TestAuthMiddlewareInternalError(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Auth = failingAuth{errors.New("dial tcp db.internal:3306: refused")} })
	w := b.do(t, query("Authorization", "Bearer x"))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", w.Code)
	}
	if got := graphQLErrorsOf(t, w).Errors[0]; got.Message != "internal error" || got.Extensions["code"] != "INTERNAL" {
		t.Fatalf("error = %+v, want an internal error without detail", got)
	}
	if len(b.logs.Records(t, "http error")) != 1 {
		t.Fatalf("the internal error was not logged")
	}
}

type failingAuth struct{ err error }

func (f failingAuth) Authenticate(context.Context, string) (*edustream.User, error) {
	return nil, f.err
}

func TestRequestIDAndAccessLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, inbound string
		keep          bool
	}{
		{"generated", "", false},
		{"sane inbound kept", "req-7f3a.9:b_2", true},
		{"uuid kept", "3f2b7c1e-8d4a-4c6b-9e2f-1a2b3c4d5e6f", true},
		{"spaces replaced", "a b", false},
		{"header injection replaced", "abc\r\nSet-Cookie: x=1", false},
		{"too long replaced", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, nil)
			r := query()
			if tt.inbound != "" {
				r.Header[requestIDHeader] = []string{tt.inbound}
			}
			w := b.do(t, r)
			id := w.Header().Get(requestIDHeader)
			switch {
			case tt.keep && id != tt.inbound:
				t.Fatalf("request id = %q, want the inbound %q", id, tt.inbound)
			case !tt.keep && (id == tt.inbound || len(id) < 20):
				t.Fatalf("request id = %q, want a fresh random one", id)
			}

			access := b.logs.Records(t, "http request")
			if len(access) != 1 {
				t.Fatalf("access log records = %d, want 1", len(access))
			}
			rec := access[0]
			for k, want := range map[string]any{
				"method": "POST", "path": "/query", "status": float64(200),
				"bytes": float64(len(`{"data":{}}`)), "request_id": id, "level": "INFO",
			} {
				if rec[k] != want {
					t.Errorf("access log %s = %v, want %v", k, rec[k], want)
				}
			}
			if _, ok := rec["duration"]; !ok {
				t.Errorf("access log has no duration: %v", rec)
			}
			// GraphQL's own lines carry the same id through the context.
			op := b.logs.Records(t, "graphql operation")
			if len(op) != 1 || op[0]["request_id"] != id {
				t.Fatalf("GraphQL log records = %v, want one with request_id %q", op, id)
			}
		})
	}

	t.Run("query string is not logged", func(t *testing.T) {
		b := setup(t, nil)
		b.do(t, httptest.NewRequest(http.MethodGet, "/?token=secret-token", nil))
		if rec := b.logs.Records(t, "http request"); len(rec) != 1 || rec[0]["path"] != "/" {
			t.Fatalf("access log = %v, want path / only", rec)
		}
		if strings.Contains(b.logs.String(), "secret-token") {
			t.Fatal("the token from the query string reached the log")
		}
	})

	t.Run("probes log at debug", func(t *testing.T) {
		b := setup(t, nil)
		b.do(t, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec := b.logs.Records(t, "http request"); len(rec) != 1 || rec[0]["level"] != "DEBUG" {
			t.Fatalf("access log = %v, want one DEBUG record", rec)
		}
	})
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	t.Run("before the response: 500 JSON", func(t *testing.T) {
		b := setup(t, nil)
		b.gql.serve = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Encoding", "gzip")
			panic("resolver exploded")
		}
		w := b.do(t, query("Origin", "https://app.edustream.test"))
		if w.Code != http.StatusInternalServerError {
			t.Fatalf("status = %d, want 500", w.Code)
		}
		if got := graphQLErrorsOf(t, w).Errors[0]; got.Message != "internal error" || got.Extensions["code"] != "INTERNAL" {
			t.Fatalf("error = %+v, want internal error", got)
		}
		if w.Header().Get(requestIDHeader) == "" {
			t.Error("a 500 after a panic must still carry the request id")
		}
		if w.Header().Get("Access-Control-Allow-Origin") == "" {
			t.Error("a 500 after a panic lost its CORS headers; the SPA could not read it")
		}
		if ce := w.Header().Get("Content-Encoding"); ce != "" {
			t.Errorf("Content-Encoding %q set by the panicking handler survived", ce)
		}
		p := b.logs.Records(t, "panic serving request")
		if len(p) != 1 || p[0]["panic"] != "resolver exploded" || !strings.Contains(p[0]["stack"].(string), "graphQLStub") {
			t.Fatalf("panic log = %v, want the panic value and a stack naming the handler", p)
		}
		if rec := b.logs.Records(t, "http request"); len(rec) != 1 || rec[0]["status"] != float64(500) {
			t.Fatalf("access log = %v, want status 500", rec)
		}
	})

	t.Run("after the response started: connection aborted", func(t *testing.T) {
		b := setup(t, nil)
		b.gql.serve = func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"data":`)
			panic("half way")
		}
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler so net/http drops the connection", p)
			}
			if rec := b.logs.Records(t, "http request"); len(rec) != 1 || rec[0]["status"] != float64(200) {
				t.Fatalf("access log = %v, want one record", rec)
			}
		}()
		b.do(t, query())
		t.Fatal("the panic was swallowed")
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(origin, method, headers string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/query", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			r.Header.Set("Access-Control-Request-Headers", headers)
		}
		return r
	}
	tests := []struct {
		name  string
		req   *http.Request
		allow bool
	}{
		{"preflight allowed", preflight("https://app.edustream.test", "POST", "authorization, content-type"), true},
		{"preflight allowed, origin configured in capitals", preflight("https://admin.edustream.test", "POST", "Content-Type"), true},
		{"preflight unknown origin", preflight("https://evil.test", "POST", "authorization"), false},
		{"preflight other port", preflight("https://app.edustream.test:8443", "POST", ""), false},
		{"preflight extra header", preflight("https://app.edustream.test", "POST", "authorization, x-debug"), false},
		{"preflight DELETE", preflight("https://app.edustream.test", "DELETE", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, nil)
			w := b.do(t, tt.req)
			if w.Code != http.StatusNoContent {
				t.Fatalf("status = %d, want 204", w.Code)
			}
			h := w.Header()
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Allow-Credentials = %q, want none", got)
			}
			if !tt.allow {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Fatalf("denied preflight got %s: %q", k, h.Get(k))
					}
				}
				return
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.req.Header.Get("Origin") {
				t.Fatalf("Allow-Origin = %q, want %q", got, tt.req.Header.Get("Origin"))
			}
			allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
			for _, want := range []string{"authorization", "content-type"} {
				if !strings.Contains(allowed, want) {
					t.Errorf("Allow-Headers = %q, want %s", allowed, want)
				}
			}
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
				t.Errorf("Allow-Methods = %q, want POST", h.Get("Access-Control-Allow-Methods"))
			}
			if calls, _ := b.gql.seen(); calls != 0 {
				t.Errorf("the preflight reached GraphQL")
			}
		})
	}

	t.Run("actual request from an allowed origin", func(t *testing.T) {
		b := setup(t, nil)
		w := b.do(t, query("Origin", "https://app.edustream.test"))
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://app.edustream.test" {
			t.Fatalf("Allow-Origin = %q", got)
		}
		if got := w.Header().Get("Access-Control-Expose-Headers"); got != requestIDHeader {
			t.Errorf("Expose-Headers = %q, want %s", got, requestIDHeader)
		}
		if got := w.Header().Values("Vary"); len(got) == 0 || got[0] != "Origin" {
			t.Errorf("Vary = %v, want Origin", got)
		}
	})

	t.Run("actual request from an unknown origin", func(t *testing.T) {
		b := setup(t, nil)
		w := b.do(t, query("Origin", "https://evil.test"))
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Allow-Origin = %q, want none", got)
		}
	})

	t.Run("any origin", func(t *testing.T) {
		b := setup(t, func(c *Config) { c.CORSOrigins = []string{"*"} })
		w := b.do(t, preflight("https://anything.test", "POST", "authorization"))
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://anything.test" {
			t.Fatalf("Allow-Origin = %q", got)
		}
	})

	t.Run("not configured", func(t *testing.T) {
		b := setup(t, func(c *Config) { c.CORSOrigins = nil })
		w := b.do(t, query("Origin", "https://app.edustream.test"))
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Allow-Origin = %q, want none", got)
		}
	})
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	secretErr := errors.New("dial tcp 10.1.2.3:6379: connection refused")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })

	tests := []struct {
		name         string
		checks       []Check
		wantStatus   int
		wantFailed   []string
		wantDegraded []string
	}{
		{"no checks", nil, http.StatusOK, nil, nil},
		{"all pass", []Check{{Name: "database", Check: ok}, {Name: "redis", Check: ok}}, http.StatusOK, nil, nil},
		{"one fails", []Check{{Name: "database", Check: ok}, {Name: "redis", Check: func(context.Context) error { return secretErr }}}, http.StatusServiceUnavailable, []string{"redis"}, nil},
		{"two fail, in order", []Check{
			{Name: "database", Check: func(context.Context) error { return secretErr }},
			{Name: "blobs", Check: ok},
			{Name: "redis", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		}, http.StatusServiceUnavailable, []string{"database", "redis"}, nil},
		{"hangs, ignoring ctx", []Check{{Name: "s3", Check: func(context.Context) error { <-release; return nil }}}, http.StatusServiceUnavailable, []string{"s3"}, nil},
		{"panics", []Check{{Name: "webex", Check: func(context.Context) error { panic("nil map") }}}, http.StatusServiceUnavailable, []string{"webex"}, nil},
		{"nil func", []Check{{Name: "broken"}}, http.StatusServiceUnavailable, []string{"broken"}, nil},
		{"one that degrades fails", []Check{
			{Name: "database", Check: ok},
			{Name: "database replica", Check: func(context.Context) error { return secretErr }, Degrades: true},
		}, http.StatusOK, nil, []string{"database replica"}},
		{"one fails, one that degrades fails", []Check{
			{Name: "database", Check: func(context.Context) error { return secretErr }},
			{Name: "database replica", Check: func(context.Context) error { return secretErr }, Degrades: true},
		}, http.StatusServiceUnavailable, []string{"database"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) { c.Checks = tt.checks })
			start := time.Now()
			w := b.do(t, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if d := time.Since(start); d > readyTimeout+time.Second {
				t.Fatalf("/readyz took %v, want at most about %v", d, readyTimeout)
			}
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if strings.Contains(w.Body.String(), "10.1.2.3") {
				t.Fatalf("/readyz leaked error detail: %s", w.Body)
			}
			var body struct {
				Status   string   `json:"status"`
				Failed   []string `json:"failed"`
				Degraded []string `json:"degraded"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("decode %s: %v", w.Body, err)
			}
			if strings.Join(body.Failed, ",") != strings.Join(tt.wantFailed, ",") {
				t.Fatalf("failed = %v, want %v", body.Failed, tt.wantFailed)
			}
			if strings.Join(body.Degraded, ",") != strings.Join(tt.wantDegraded, ",") {
				t.Fatalf("degraded = %v, want %v", body.Degraded, tt.wantDegraded)
			}
			wantStatus := map[bool]string{true: "ok", false: "unavailable"}[len(tt.wantFailed) == 0]
			if len(tt.wantFailed) == 0 && len(tt.wantDegraded) > 0 {
				wantStatus = "degraded"
			}
			if body.Status != wantStatus {
				t.Fatalf("status %q, want %q", body.Status, wantStatus)
			}
			if len(tt.wantFailed) > 0 && len(b.logs.Records(t, "readiness check failed")) != len(tt.wantFailed) {
				t.Fatalf("failures were not each logged")
			}
			if len(tt.wantDegraded) > 0 && len(b.logs.Records(t, "readiness check degraded")) != len(tt.wantDegraded) {
				t.Fatalf("degradations were not each logged")
			}
		})
	}

	t.Run("healthz", func(t *testing.T) {
		b := setup(t, func(c *Config) {
			c.Checks = []Check{{Name: "database", Check: func(context.Context) error { return secretErr }}}
		})
		w := b.do(t, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
			t.Fatalf("healthz = %d %s, want 200 ok even with a failing dependency", w.Code, w.Body)
		}
		if w := b.do(t, httptest.NewRequest(http.MethodPost, "/healthz", nil)); w.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST /healthz = %d, want 405", w.Code)
		}
	})
}

// TestStreamingThroughMiddleware uses a real server: subscriptions need
// Flush (SSE, multipart) and Hijack (websockets) to pass through the access
// log's response wrapper.
func TestStreamingThroughMiddleware(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.gql.serve = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "websocket" {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = rw.Flush()
			return
		}
		if _, ok := w.(http.Hijacker); !ok {
			t.Error("the response writer hides http.Hijacker")
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: next\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-r.Context().Done()
	}
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)

	t.Run("flush", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/query", strings.NewReader("{}"))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "event: next\n" {
			t.Fatalf("first streamed line = %q, %v; want it before the handler returns", line, err)
		}
	})

	t.Run("hijack", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "GET /query HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
			t.Fatalf("status line = %q, %v; want 101", status, err)
		}
	})
}
