package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/storage/sqldb"
)

// Two helper modes of the test binary, for benchmarks that need a second
// process (see TestMain): a worker that only publishes encoding events, and
// a crowd of idle websocket clients.
const (
	publisherEnv = "EDUSTREAM_TEST_PUBLISHER"
	clientsEnv   = "EDUSTREAM_TEST_CLIENTS"
)

// runHelperProcess runs the mode named by the environment, if any, and
// reports whether it did.
func runHelperProcess() bool {
	switch {
	case os.Getenv(publisherEnv) != "":
		if err := publishEvents(os.Getenv(publisherEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			os.Exit(1)
		}
	case os.Getenv(clientsEnv) != "":
		if err := holdClients(os.Getenv(clientsEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "clients:", err)
			os.Exit(1)
		}
	default:
		return false
	}
	return true
}

// publishEvents publishes encoding events the way a worker's transcode
// does, through the Redis event service, stamped with the time they left:
// "<redis url> <lecture> <video> <version> <first> <count> <total>
// <interval>": events first..first+count of total, progress rising over the
// total so that every event is newer than the last.
func publishEvents(spec string) error {
	var url string
	var lecture, video, version int64
	var first, count, total int
	var every time.Duration
	if _, err := fmt.Sscan(spec, &url, &lecture, &video, &version, &first, &count, &total, &every); err != nil {
		return err
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	events := redis.NewEvents(rdb, nil)
	ctx := context.Background()
	for i := range count {
		e := &edustream.EncodingEvent{LectureID: lecture, VideoID: video, Status: edustream.VideoProcessing,
			Stage: edustream.StageTranscode, Version: version, Progress: 2 + 80*float64(first+i+1)/float64(total), At: time.Now()}
		if err := events.PublishEvent(ctx, edustream.Event{Topic: edustream.EncodingTopic(lecture), Encoding: e}); err != nil {
			return err
		}
		time.Sleep(every)
	}
	return nil
}

// holdClients opens websockets and keeps them idle until stdin closes:
// "<ws url> <count> <graphql|bare> <token> <lecture>". It prints "ready"
// once every connection is up (and, for graphql, subscribed).
func holdClients(spec string) error {
	var url, mode, tok string
	var count int
	var lecture int64
	if _, err := fmt.Sscan(spec, &url, &count, &mode, &tok, &lecture); err != nil {
		return err
	}
	ctx := context.Background()
	conns := make([]*websocket.Conn, 0, count)
	for range count {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if mode != "graphql" {
			continue
		}
		for _, m := range []string{
			`{"type":"connection_init","payload":{"Authorization":"Bearer ` + tok + `"}}`,
			fmt.Sprintf(`{"id":"1","type":"subscribe","payload":{"query":"subscription { encodingProgress(lectureId: \"%d\") { status progress } }"}}`, lecture),
		} {
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				return err
			}
		}
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return err
			}
			if strings.Contains(string(data), `"type":"next"`) {
				break
			}
			if strings.Contains(string(data), `"type":"error"`) {
				return fmt.Errorf("subscription refused: %s", data)
			}
		}
	}
	// Keep reading (pings, and the first event already arrived), so the
	// connections stay healthy while idle.
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// helperProcess starts the test binary in a helper mode.
func helperProcess(b *testing.B, env, spec string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), env+"="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stdin, bufio.NewReader(stdout)
}

// processingVideo puts a video of the lecture in the middle of its
// transcode, straight into the database, and returns it.
func processingVideo(b *testing.B, db *sqldb.DB, lectureID int64, uploaderID int64) *edustream.Video {
	b.Helper()
	ctx := context.Background()
	videos := sqldb.NewVideoService(db, nil)
	v := &edustream.Video{LectureID: lectureID, UploaderID: uploaderID, FileName: "x.mp4", ContentType: "video/mp4", SizeBytes: 1,
		UploadExpiresAt: time.Now().Add(time.Hour)}
	if err := videos.CreateVideo(ctx, v); err != nil {
		b.Fatal(err)
	}
	for _, upd := range []edustream.VideoUpdate{
		{Status: ptrTo(edustream.VideoUploaded), Stage: ptrTo(edustream.StageProbe)},
		{Status: ptrTo(edustream.VideoProcessing)},
		{Stage: ptrTo(edustream.StageTranscode)},
	} {
		var err error
		if v, err = videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, upd); err != nil {
			b.Fatal(err)
		}
	}
	return v
}

func ptrTo[T any](v T) *T { return &v }

