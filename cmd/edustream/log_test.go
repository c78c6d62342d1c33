package main

import (
	"bytes"
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/edustream/edustream/internal/testenv"
)

func TestLogDurations(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		l, err := newLogger(config{LogFormat: format, LogLevel: "info"}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		l.Info("done", "duration", 1500*time.Millisecond, slog.Group("g", slog.Duration("wait", 250*time.Microsecond)))
		want := map[string][]string{
			"json": {`"duration":"1.5s"`, `"wait":"250µs"`},
			"text": {`duration=1.5s`, `g.wait=250µs`},
		}[format]
		for _, w := range want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s log %q lacks %s", format, buf.String(), w)
			}
		}
	}
}

// During a Redis outage the log stays JSON: go-redis, asynq and the
// standard log package all write through the configured handler. Not in
// parallel: the library hooks are process-wide, so another instance
// starting meanwhile would take them over.
func TestRedisOutageLogsJSON(t *testing.T) {
	mini := miniredis.NewMiniRedis()
	mini.ClockTTL(true)
	if err := mini.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"EDUSTREAM_HTTP_ADDR":  "127.0.0.1:0",
		"EDUSTREAM_DATA_DIR":   t.TempDir(),
		"EDUSTREAM_JWT_SECRET": testSecret,
		"EDUSTREAM_REDIS_URL":  "redis://" + mini.Addr(),
		"EDUSTREAM_WORK":       "true",
		"EDUSTREAM_LOG_LEVEL":  "debug",
	}
	in := start(t, env, "serve")
	// Let the worker check Redis at start (it refuses to start without it)
	// before the outage begins.
	testenv.Eventually(t, "the worker to start", func() bool { return len(in.out.Records(t, "jobs worker started")) > 0 })
	if got := in.getStatus(t, "/readyz"); got != 200 {
		t.Fatalf("/readyz = %d before the outage", got)
	}
	mini.Close() // the port is closed from now on
	log.Printf("a line from the standard log package")

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !(strings.Contains(in.out.String(), `"component":"redis"`) && strings.Contains(in.out.String(), `"component":"asynq"`)) {
		in.getStatus(t, "/readyz") // pings Redis
		time.Sleep(200 * time.Millisecond)
	}
	// Shutting down during the outage may fail; only the log matters here.
	in.cancel()
	in.cancel = nil
	<-in.done
	out := in.out.String()
	for _, component := range []string{`"component":"redis"`, `"component":"asynq"`, `"msg":"a line from the standard log package"`} {
		if !strings.Contains(out, component) {
			t.Errorf("no %s line in the log", component)
		}
	}
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("not a JSON line: %q", line)
			continue
		}
		for k, v := range entry {
			if n, ok := v.(float64); ok && (k == "duration" || k == "timeout" || strings.HasSuffix(k, "_duration")) {
				t.Errorf("%s logged as a number (%v) in %q", k, n, line)
			}
		}
	}
}
