package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// TestReplicatedDatabase runs serve on a real MariaDB primary and GTID
// replica with Redis write marks, the app's whole read routing: while the
// replica lags, the instructor who saved reads the save back and another
// user may read the replica's past; while the replica is down, reads go to
// the primary and /readyz says degraded (still 200); once it is back,
// /readyz says ok and reads return to it.
func TestReplicatedDatabase(t *testing.T) {
	pair := testenv.StartMariaDBReplication(t)
	env := map[string]string{
		"EDUSTREAM_HTTP_ADDR":         "127.0.0.1:0",
		"EDUSTREAM_DATA_DIR":          t.TempDir(),
		"EDUSTREAM_JWT_SECRET":        testSecret,
		"EDUSTREAM_REDIS_URL":         testenv.RedisURL(t),
		"EDUSTREAM_MYSQL_DSN":         pair.PrimaryDSN,
		"EDUSTREAM_MYSQL_REPLICA_DSN": pair.ReplicaDSN,
		// Every read reaches the database: no response is held.
		"EDUSTREAM_RESPONSE_CACHE_BYTES": "0",
	}
	in := start(t, env, "serve")

	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	bob := token(t, testSecret, "bob", edustream.RoleStudent, time.Hour)
	r := in.graphql(t, ada, `mutation { createCourse(input: {title: "v1"}) { id } }`, nil).ok(t)
	id := r.Data["createCourse"].(map[string]any)["id"].(string)
	in.graphql(t, ada, `mutation($c: ID!) { publishCourse(id: $c) { published } }`, map[string]any{"c": id}).ok(t)
	in.graphql(t, bob, `{ me { id } }`, nil).ok(t) // bob exists everywhere
	pair.WaitReplicaCaughtUp(t)

	titleFor := func(t *testing.T, tok string) string {
		t.Helper()
		r := in.graphql(t, tok, `query($c: ID!) { course(id: $c) { title } }`, map[string]any{"c": id}).ok(t)
		return r.Data["course"].(map[string]any)["title"].(string)
	}
	rename := func(t *testing.T, title string) {
		t.Helper()
		in.graphql(t, ada, `mutation($c: ID!, $t: String!) { updateCourse(id: $c, input: {title: $t}) { id } }`,
			map[string]any{"c": id, "t": title}).ok(t)
	}
	readyz := func(t *testing.T) (int, string) {
		t.Helper()
		resp, err := http.Get(in.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body struct{ Status string }
		json.Unmarshal(raw, &body)
		return resp.StatusCode, body.Status
	}

	t.Run("replica lags", func(t *testing.T) {
		pair.PauseReplication(t)
		rename(t, "v2")
		pair.WaitReplicaReceived(t)
		if got := titleFor(t, ada); got != "v2" {
			t.Errorf("the instructor who saved reads %q, want v2", got)
		}
		if got := titleFor(t, bob); got != "v1" {
			t.Errorf("another user reads %q, want the replica's v1", got)
		}
		pair.ResumeReplication(t)
		pair.WaitReplicaCaughtUp(t)
		if got := titleFor(t, bob); got != "v2" {
			t.Errorf("after the replica caught up, another user reads %q", got)
		}
	})

	t.Run("replica down", func(t *testing.T) {
		pair.StopReplica(t)
		rename(t, "v3")
		if got := titleFor(t, bob); got != "v3" {
			t.Errorf("with the replica down, another user reads %q, want v3 from the primary", got)
		}
		if got := titleFor(t, ""); got != "v3" {
			t.Errorf("with the replica down, an anonymous caller reads %q", got)
		}
		if code, status := readyz(t); code != http.StatusOK || status != "degraded" {
			t.Errorf("/readyz = %d %q, want 200 degraded", code, status)
		}
		if !strings.Contains(in.out.String(), "database replica unreachable") {
			t.Errorf("serve did not log the replica's loss:\n%s", in.out)
		}
	})

	t.Run("replica back", func(t *testing.T) {
		pair.StartReplica(t)
		pair.WaitReplicaCaughtUp(t)
		if code, status := readyz(t); code != http.StatusOK || status != "ok" {
			t.Errorf("/readyz = %d %q, want 200 ok", code, status)
		}
		pair.PauseReplication(t)
		defer pair.ResumeReplication(t)
		rename(t, "v4")
		pair.WaitReplicaReceived(t)
		// The pool finds the replica back within a probe's interval.
		testenv.Eventually(t, "another user's reads to return to the replica", func() bool {
			return titleFor(t, bob) == "v3"
		})
		if got := titleFor(t, ada); got != "v4" {
			t.Errorf("the instructor who saved reads %q, want v4", got)
		}
		if !strings.Contains(in.out.String(), "database replica back") {
			t.Errorf("serve did not log the replica's return:\n%s", in.out)
		}
	})
}
