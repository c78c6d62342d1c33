package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// The fault suite's fleet: the real binary as a production deployment runs
// it, two `serve` (the API, no workers) and two `work` processes, each a
// process of its own on loopback ports, over one MariaDB, one Redis and one
// S3 bucket on SeaweedFS. A scenario breaks something under it and then
// checks the fleet's promises (fleet.check).

// fleetBackends are the services a fleet runs on. The scenarios that fault
// a service start their own; the others use the test servers.
type fleetBackends struct {
	MySQLDSN        string
	MySQLReplicaDSN string // optional
	RedisURL        string
}

// fleet is the running processes and what the scenario was told succeeded.
type fleet struct {
	backends fleetBackends
	// workRoot is the workers' EDUSTREAM_WORK_DIR: every ffmpeg they run
	// names a file under it, which is how the check finds leftovers.
	workRoot string
	serves   []*member
	workers  []*member
	acked    ledger
	// instructor is a token of the instructor the scenarios upload as.
	instructor string
	// s3 and bucket are the store the fleet writes to.
	s3     testenv.S3Env
	bucket string
}

// member is one process of the fleet, restartable with the same env (and
// so the same ports).
type member struct {
	name string // serve-1, work-2, …
	cmd  string // serve or work
	env  map[string]string
	// url is where /readyz answers: the API for serve, the operations
	// listener for work.
	url  string
	proc *process
}

// startFleet starts two serve and two work processes on the backends, with
// a bucket of their own on the test S3 server, and waits until each is
// ready. Everything stops when the test ends; a failed test prints every
// process's output.
func startFleet(t *testing.T, b fleetBackends) *fleet {
	t.Helper()
	testenv.FFmpeg(t)
	s3 := testenv.S3(t)
	f := &fleet{
		backends:   b,
		workRoot:   t.TempDir(),
		instructor: token(t, testSecret, "ada", edustream.RoleInstructor, 2*time.Hour),
		s3:         s3,
		bucket:     newBucket(t, s3),
	}
	common := map[string]string{
		"EDUSTREAM_JWT_SECRET":        testSecret,
		"EDUSTREAM_MYSQL_DSN":         b.MySQLDSN,
		"EDUSTREAM_MYSQL_REPLICA_DSN": b.MySQLReplicaDSN,
		"EDUSTREAM_REDIS_URL":         b.RedisURL,
		"EDUSTREAM_S3_BUCKET":         f.bucket,
		"EDUSTREAM_S3_ENDPOINT":       s3.Endpoint,
		"EDUSTREAM_S3_REGION":         s3.Region,
		"EDUSTREAM_S3_PATH_STYLE":     "true",
		"AWS_ACCESS_KEY_ID":           s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       s3.SecretKey,
		"EDUSTREAM_WORK":              "false",
		"EDUSTREAM_WORK_DIR":          f.workRoot,
		"EDUSTREAM_SHUTDOWN_TIMEOUT":  "5s",
	}
	newMember := func(cmd string, n int) *member {
		m := &member{name: fmt.Sprintf("%s-%d", cmd, n), cmd: cmd, env: map[string]string{}}
		for k, v := range common {
			m.env[k] = v
		}
		m.env["EDUSTREAM_DATA_DIR"] = t.TempDir()
		if cmd == "serve" {
			addr := testenv.ClosedAddr(t)
			m.url = "http://" + addr
			m.env["EDUSTREAM_HTTP_ADDR"] = addr
			m.env["EDUSTREAM_PUBLIC_URL"] = m.url
		} else {
			addr := testenv.ClosedAddr(t)
			m.url = "http://" + addr
			m.env["EDUSTREAM_METRICS_ADDR"] = addr
		}
		return m
	}
	// The first serve applies the migrations before anyone else starts.
	f.serves = []*member{newMember("serve", 1), newMember("serve", 2)}
	f.workers = []*member{newMember("work", 1), newMember("work", 2)}
	f.serves[0].start(t)
	f.serves[0].waitReady(t)
	for _, m := range append([]*member{f.serves[1]}, f.workers...) {
		m.start(t)
	}
	for _, m := range append([]*member{f.serves[1]}, f.workers...) {
		m.waitReady(t)
	}
	return f
}

func (m *member) start(t testing.TB) {
	t.Helper()
	p := startProcess(t, m.env, m.cmd)
	m.proc = p
	t.Logf("%s started (pid %d)", m.name, m.pid())
	// Under -race the processes are race-instrumented too: a race in one
	// fails the scenario even though no client saw it.
	name := m.name
	t.Cleanup(func() {
		if out := p.out.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s (pid %d) hit a data race:\n%s", name, p.cmd.Process.Pid, out)
		}
	})
}

func (m *member) pid() int { return m.proc.cmd.Process.Pid }