// BenchmarkEventToSubscriber measures how long a worker's progress event
// takes to reach a GraphQL subscriber whose websocket is held by another
// process: worker process → Redis pub/sub → API instance (fan-out, the
// subscription's ordering check) → graphql-transport-ws → client. The
// worker is a second process publishing through the same event service the
// real worker uses. Target: p99 < 100 ms.
func BenchmarkEventToSubscriber(b *testing.B) {
	env, openDB := backendEnv(b)
	env["EDUSTREAM_WORK"] = "false"
	in := start(b, env, "serve")
	ada := token(b, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lecture := in.publishedLecture(b, ada)
	lectureID, _ := strconv.ParseInt(lecture, 10, 64)
	var me struct{ Me struct{ ID string } }
	decode(b, in.graphql(b, ada, `{ me { id } }`, nil).ok(b), &me)
	adaID, _ := strconv.ParseInt(me.Me.ID, 10, 64)
	v := processingVideo(b, openDB(), lectureID, adaID)

	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.url, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseNow()
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"Authorization":"Bearer `+ada+`"}}`))
	conn.Write(ctx, websocket.MessageText, []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { encodingProgress(lectureId: \"`+lecture+`\") { progress at } }"}}`))

	const perOp = 200
	latencies := make([]time.Duration, 0, perOp*b.N)
	b.ResetTimer()
	for i := range b.N {
		helperProcess(b, publisherEnv, fmt.Sprintf("%s %d %d %d %d %d %d %s", env["EDUSTREAM_REDIS_URL"], lectureID, v.ID, v.Version,
			i*perOp, perOp, b.N*perOp, 10*time.Millisecond))
		// Events a slow websocket falls behind on are coalesced (the newest
		// wins), so the round ends with its last event, however many came.
		lastProgress := 2 + 80*float64((i+1)*perOp)/float64(b.N*perOp)
		for done := false; !done; {
			readCtx, cancel := context.WithTimeout(ctx, testenv.WaitLimit)
			_, data, err := conn.Read(readCtx)
			cancel()
			received := time.Now()
			if err != nil {
				b.Fatalf("after %d events: %v", len(latencies), err)
			}
			var m struct {
				Type    string
				Payload struct {
					Data struct {
						EncodingProgress struct {
							Progress float64
							At       time.Time
						}
					}
				}
			}
			json.Unmarshal(data, &m)
			if m.Type != "next" || m.Payload.Data.EncodingProgress.Progress <= 2 {
				continue // the state from the database, or a ping
			}
			latencies = append(latencies, received.Sub(m.Payload.Data.EncodingProgress.At))
			done = m.Payload.Data.EncodingProgress.Progress >= lastProgress
		}
	}
	b.StopTimer()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIdleSubscriptions measures what 1,000 idle encodingProgress
// subscriptions cost one API instance, beside 1,000 idle connections to a
// bare websocket server (accept, then one goroutine reading) in the same
// run. The clients are another process, so only the server side is
// counted: live heap plus goroutine stacks after a GC, before and after,
// and the goroutines. Target: ≤ 2× the bare server per connection.
func BenchmarkIdleSubscriptions(b *testing.B) {
	const n = 1000
	env, _ := backendEnv(b)
	// One user opens every connection: lift the per-user bounds above n.
	env["EDUSTREAM_MAX_SOCKETS_PER_USER"] = strconv.Itoa(2 * n)
	env["EDUSTREAM_MAX_SUBSCRIPTIONS_PER_USER"] = strconv.Itoa(2 * n)
	in := start(b, env, "serve")
	ada := token(b, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lecture := in.publishedLecture(b, ada)

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer bare.Close()

	// measure returns the server's bytes and goroutines per connection.
	measure := func(url, mode string) (bytes, goroutines float64) {
		before, goroutinesBefore := serverMemory(), runtime.NumGoroutine()
		_, stdin, stdout := helperProcess(b, clientsEnv, fmt.Sprintf("%s %d %s %s %s", url, n, mode, ada, lecture))
		line, err := stdout.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			b.Fatalf("%s clients: %q %v", mode, line, err)
		}
		bytes = float64(serverMemory()-before) / n
		goroutines = float64(runtime.NumGoroutine()-goroutinesBefore) / n
		// EDUSTREAM_BENCH_HEAP=prefix writes the server's heap profile with
		// the connections open, to compare the two with pprof -diff_base.
		if prefix := os.Getenv("EDUSTREAM_BENCH_HEAP"); prefix != "" {
			if fh, err := os.Create(prefix + "-" + mode); err == nil {
				pprof.WriteHeapProfile(fh)
				fh.Close()
			}
		}
		stdin.Close()
		// Until the server let go of them: the next round starts from an
		// instance without them.
		deadline := time.Now().Add(testenv.WaitLimit)
		for runtime.NumGoroutine() > goroutinesBefore+n/100 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		return bytes, goroutines
	}
	var graphqlBytes, bareBytes, graphqlGoroutines, bareGoroutines float64
	b.ResetTimer()
	for range b.N {
		by, g := measure("ws"+strings.TrimPrefix(bare.URL, "http"), "bare")
		bareBytes, bareGoroutines = bareBytes+by, bareGoroutines+g
		by, g = measure("ws"+strings.TrimPrefix(in.url, "http")+"/query", "graphql")
		graphqlBytes, graphqlGoroutines = graphqlBytes+by, graphqlGoroutines+g
	}
	b.StopTimer()
	b.ReportMetric(graphqlBytes/float64(b.N), "B/subscription")
	b.ReportMetric(bareBytes/float64(b.N), "B/bare-conn")
	b.ReportMetric(graphqlBytes/bareBytes, "ratio")
	b.ReportMetric(graphqlGoroutines/float64(b.N), "goroutines/subscription")
	b.ReportMetric(bareGoroutines/float64(b.N), "goroutines/bare-conn")
	b.ReportMetric(0, "ns/op")
}

var memMu sync.Mutex

// serverMemory is this process's live heap and stacks after settling.
func serverMemory() int64 {
	memMu.Lock()
	defer memMu.Unlock()
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}
