// Package webextest is a stateful fake of the parts of the Webex Meetings
// REST API that EduStream uses, built from the published API reference:
// meetings (series, scheduled meetings, instances), recordings with
// temporary download links served by the fake itself, webhooks with signed
// deliveries, and the OAuth token endpoint.
//
// Requests are validated like the real API (title length, start and end 10
// minutes to 24 hours apart, required fields, page sizes) and refused with
// Webex-shaped error bodies carrying a trackingId; lists page through RFC
// 5988 Link headers. Tests drive what EduStream cannot: StartMeeting,
// EndMeeting, AddRecording, DeleteMeeting and MoveMeeting change state
// behind the client's back and deliver the webhooks Webex would, signed
// with each webhook's secret. Inject makes the next requests to a path fail
// (429 or 423 with Retry-After, 5xx, a dropped connection, a lost answer),
// and Requests is a log of everything received, for assertions.
//
// The fake imports nothing from package webex on purpose: it speaks JSON
// written from the API reference, so a wrong field name in the client
// fails a test instead of agreeing with itself.
package webextest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	// Meetings carry IANA time zones; the fake must know them everywhere.
	_ "time/tzdata"
)

// Config configures a Server; zero values mean the defaults.
type Config struct {
	// SiteURL is the Webex site, "edustream-fake.webex.com" by default.
	SiteURL         string
	HostEmail       string
	HostDisplayName string
	// AccessTokenLifetime and RefreshTokenLifetime are what the token
	// endpoint grants: 14 and 90 days by default, as in Webex's samples.
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	// RotateRefreshTokens makes every refresh return a new refresh token
	// and revoke the old one. By default the refresh token stays the same
	// and its validity is extended, as Webex does.
	RotateRefreshTokens bool
	// DownloadLinkLifetime is how long temporary download links work, 3
	// hours by default.
	DownloadLinkLifetime time.Duration
	// Now is the fake's clock (time.Now by default); Advance moves it.
	Now func() time.Time
	// DeliveryClient posts webhook deliveries; 10 s timeout by default.
	DeliveryClient *http.Client
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API root, like https://webexapis.com/v1: pass it as
	// webex.Config.BaseURL.
	URL string

	hs   *httptest.Server
	cfg  Config
	mux  *http.ServeMux
	site string
	org  string
	host string // host person id
	app  string

	mu         sync.Mutex
	offset     time.Duration
	clients    map[string]string // client id → secret
	refresh    map[string]*refreshGrant
	access     map[string]time.Time // token → expiry (zero: never)
	series     map[string]*meeting
	instances  map[string]*instance
	recordings map[string]*recording
	tickets    map[string]ticket
	webhooks   []*webhook
	faults     []*faultRule
	log        []Request
	deliveries []Delivery
}

// New starts a fake for a test and stops it when the test ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := Start(cfg)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake; Close stops it.
func Start(cfg Config) *Server {
	if cfg.SiteURL == "" {
		cfg.SiteURL = "edustream-fake.webex.com"
	}
	if cfg.HostEmail == "" {
		cfg.HostEmail = "live@edustream.example"
	}
	if cfg.HostDisplayName == "" {
		cfg.HostDisplayName = "EduStream Live"
	}
	if cfg.AccessTokenLifetime == 0 {
		cfg.AccessTokenLifetime = 14 * 24 * time.Hour
	}
	if cfg.RefreshTokenLifetime == 0 {
		cfg.RefreshTokenLifetime = 90 * 24 * time.Hour
	}
	if cfg.DownloadLinkLifetime == 0 {
		cfg.DownloadLinkLifetime = 3 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeliveryClient == nil {
		cfg.DeliveryClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Server{
		cfg:        cfg,
		site:       cfg.SiteURL,
		org:        sparkID("ORGANIZATION", uuid()),
		host:       sparkID("PEOPLE", uuid()),
		app:        sparkID("APPLICATION", uuid()),
		clients:    map[string]string{},
		refresh:    map[string]*refreshGrant{},
		access:     map[string]time.Time{},
		series:     map[string]*meeting{},
		instances:  map[string]*instance{},
		recordings: map[string]*recording{},
		tickets:    map[string]ticket{},
	}
	s.routes()
	s.hs = httptest.NewServer(s)
	s.URL = s.hs.URL + "/v1"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// Now is the fake's current time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return s.cfg.Now().Add(s.offset) }

// Advance moves the fake's clock forward, expiring tokens and links.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

func (s *Server) routes() {
	m := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.authorized(h)) }
	api("POST /v1/meetings", s.createMeeting)
	api("GET /v1/meetings", s.listMeetings)
	api("GET /v1/meetings/{id}", s.getMeeting)
	api("PATCH /v1/meetings/{id}", s.patchMeeting)
	api("PUT /v1/meetings/{id}", s.putMeeting)
	api("DELETE /v1/meetings/{id}", s.deleteMeeting)
	api("GET /v1/recordings", s.listRecordings)
	api("GET /v1/recordings/{id}", s.getRecording)
	api("DELETE /v1/recordings/{id}", s.deleteRecording)
	api("GET /v1/webhooks", s.listWebhooks)
	api("POST /v1/webhooks", s.createWebhook)
	api("GET /v1/webhooks/{id}", s.getWebhook)
	api("PUT /v1/webhooks/{id}", s.putWebhook)
	api("DELETE /v1/webhooks/{id}", s.deleteWebhook)
	m.HandleFunc("POST /v1/access_token", s.accessToken)
	m.HandleFunc("GET /nbr/MultiThreadDownloadServlet", s.download)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, "The requested resource could not be found.")
	})
	s.mux = m
}

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is relative to the API root ("/meetings/abc"); other paths (the
	// download servlet) are as received.
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Status is the answer, 0 when the connection was dropped.
	Status int
	At     time.Time
}