// waitReady waits until /readyz answers 200, failing the test if the
// process exits first or is not ready within a minute.
func (m *member) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get(m.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-m.proc.exited:
			t.Fatalf("%s exited before it was ready: %v\n%s", m.name, m.proc.err, m.proc.out)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within a minute:\n%s", m.name, m.proc.out)
		}
	}
}

// restart starts the member again, with the same env and ports, once the
// previous process has exited, and waits until it is ready.
func (m *member) restart(t testing.TB) {
	t.Helper()
	m.proc.wait(t)
	m.start(t)
	m.waitReady(t)
}

// api returns the client helpers of cmd/edustream's tests for a serve.
func (m *member) api() *instance { return &instance{url: m.url} }

// ledger records what the clients were told succeeded, to check at the
// end that all of it is in the database.
type ledger struct {
	mu          sync.Mutex
	courses     []string
	lectures    []string
	enrollments []enrollmentKey
	videos      []ackedVideo
}

type enrollmentKey struct{ subject, courseID string }

// ackedVideo is a video whose completeVideoUpload was acknowledged.
type ackedVideo struct{ id, lectureID string }

func (l *ledger) course(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.courses = append(l.courses, id)
}

func (l *ledger) lecture(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lectures = append(l.lectures, id)
}

func (l *ledger) enrollment(subject, courseID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.enrollments = append(l.enrollments, enrollmentKey{subject, courseID})
}

func (l *ledger) video(id, lectureID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.videos = append(l.videos, ackedVideo{id, lectureID})
}

// publishedLecture creates a published course with a lecture through the
// serve, recording both as acknowledged.
func (f *fleet) publishedLecture(t testing.TB, via *member) (courseID, lectureID string) {
	t.Helper()
	courseID, lectureID = via.api().publishedLecture(t, f.instructor)
	f.acked.course(courseID)
	f.acked.lecture(lectureID)
	return courseID, lectureID
}

// upload uploads the clip to the lecture through the serve and completes
// it there, recording the video as acknowledged; it returns the video id.
func (f *fleet) upload(t testing.TB, via *member, lectureID, clip string) string {
	t.Helper()
	id := via.api().uploadClip(t, f.instructor, lectureID, clip) // the upload's id is its video's
	f.acked.video(id, lectureID)
	return id
}

// check is what every scenario ends with: nothing acknowledged was lost,
// every acknowledged video ends READY or FAILED with a reason within
// settle, no task of those videos is left in Redis, no ffmpeg of the
// workers is left, and every playlist and segment that a READY video's
// master playlist leads to is in the store.
func (f *fleet) check(t *testing.T, settle time.Duration) {
	t.Helper()
	db := f.openDB(t)
	f.checkAcknowledged(t, db)
	final := f.checkSettled(t, db, settle)
	f.checkNoTasks(t)
	testenv.Eventually(t, "the workers' ffmpeg processes to end", func() bool {
		return len(processesUnder(t, f.workRoot)) == 0
	})
	for _, v := range f.acked.videos {
		if final[v.id] == "READY" {
			f.checkStored(t, v)
		}
	}
}

func (f *fleet) openDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", f.backends.MySQLDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkAcknowledged looks up, on the primary, every write the clients were
// told succeeded.
func (f *fleet) checkAcknowledged(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, lost := range f.acked.lost(t, db) {
		t.Errorf("%s was acknowledged but is not in the database", lost)
	}
	f.acked.mu.Lock()
	defer f.acked.mu.Unlock()
	t.Logf("acknowledged and found: %d courses, %d lectures, %d enrollments, %d videos",
		len(f.acked.courses), len(f.acked.lectures), len(f.acked.enrollments), len(f.acked.videos))
}

// lost returns the writes of the ledger that the database does not hold.
func (l *ledger) lost(t testing.TB, db *sql.DB) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost []string
	exists := func(what, query string, args ...any) {
		t.Helper()
		var n int
		if err := db.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("look up %s: %v", what, err)
		}
		if n != 1 {
			lost = append(lost, what)
		}
	}
	for _, id := range l.courses {
		exists("course "+id, `SELECT COUNT(*) FROM courses WHERE id = ?`, id)
	}
	for _, id := range l.lectures {
		exists("lecture "+id, `SELECT COUNT(*) FROM lectures WHERE id = ?`, id)
	}
	for _, e := range l.enrollments {
		exists(fmt.Sprintf("the enrollment of %s in course %s", e.subject, e.courseID),
			`SELECT COUNT(*) FROM enrollments e JOIN users u ON u.id = e.user_id WHERE u.subject = ? AND e.course_id = ?`,
			e.subject, e.courseID)
	}
	for _, v := range l.videos {
		exists("video "+v.id, `SELECT COUNT(*) FROM videos WHERE id = ?`, v.id)
	}
	return lost
}

