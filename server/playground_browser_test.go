package server

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream/internal/testenv"
)

// TestPlaygroundInBrowser loads the playground in headless Chromium, with
// every host but this test server unresolvable, and checks that GraphiQL
// rendered, prefilled the headers editor from #token=, and sent that token
// to /query, where the middleware authenticated it.
func TestPlaygroundInBrowser(t *testing.T) {
	t.Parallel()
	bin := testenv.Chromium(t)
	b := setup(t, nil)
	token := sign(t, jwt.SigningMethodHS256, testSecret, "", claims())
	dom := renderPlayground(t, bin, b, token)
	for _, want := range []string{`class="graphiql-container"`, "graphiql-execute-button", "Bearer " + token[:20]} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	// The admins' panel stays closed for an instructor.
	if strings.Contains(dom, "data-operation=") {
		t.Error("the Operate panel opened for an instructor's token")
	}
	if t.Failed() {
		t.Logf("DOM:\n%.4000s", dom)
	}
	// GraphiQL fetches the schema on load, with the editor's headers.
	calls, u := b.gql.seen()
	if calls == 0 || u == nil || u.Subject != "user-1" {
		t.Fatalf("GraphQL saw %d calls, last user %+v; want the introspection request authenticated as user-1", calls, u)
	}
}

// TestPlaygroundOperatePanelInBrowser opens the playground with an admin's
// token: the Operate panel is open, listing the saved operations.
func TestPlaygroundOperatePanelInBrowser(t *testing.T) {
	bin := testenv.Chromium(t)
	b := setup(t, nil)
	token := sign(t, jwt.SigningMethodHS256, testSecret, "", claims(func(c jwt.MapClaims) { c["role"] = "ADMIN" }))
	dom := renderPlayground(t, bin, b, token)
	for _, want := range []string{"Operate", `data-operation="Queues"`, `data-operation="Workers"`, `data-operation="FailedVideos"`,
		`data-operation="CancelTask"`, `data-operation="PauseQueue"`, `data-operation="AuditLog"`, "a 4-hour upload holding"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%.6000s", dom)
	}
}

// renderPlayground loads the playground of b with token in the link and
// returns the DOM once GraphiQL has rendered.
func renderPlayground(t *testing.T, bin string, b *bundle, token string) string {
	t.Helper()
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
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
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium stderr:\n%.4000s", stderr.String())
		}
	})
	return string(out)
}
