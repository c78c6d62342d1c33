package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// serve runs on the Redis forms EDUSTREAM_REDIS_URL names beyond plain
// redis://: TLS with a private CA, and Sentinel, where it keeps answering
// (and writing) after the primary is killed.
func TestServeOnRedisTLSAndSentinel(t *testing.T) {
	t.Parallel()
	t.Run("tls", func(t *testing.T) {
		t.Parallel()
		srv := testenv.StartRedisTLS(t)
		env, _ := backendEnv(t)
		env["EDUSTREAM_REDIS_URL"] = srv.URL
		env["EDUSTREAM_REDIS_CA_FILE"] = srv.CAFile
		in := start(t, env, "serve")
		if got := in.getStatus(t, "/readyz"); got != http.StatusOK {
			t.Fatalf("/readyz = %d over TLS\n%s", got, in.out)
		}
		if !strings.Contains(in.out.String(), `"tls":true`) {
			t.Errorf("the start-up line does not say TLS:\n%s", in.out)
		}
		// Without the private CA the start fails, naming the setting.
		delete(env, "EDUSTREAM_REDIS_CA_FILE")
		if err := runErr(t, env, "serve"); err == nil || !strings.Contains(err.Error(), "EDUSTREAM_REDIS_URL") || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("serve without the CA = %v, want a certificate error naming EDUSTREAM_REDIS_URL", err)
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		rs := testenv.StartRedisSentinel(t)
		env, _ := backendEnv(t)
		env["EDUSTREAM_REDIS_URL"] = rs.URL
		in := start(t, env, "serve")
		ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
		in.publishedLecture(t, ada)
		rs.KillPrimary()
		rs.WaitFailover()
		testenv.Eventually(t, "/readyz to answer 200 on the promoted primary", func() bool {
			return in.getStatus(t, "/readyz") == http.StatusOK
		})
		in.publishedLecture(t, ada)
	})
}
