package server

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream/internal/testenv"
)

// chromium finds a headless-capable Chromium: $EDUSTREAM_TEST_CHROMIUM, or
// one on PATH. Without one the test skips, unless EDUSTREAM_TEST_REQUIRE
// names chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EDUSTREAM_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.Required("chromium") {
		t.Fatalf("chromium is required (%s) but none is on PATH", testenv.EnvRequire)
	}
	t.Skip("no chromium on PATH: skipping the browser test of the playground")
	return ""
}

// TestPlaygroundInBrowser loads the playground in headless Chromium, with
// every host but this test server unresolvable, and checks that GraphiQL
// rendered, prefilled the headers editor from #token=, and sent that token
// to /query, where the middleware authenticated it.
func TestPlaygroundInBrowser(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	b := setup(t, nil)
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	token := sign(t, jwt.SigningMethodHS256, testSecret, "", claims())

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--user-data-dir="+t.TempDir(),
		// Nothing but the test server resolves: the page must be
		// self-contained.
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
		"--virtual-time-budget=10000",
		"--dump-dom", srv.URL+"/#token="+token)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	for _, want := range []string{`class="graphiql-container"`, "graphiql-execute-button", "Bearer " + token[:20]} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%.4000s\nchromium stderr:\n%.4000s", dom, stderr.String())
	}
	// GraphiQL fetches the schema on load, with the editor's headers.
	calls, u := b.gql.seen()
	if calls == 0 || u == nil || u.Subject != "user-1" {
		t.Fatalf("GraphQL saw %d calls, last user %+v; want the introspection request authenticated as user-1", calls, u)
	}
}
