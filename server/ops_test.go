package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The operations listener serves the metrics and the probes, with the
// checks it is given, and nothing else; the API's handler has no /metrics.
func TestOps(t *testing.T) {
	t.Parallel()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "edustream_up 1\n") })
	healthy := Ops(metrics, []Check{{Name: "database", Check: func(context.Context) error { return nil }}})
	broken := Ops(metrics, []Check{{Name: "redis", Check: func(context.Context) error { return errors.New("down") }}})
	api := New(Config{})
	tests := []struct {
		name     string
		handler  http.Handler
		method   string
		path     string
		status   int
		contains string
	}{
		{"metrics", healthy, http.MethodGet, "/metrics", 200, "edustream_up 1"},
		{"healthz", healthy, http.MethodGet, "/healthz", 200, `"ok"`},
		{"readyz", healthy, http.MethodGet, "/readyz", 200, `"ok"`},
		{"readyz with a failed check", broken, http.MethodGet, "/readyz", 503, `"redis"`},
		{"healthz with a failed check", broken, http.MethodGet, "/healthz", 200, `"ok"`},
		{"anything else", healthy, http.MethodGet, "/query", 404, ""},
		{"metrics are read only", healthy, http.MethodPost, "/metrics", 405, ""},
		{"the API has no metrics", api, http.MethodGet, "/metrics", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, rec.Code, rec.Body.String(), tt.status, tt.contains)
			}
		})
	}
}