// checkSettled waits, at most settle, until every acknowledged video is
// READY, or FAILED with a reason, and returns their statuses.
func (f *fleet) checkSettled(t *testing.T, db *sql.DB, settle time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(settle)
	final := map[string]string{}
	for _, v := range f.acked.videos {
		for {
			var status, stage, reason string
			err := db.QueryRow(`SELECT status, stage, error FROM videos WHERE id = ?`, v.id).Scan(&status, &stage, &reason)
			if err == nil && (status == "READY" || status == "FAILED") {
				if status == "FAILED" && strings.TrimSpace(reason) == "" {
					t.Errorf("video %s FAILED without a reason", v.id)
				}
				final[v.id] = status
				t.Logf("video %s: %s %s", v.id, status, reason)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("video %s is %s at %s after %v (err %v), want READY or FAILED", v.id, status, stage, settle, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return final
}

// checkNoTasks fails the test if a task of an acknowledged video is still
// pending, running, waiting for a retry or scheduled in any queue.
func (f *fleet) checkNoTasks(t *testing.T) {
	t.Helper()
	rdb := redisClient(t, f.backends.RedisURL)
	ins := asynq.NewInspectorFromRedisClient(rdb)
	queues, err := ins.Queues()
	if err != nil {
		t.Fatal(err)
	}
	ofVideo := func(id string) bool {
		for _, v := range f.acked.videos {
			if strings.HasSuffix(id, ":"+v.id) && strings.HasPrefix(id, "video:") {
				return true
			}
		}
		return false
	}
	lists := map[string]func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		"pending": ins.ListPendingTasks, "active": ins.ListActiveTasks,
		"retry": ins.ListRetryTasks, "scheduled": ins.ListScheduledTasks,
	}
	// A task of the chain moves from one state to the next between these
	// reads; once every video has settled, none should be in any.
	testenv.Eventually(t, "no task of the scenario's videos left in Redis", func() bool {
		var left []string
		for _, q := range queues {
			for state, list := range lists {
				tasks, err := list(q, asynq.PageSize(1000))
				if err != nil {
					t.Fatalf("list %s tasks of %s: %v", state, q, err)
				}
				for _, task := range tasks {
					if ofVideo(task.ID) {
						left = append(left, fmt.Sprintf("%s %s in %s", state, task.ID, q))
					}
				}
			}
		}
		if len(left) > 0 {
			t.Logf("tasks left: %v", left)
		}
		return len(left) == 0
	})
}

// checkStored fetches the video's master playlist through a signed
// playback URL, then every playlist and segment it leads to: each must be
// in the store.
func (f *fleet) checkStored(t *testing.T, v ackedVideo) {
	t.Helper()
	missing, fetched := f.missingObjects(t, v)
	for _, m := range missing {
		t.Errorf("video %s: %s", v.id, m)
	}
	t.Logf("video %s: %d playlists and segments fetched", v.id, fetched)
}

// missingObjects returns what is wrong with the stream of a READY video
// (each object its playlists name that the store does not serve), and how
// many objects it fetched.
func (f *fleet) missingObjects(t testing.TB, v ackedVideo) (missing []string, fetched int) {
	t.Helper()
	var got struct {
		Lecture struct {
			Video struct {
				ID          string
				Status      string
				PlaybackURL *string
			}
		}
	}
	decode(t, f.serves[0].api().graphql(t, f.instructor, `query($l: ID!) { lecture(id: $l) { video { id status playbackUrl } } }`,
		map[string]any{"l": v.lectureID}).ok(t), &got)
	video := got.Lecture.Video
	if video.ID != v.id || video.Status != "READY" || video.PlaybackURL == nil {
		return []string{fmt.Sprintf("lecture %s plays %+v, want video %s READY with a playback URL", v.lectureID, video, v.id)}, 0
	}
	master := *video.PlaybackURL
	body, problem := fetchObject(master)
	if problem != "" {
		return []string{"master playlist: " + problem}, 0
	}
	variants := playlistURIs(t, master, body)
	if len(variants) == 0 {
		missing = append(missing, "the master playlist names no variant")
	}
	for _, variant := range variants {
		body, problem := fetchObject(variant)
		fetched++
		if problem != "" {
			missing = append(missing, "variant playlist: "+problem)
			continue
		}
		segments := playlistURIs(t, variant, body)
		if len(segments) == 0 {
			missing = append(missing, "variant playlist "+variant+" names no segment")
		}
		for _, u := range segments {
			if _, problem := fetchObject(u); problem != "" {
				missing = append(missing, "segment: "+problem)
			}
			fetched++
		}
	}
	return missing, fetched
}

// playlistURIs returns the URIs an HLS playlist at base refers to, resolved:
// its URI lines and the URI attributes of its tags (EXT-X-MAP, EXT-X-MEDIA).
func playlistURIs(t testing.TB, base, body string) []string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			if _, rest, ok := strings.Cut(line, `URI="`); ok {
				ref, _, _ := strings.Cut(rest, `"`)
				refs = append(refs, ref)
			}
		default:
			refs = append(refs, line)
		}
	}
	var out []string
	for _, ref := range refs {
		u, err := b.Parse(ref)
		if err != nil {
			t.Errorf("playlist %s names %q: %v", base, ref, err)
			continue
		}
		if !slices.Contains(out, u.String()) {
			out = append(out, u.String())
		}
	}
	return out
}