// JSON decodes the request body into v, failing the test if it cannot.
func (r Request) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s %s: body %q: %v", r.Method, r.Path, r.Body, err)
	}
}

// Requests returns the requests received so far whose method and path
// match (an empty method matches any; pattern is a path.Match pattern
// relative to the API root, "" matches any).
func (s *Server) Requests(method, pattern string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.log {
		if matches(method, pattern, r.Method, r.Path) {
			out = append(out, r)
		}
	}
	return out
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

func matches(method, pattern, gotMethod, gotPath string) bool {
	if method != "" && method != gotMethod {
		return false
	}
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, gotPath)
	return ok
}

// Fault is what Inject makes the fake do instead of answering normally.
type Fault struct {
	// Status answers with this status and a Webex error body (or Body).
	Status int
	// RetryAfter is the raw Retry-After header to send with Status.
	RetryAfter string
	Body       string
	// Drop closes the connection without an answer.
	Drop bool
	// Apply lets the request take effect before Status or Drop: the answer
	// is lost, not the request.
	Apply bool
	// Delay waits before doing anything else (or until the client gives
	// up).
	Delay time.Duration
	// Header adds headers to the Status answer; a nil value removes one
	// (Header{"Date": nil} sends no Date).
	Header http.Header
}

type faultRule struct {
	method, pattern string
	remaining       int
	fault           Fault
}

// Inject makes the next n requests matching method and pattern (as for
// Requests) meet f. Rules apply in the order they were injected.
func (s *Server) Inject(method, pattern string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{method: method, pattern: pattern, remaining: n, fault: f})
}

// RateLimit answers the next n matching requests with 429 and retryAfter.
func (s *Server) RateLimit(method, pattern string, n int, retryAfter string) {
	s.Inject(method, pattern, n, Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// Fail answers the next n matching requests with status.
func (s *Server) Fail(method, pattern string, n, status int) {
	s.Inject(method, pattern, n, Fault{Status: status})
}

// DropConnection closes the connection of the next n matching requests;
// with apply the request takes effect first.
func (s *Server) DropConnection(method, pattern string, n int, apply bool) {
	s.Inject(method, pattern, n, Fault{Drop: true, Apply: apply})
}

func (s *Server) takeFault(method, p string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.remaining > 0 && matches(f.method, f.pattern, method, p) {
			f.remaining--
			if f.remaining == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			fault := f.fault
			return &fault
		}
	}
	return nil
}

// ServeHTTP logs the request, applies injected faults, then serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	rel := r.URL.Path
	if p, ok := strings.CutPrefix(rel, "/v1"); ok && (p == "" || p[0] == '/') {
		rel = p
	}
	entry := Request{Method: r.Method, Path: rel, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, At: s.Now()}
	// The entry is logged before the answer leaves (or the connection is
	// dropped), so a client that has its answer finds its request logged.
	var once sync.Once
	record := func(status int) {
		once.Do(func() {
			entry.Status = status
			s.mu.Lock()
			s.log = append(s.log, entry)
			s.mu.Unlock()
		})
	}
	rec := &statusWriter{ResponseWriter: w, record: record}
	defer record(0) // the client went away before any answer

	if f := s.takeFault(r.Method, rel); f != nil {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Apply {
			r2 := r.Clone(r.Context())
			r2.Body = io.NopCloser(bytes.NewReader(body))
			s.mux.ServeHTTP(httptest.NewRecorder(), r2)
		}
		switch {
		case f.Drop:
			record(0)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return
		case f.Status != 0:
			if f.RetryAfter != "" {
				rec.Header().Set("Retry-After", f.RetryAfter)
			}
			for k, v := range f.Header {
				rec.Header()[http.CanonicalHeaderKey(k)] = v
			}
			if f.Body != "" {
				tid := trackingID()
				rec.Header().Set("TrackingID", tid)
				rec.Header().Set("Content-Type", "application/json;charset=UTF-8")
				rec.WriteHeader(f.Status)
				io.WriteString(rec, f.Body)
				return
			}
			s.writeError(rec, f.Status, faultMessage(f.Status))
			return
		}
	}
	s.mux.ServeHTTP(rec, r)
}

func faultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Too Many Requests"
	case http.StatusLocked:
		return "The requested resource is temporarily unavailable."
	}
	return http.StatusText(status)
}

// statusWriter logs the request when the status is written.
type statusWriter struct {
	http.ResponseWriter
	record func(status int)
}

func (w *statusWriter) WriteHeader(code int) {
	w.record(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.record(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// authorized refuses requests without a live access token, with the
// answer Webex gives.
func (s *Server) authorized(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.access[tok]
		live := ok && known && (exp.IsZero() || s.now().Before(exp))
		s.mu.Unlock()
		if !live {
			s.writeError(w, http.StatusUnauthorized,
				"The request requires a valid access token set in the Authorization request header.")
			return
		}
		h(w, r)
	})
}

// errorBody is the shape of every Webex error.
type errorBody struct {
	Message string        `json:"message"`
	Errors  []description `json:"errors"`
	// The token endpoint adds the OAuth fields.
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	TrackingID       string `json:"trackingId"`
}

type description struct {
	Description string `json:"description"`
}

func (s *Server) writeError(w http.ResponseWriter, status int, message string, descriptions ...string) {
	b := errorBody{Message: message, TrackingID: trackingID()}
	if len(descriptions) == 0 {
		descriptions = []string{message}
	}
	for _, d := range descriptions {
		b.Errors = append(b.Errors, description{d})
	}
	s.writeJSONWith(w, status, b, b.TrackingID)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	s.writeJSONWith(w, status, v, trackingID())
}

func (s *Server) writeJSONWith(w http.ResponseWriter, status int, v any, tid string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("TrackingID", tid)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// invalid answers 400 with the descriptions of everything wrong.
func (s *Server) invalid(w http.ResponseWriter, problems []string) {
	s.writeError(w, http.StatusBadRequest, "The input parameters contain invalid items.", problems...)
}

func (s *Server) notFound(w http.ResponseWriter, what string) {
	s.writeError(w, http.StatusNotFound, "The requested resource could not be found.",
		fmt.Sprintf("%s not found or you do not have access to it.", what))
}

// page writes items[offset:offset+max] and, when more remain, a Link
// header to the next page on the host the request came to.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any, max int) {
	q := r.URL.Query()
	off := 0
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			s.invalid(w, []string{"The cursor is not valid."})
			return
		}
		off = n
	}
	end := min(off+max, len(items))
	if end < len(items) {
		q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		next := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
	}
	page := items[off:end]
	if page == nil {
		page = []any{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"items": page})
}

// pageSize reads max: def when absent, else 1 to 100.
func pageSize(q url.Values, def int) (int, bool) {
	v := q.Get("max")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 1 && n <= 100
}

// Ids and secrets.

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randDigits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		if i == 0 && d.Int64() == 0 {
			d = big.NewInt(1)
		}
		b.WriteString(d.String())
	}
	return b.String()
}

func uuid() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// sparkID is how Webex writes people, organizations and webhooks: the
// base64 of ciscospark://us/<KIND>/<uuid>.
func sparkID(kind, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ciscospark://us/" + kind + "/" + id))
}

func trackingID() string { return "ROUTER_" + strings.ToUpper(uuid()) }

// password makes a meeting password that passes the usual site rules: upper
// and lower case letters and digits.
func password() string {
	const letters = "abcdefghjkmnpqrstuvwxyz"
	b := []byte(randHex(4))
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b[i] = letters[n.Int64()]
	}
	return strings.ToUpper(string(b[:2])) + string(b[2:]) + randDigits(4)
}
