package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/internal/testenv"
)

// auditDir holds the npm project that runs graphql-http's audits, with its
// package-lock.json; node_modules is installed there by npm ci when missing.
const auditDir = "testdata/graphql-http"

// TestGraphQLOverHTTPAudit runs the graphql-http package's server audits
// (the GraphQL-over-HTTP spec's MUST, SHOULD and MAY checks) with Node
// against serve on 127.0.0.1:0, introspection on as the audits query
// __type. Every MUST and SHOULD audit must pass. It skips without node and
// npm, unless EDUSTREAM_TEST_REQUIRE names graphql-http.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	node := testenv.NodeProject(t, auditDir, "graphql-http", "graphql-http")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	env, _ := backendEnv(t)
	env["EDUSTREAM_INTROSPECTION"] = "true"
	in := start(t, env, "serve")

	audit := exec.CommandContext(ctx, node, "audit.mjs", in.url+"/query")
	audit.Dir = auditDir
	var stderr bytes.Buffer
	audit.Stderr = &stderr
	out, err := audit.Output()
	if err != nil {
		t.Fatalf("node audit.mjs: %v\n%s", err, stderr.String())
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			ID, Name, Status, Reason string
			ResponseStatus           int
			ResponseBody             string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit output %q: %v", sc.Text(), err)
		}
		level, _, _ := strings.Cut(r.Name, " ")
		if r.Status == "ok" {
			counts[level+" ok"]++
			continue
		}
		counts[level+" failed"]++
		msg := "%s %s: %s (status %d, body %.200s)"
		if level == "MAY" {
			t.Logf(msg, r.ID, r.Name, r.Reason, r.ResponseStatus, r.ResponseBody)
		} else {
			t.Errorf(msg, r.ID, r.Name, r.Reason, r.ResponseStatus, r.ResponseBody)
		}
	}
	if counts["MUST ok"] == 0 {
		t.Fatalf("no audit ran:\n%s\n%s", out, stderr.String())
	}
	t.Logf("graphql-http audit: MUST %d ok, %d failed; SHOULD %d ok, %d failed; MAY %d ok, %d failed",
		counts["MUST ok"], counts["MUST failed"], counts["SHOULD ok"], counts["SHOULD failed"], counts["MAY ok"], counts["MAY failed"])
}
