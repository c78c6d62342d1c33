package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/sqldb"
)

// TestFleetReadLoad is the fleet's load run of docs/benchmarks.md, not a
// test: with EDUSTREAM_FLEET_LOAD set to a duration (each step's), it
// builds the binary, starts two `serve` processes on a MariaDB primary and
// GTID replica of its own and on Redis (EDUSTREAM_TEST_REDIS_URL, else a
// miniredis), and sends them the mixed read load, open loop, in steps of
// rising rate until p99 passes 500 ms: the anonymous catalog, a lecture
// with its video as an enrolled student, and `me`, a third each, every
// other request to each instance. For each step it logs the rate reached,
// the latency percentiles, the errors by kind and the most connections the
// application held on each server (sampled from the processlist), against
// the bound, 2 × EDUSTREAM_DB_MAX_OPEN_CONNS (20, or
// EDUSTREAM_FLEET_LOAD_MAX_OPEN_CONNS). It asserts nothing.
func TestFleetReadLoad(t *testing.T) {
	step, err := time.ParseDuration(os.Getenv("EDUSTREAM_FLEET_LOAD"))
	if err != nil {
		t.Skip("EDUSTREAM_FLEET_LOAD (each step's duration) not set: the load run is for docs/benchmarks.md")
	}
	// EDUSTREAM_DB_MAX_OPEN_CONNS of each instance: the default, or
	// EDUSTREAM_FLEET_LOAD_MAX_OPEN_CONNS to see a tighter bound hold.
	maxOpen := sqldb.DefaultMaxOpenConns
	if v := os.Getenv("EDUSTREAM_FLEET_LOAD_MAX_OPEN_CONNS"); v != "" {
		if maxOpen, err = strconv.Atoi(v); err != nil || maxOpen < 1 {
			t.Fatalf("EDUSTREAM_FLEET_LOAD_MAX_OPEN_CONNS=%q: want a positive number", v)
		}
	}
	pair := testenv.StartMariaDBReplication(t)
	bin := filepath.Join(t.TempDir(), "edustream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	redisURL := testenv.RedisURL(t)
	var urls []string
	var logs []*testenv.LogBuffer
	for i := range 2 {
		u, log := startServe(t, bin, i, map[string]string{
			"EDUSTREAM_MYSQL_DSN":         pair.PrimaryDSN,
			"EDUSTREAM_MYSQL_REPLICA_DSN": pair.ReplicaDSN,
			"EDUSTREAM_REDIS_URL":         redisURL,
			"EDUSTREAM_DB_MAX_OPEN_CONNS": strconv.Itoa(maxOpen),
		})
		urls, logs = append(urls, u), append(logs, log)
	}
	load := seedFleet(t, urls[0], pair.PrimaryDSN)
	pair.WaitReplicaCaughtUp(t)

	// Warm-up, unmeasured: every student signs in once, pools open.
	load.run(urls, 200, 3*time.Second)
	t.Logf("two serve processes, MariaDB primary + replica, EDUSTREAM_DB_MAX_OPEN_CONNS=%d (bound per server: %d); %v per step", maxOpen, 2*maxOpen, step)
	for _, rate := range []int{250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 8000} {
		conns := sampleConns(pair)
		r := load.run(urls, rate, step)
		primary, replica := conns()
		load1, _ := os.ReadFile("/proc/loadavg")
		t.Logf("%5d req/s offered: %7.1f/s done, p50 %7.2f ms (%s), p99 %8.2f ms, max %8.2f ms, errors %d %v, connections primary %d replica %d (bound %d each), load %s",
			rate, float64(r.n)/r.elapsed.Seconds(), ms(r.percentile(0.5)), r.medians(), ms(r.percentile(0.99)), ms(r.percentile(1)),
			r.errors.Load(), r.errorKinds(), primary, replica, 2*maxOpen, strings.Join(strings.Fields(string(load1))[:3], " "))
		if r.percentile(0.99) > 500*time.Millisecond {
			break
		}
	}
	// What the instances warned about (the log level is warn).
	for i, log := range logs {
		if out := strings.TrimSpace(log.String()); out != "" {
			t.Logf("serve %d logged:\n%s", i, out)
		}
	}
	for _, m := range []*testenv.MariaDB{pair.Primary, pair.Replica} {
		if _, err := m.Query("SELECT 1"); err != nil {
			t.Logf("MariaDB %s does not answer (%v); its log:\n%s", m.Addr(), err, m.Log())
		}
	}
}

// startServe runs the binary's serve with a port of its own and waits for
// /readyz; it is stopped at cleanup.
func startServe(t *testing.T, bin string, i int, extra map[string]string) (string, *testenv.LogBuffer) {
	t.Helper()
	addr := testenv.ClosedAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"EDUSTREAM_HTTP_ADDR="+addr,
		"EDUSTREAM_DATA_DIR="+t.TempDir(),
		"EDUSTREAM_JWT_SECRET="+testSecret,
		"EDUSTREAM_LOG_LEVEL=warn",
		"GOGC=400",
	)
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &testenv.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("serve %d:\n%s", i, out.String())
		}
	})
	u := "http://" + addr
	testenv.Eventually(t, fmt.Sprintf("serve %d to be ready", i), func() bool {
		resp, err := http.Get(u + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return u, out
}

// fleetLoad is what the load sends: the request bodies, by kind.
type fleetLoad struct {
	catalogURL string   // an anonymous GET, shared and cacheable
	lecture    []byte   // a lecture with its video, as a student
	me         []byte   // me, as a student
	students   []string // tokens
	client     *http.Client
}

// seedFleet makes 20 published courses of 10 lectures, a READY video on
// one lecture, and 200 students enrolled in its course.
func seedFleet(t *testing.T, u, primaryDSN string) *fleetLoad {
	t.Helper()
	in := &instance{url: u}
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	var courseID, lectureID string
	for c := range 20 {
		r := in.graphql(t, ada, `mutation($t: String!) { createCourse(input: {title: $t, description: "A course of the load run"}) { id } }`,
			map[string]any{"t": fmt.Sprintf("Course %d", c)}).ok(t)
		id := r.Data["createCourse"].(map[string]any)["id"].(string)
		for l := range 10 {
			r := in.graphql(t, ada, `mutation($c: ID!, $t: String!) { createLecture(input: {courseId: $c, title: $t}) { id } }`,
				map[string]any{"c": id, "t": fmt.Sprintf("Lecture %d.%d", c, l)}).ok(t)
			if c == 0 && l == 0 {
				courseID, lectureID = id, r.Data["createLecture"].(map[string]any)["id"].(string)
			}
		}
		in.graphql(t, ada, `mutation($c: ID!) { publishCourse(id: $c) { published } }`, map[string]any{"c": id}).ok(t)
	}
	db, err := sqldb.OpenMySQL(context.Background(), primaryDSN, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lid, _ := strconv.ParseInt(lectureID, 10, 64)
	me := in.graphql(t, ada, `{ me { id } }`, nil).ok(t)
	adaID, _ := strconv.ParseInt(me.Data["me"].(map[string]any)["id"].(string), 10, 64)
	readyBenchVideo(t, sqldb.NewVideoService(db, nil), lid, adaID, 3600)

	load := &fleetLoad{
		catalogURL: "/query?query=" + url.QueryEscape(`{ courses(first: 20) { edges { node { id title description instructor { id name } lectures { id position title } } } } }`),
		client:     &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxIdleConns: 8192}},
	}
	load.lecture, _ = json.Marshal(map[string]any{
		"query":     `query($id: ID!) { lecture(id: $id) { id title course { id title } video { status durationSeconds renditions { name } playbackUrl } } }`,
		"variables": map[string]any{"id": lectureID},
	})
	load.me, _ = json.Marshal(map[string]any{"query": `{ me { id name role } }`})
	for s := range 200 {
		tok := token(t, testSecret, fmt.Sprintf("student%d", s), edustream.RoleStudent, time.Hour)
		in.graphql(t, tok, `mutation($c: ID!) { enroll(courseId: $c) { course { id } } }`, map[string]any{"c": courseID}).ok(t)
		load.students = append(load.students, tok)
	}
	// The seed is right: the student sees the video's playback URL.
	var r gqlResponse
	req, _ := http.NewRequest(http.MethodPost, u+"/query", bytes.NewReader(load.lecture))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+load.students[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if json.Unmarshal(raw, &r); !strings.Contains(string(raw), `"playbackUrl":"http`) {
		t.Fatalf("the seeded lecture: %s", raw)
	}
	return load
}

// fleetResult is one step's measurements.
type fleetResult struct {
	loadResult
	errors atomic.Int64
	mu     sync.Mutex
	kinds  map[string]int
	// byQuery are the latencies of each kind of request (fleetQueries).
	byQuery [len(fleetQueries)]loadResult
}

// fleetQueries are the kinds of request the load mixes, in turn.
var fleetQueries = [...]string{"catalog", "lecture", "me"}

// medians are each kind of request's p50.
func (r *fleetResult) medians() string {
	var out []string
	for i, q := range r.byQuery {
		out = append(out, fmt.Sprintf("%s %.2f", fleetQueries[i], ms(q.percentile(0.5))))
	}
	return strings.Join(out, ", ")
}

func (r *fleetResult) fail(kind string) {
	r.errors.Add(1)
	r.mu.Lock()
	r.kinds[kind]++
	r.mu.Unlock()
}

func (r *fleetResult) errorKinds() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kinds
}

// run sends rate requests a second, open loop, for d, spread over urls.
func (l *fleetLoad) run(urls []string, rate int, d time.Duration) *fleetResult {
	r := &fleetResult{kinds: map[string]int{}}
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for n := 0; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		wg.Go(func() {
			t0 := time.Now()
			query := (n / 2) % len(fleetQueries) // n%2 picks the instance
			l.send(r, urls[n%len(urls)], n, query)
			lat := time.Since(t0)
			mu.Lock()
			r.latencies = append(r.latencies, lat)
			r.byQuery[query].latencies = append(r.byQuery[query].latencies, lat)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed, r.n = time.Since(start), len(r.latencies)
	slices.Sort(r.latencies)
	for i := range r.byQuery {
		slices.Sort(r.byQuery[i].latencies)
	}
	return r
}

// send sends the nth request, of kind query (fleetQueries).
func (l *fleetLoad) send(r *fleetResult, base string, n, query int) {
	var req *http.Request
	switch query {
	case 0:
		req, _ = http.NewRequest(http.MethodGet, base+l.catalogURL, nil)
	case 1:
		req, _ = http.NewRequest(http.MethodPost, base+"/query", bytes.NewReader(l.lecture))
	default:
		req, _ = http.NewRequest(http.MethodPost, base+"/query", bytes.NewReader(l.me))
	}
	if req.Method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+l.students[n%len(l.students)])
	}
	resp, err := l.client.Do(req)
	if err != nil {
		var netErr net.Error
		if ok := asNetErr(err, &netErr); ok && netErr.Timeout() {
			r.fail("timeout")
		} else {
			r.fail("transport")
		}
		return
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body struct {
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	json.Unmarshal(raw, &body)
	switch {
	case len(body.Errors) > 0:
		r.fail(body.Errors[0].Extensions.Code)
	case resp.StatusCode != http.StatusOK:
		r.fail(strconv.Itoa(resp.StatusCode))
	}
}

func asNetErr(err error, target *net.Error) bool {
	for err != nil {
		if ne, ok := err.(net.Error); ok {
			*target = ne
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// sampleConns counts the application's connections on each server every
// 50 ms until the returned function is called, which returns the most
// seen on each (-1: every sample of that server failed).
func sampleConns(pair *testenv.MariaDBPair) func() (primary, replica int) {
	stop := make(chan struct{})
	done := make(chan struct{})
	maxP, maxR := -1, -1
	count := func(m *testenv.MariaDB) int {
		v, err := m.Query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", testenv.MariaDBUser)
		n, convErr := strconv.Atoi(v)
		if err != nil || convErr != nil {
			return -1
		}
		return n
	}
	go func() {
		defer close(done)
		ticker := time.NewTicker(50 * time.Millisecond)
		defer ticker.Stop()
		for {
			maxP, maxR = max(maxP, count(pair.Primary)), max(maxR, count(pair.Replica))
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
		}
	}()
	return func() (int, int) {
		close(stop)
		<-done
		return maxP, maxR
	}
}