// fetchObject GETs a stored object and returns its body, or what is wrong
// unless it is there and not empty.
func fetchObject(u string) (body, problem string) {
	resp, err := http.Get(u)
	if err != nil {
		return "", fmt.Sprintf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err != nil || len(b) == 0 {
		return "", fmt.Sprintf("GET %s: %s with %d bytes (%v), want the stored object", u, resp.Status, len(b), err)
	}
	return string(b), ""
}

// ffmpegOf returns the pids of the ffmpeg processes the worker started
// (its children whose command line names the fleet's work dir).
func (f *fleet) ffmpegOf(t testing.TB, w *member) []int {
	t.Helper()
	var pids []int
	for _, pid := range processesUnder(t, f.workRoot) {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command's name, which is in parentheses
		// and may hold spaces: state, then the parent's pid.
		_, rest, _ := strings.Cut(string(stat), ") ")
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(w.pid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitFor polls cond until it holds, failing the test after limit: the
// waits of a fault (a failover, a recovery) are longer than WaitLimit.
func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// writer makes mutations through every serve, in turn, while a fault
// lasts: it records those acknowledged in the ledger and counts the
// refusals by their code, for the scenario to report.
type writer struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	acked   int
	lastAck time.Time
	refused map[string]int
}

// startWriting starts a writer that creates lectures in the course as the
// fleet's instructor until stopWriting.
func (f *fleet) startWriting(courseID string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{}), refused: map[string]int{}}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			in := f.serves[i%len(f.serves)].api()
			r := in.graphqlNoFatal(f.instructor, `mutation($c: ID!, $t: String!) { createLecture(input: {courseId: $c, title: $t}) { id } }`,
				map[string]any{"c": courseID, "t": fmt.Sprintf("Written during the fault %d", i)})
			lecture, _ := r.Data["createLecture"].(map[string]any)
			id, _ := lecture["id"].(string)
			w.mu.Lock()
			if r.Status == http.StatusOK && len(r.Errors) == 0 && id != "" {
				f.acked.lecture(id)
				w.acked++
				w.lastAck = time.Now()
			} else {
				code := r.code()
				if code == "" {
					code = fmt.Sprintf("HTTP %d", r.Status)
				}
				w.refused[code]++
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// stopWriting waits until a write made after the fault ended is
// acknowledged (the fleet takes writes again), stops the writer and
// reports what it did.
func (w *writer) stopWriting(t testing.TB, faultEnded time.Time) {
	t.Helper()
	waitFor(t, "a write acknowledged after the fault", testenv.WaitLimit, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.lastAck.After(faultEnded)
	})
	close(w.stop)
	select {
	case <-w.done:
	case <-time.After(testenv.WaitLimit):
		t.Fatal("the writer did not stop")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("writes around the fault: %d acknowledged, refused %v", w.acked, w.refused)
}

// deleteSegment deletes one HLS segment of the fleet's store, behind the
// fleet's back, and returns its key: the fault that checkStored is there
// to find.
func (f *fleet) deleteSegment(t testing.TB) string {
	t.Helper()
	client := awss3.New(awss3.Options{
		Region:       f.s3.Region,
		BaseEndpoint: aws.String(f.s3.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(f.s3.AccessKey, f.s3.SecretKey, ""),
	})
	ctx := context.Background()
	list, err := client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &f.bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if strings.HasSuffix(*o.Key, ".ts") || strings.HasSuffix(*o.Key, ".m4s") {
			if _, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &f.bucket, Key: o.Key}); err != nil {
				t.Fatal(err)
			}
			return *o.Key
		}
	}
	t.Fatalf("no segment among the %d objects of bucket %s", len(list.Contents), f.bucket)
	return ""
}

// redisClient returns a client of EDUSTREAM_REDIS_URL's forms that the
// suite uses (a server, or Sentinel with master_name), closed when the
// test ends.
func redisClient(t testing.TB, raw string) goredis.UniversalClient {
	t.Helper()
	var c goredis.UniversalClient
	if strings.Contains(raw, "master_name=") {
		opts, err := goredis.ParseFailoverURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		c = goredis.NewFailoverClient(opts)
	} else {
		opts, err := goredis.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		c = goredis.NewClient(opts)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refusals returns how many writes were refused, by code.
func (w *writer) refusals() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.refused)
}
