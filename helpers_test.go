package edustream_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/edustream/edustream/storage/local"
)

// newBlobs returns the local blob store in a temporary directory, its
// signed URLs served by a test server: the real store the flows of this
// package run on, with nothing else to start.
func newBlobs(t *testing.T) *local.Store {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: srv.URL, SigningKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(local.RoutePrefix, s.Handler())
	return s
}
