package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/sqldb"
)

// The benchmarks of learning progress (docs/benchmarks.md, "Learning
// progress"): the cost of a beat through the real handler, beside the
// plain upsert that is its floor, and Lecture.analytics over 10,000
// learners. TestBeatLoad is the load run: 1,000 learners beating every
// 10 s for a minute.

// beatEnv is a database with a published course whose lectures have READY
// videos of an hour, learners enrolled in it, and the full handler.
type beatEnv struct {
	db         *sqldb.DB
	raw        *sql.DB
	engine     string
	handler    http.Handler
	instructor string
	lectures   []int64
	tokens     []string
	userIDs    []int64
	// now is the progress flow's clock (unix nanoseconds), which the
	// benchmarks move so that beats sent faster than real time stay
	// plausible; nil: the real clock.
	now *atomic.Int64
	// states are the learners' players, shared by every variant so that
	// none replays another's beats (a replay writes nothing).
	states []learnerState
}

// openBeatDB opens MariaDB when EDUSTREAM_TEST_MYSQL_DSN is set, SQLite
// otherwise, migrated, with a raw connection for the floor and seeding.
func openBeatDB(tb testing.TB) (*sqldb.DB, *sql.DB, string) {
	tb.Helper()
	ctx := context.Background()
	if testenv.MySQLConfigured() {
		dsn := testenv.MySQLDSN(tb)
		db, err := sqldb.OpenMySQL(ctx, dsn, "")
		if err != nil {
			tb.Fatal(err)
		}
		cfg, _ := mysql.ParseDSN(dsn)
		cfg.InterpolateParams, cfg.ParseTime, cfg.Loc = true, true, time.UTC
		raw, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { raw.Close(); db.Close() })
		if err := db.Migrate(ctx); err != nil {
			tb.Fatal(err)
		}
		return db, raw, sqldb.EngineMySQL
	}
	path := filepath.Join(tb.TempDir(), "bench.db")
	db, err := sqldb.OpenSQLite(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_time_integer_format=unix_micro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close(); db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db, raw, sqldb.EngineSQLite
}

// newBeatEnv seeds lectures lectures (of an hour each) and learners
// learners, and builds the handler; fakeClock makes the progress flow's
// clock the env's.
func newBeatEnv(tb testing.TB, learners, lectures int, fakeClock bool) *beatEnv {
	tb.Helper()
	ctx := context.Background()
	db, raw, engine := openBeatDB(tb)
	env := &beatEnv{db: db, raw: raw, engine: engine}
	users := sqldb.NewUserService(db)
	courses := sqldb.NewCourseService(db, nil)
	lectureSvc := sqldb.NewLectureService(db, nil)
	videos := sqldb.NewVideoService(db, nil)
	enrollments := sqldb.NewEnrollmentService(db, nil)
	secret := []byte(testSecret)

	inst, err := users.UpsertUser(ctx, edustream.Claims{Subject: "instructor", Role: edustream.RoleInstructor, Name: "Instructor"})
	if err != nil {
		tb.Fatal(err)
	}
	if env.instructor, err = server.IssueToken(secret, edustream.Claims{Subject: "instructor", Role: edustream.RoleInstructor, Name: "Instructor"}, "", "", 24*time.Hour); err != nil {
		tb.Fatal(err)
	}
	publish := true
	c := &edustream.Course{InstructorID: inst.ID, Title: "Benchmarked"}
	if err := courses.CreateCourse(ctx, c); err != nil {
		tb.Fatal(err)
	}
	if _, err := courses.UpdateCourse(ctx, c.ID, edustream.CourseUpdate{Published: &publish}); err != nil {
		tb.Fatal(err)
	}
	for i := range lectures {
		l := &edustream.Lecture{CourseID: c.ID, Title: "Lecture " + strconv.Itoa(i)}
		if err := lectureSvc.CreateLecture(ctx, l); err != nil {
			tb.Fatal(err)
		}
		readyBenchVideo(tb, videos, l.ID, inst.ID, 3600)
		env.lectures = append(env.lectures, l.ID)
	}
	for i := range learners {
		claims := edustream.Claims{Subject: "learner-" + strconv.Itoa(i), Role: edustream.RoleStudent, Name: "Learner " + strconv.Itoa(i)}
		u, err := users.UpsertUser(ctx, claims)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := enrollments.Enroll(ctx, u.ID, c.ID); err != nil {
			tb.Fatal(err)
		}
		tok, err := server.IssueToken(secret, claims, "", "", 24*time.Hour)
		if err != nil {
			tb.Fatal(err)
		}
		env.tokens, env.userIDs = append(env.tokens, tok), append(env.userIDs, u.ID)
	}
	env.states = make([]learnerState, learners)

	progress := &edustream.Progress{Store: sqldb.NewProgressService(db)}
	if fakeClock {
		env.now = &atomic.Int64{}
		env.now.Store(time.Now().UnixNano())
		progress.Now = func() time.Time { return time.Unix(0, env.now.Load()) }
	}
	auth := server.NewAuthenticator(server.NewHS256Verifier(secret, "", ""), users, nil)
	gql := graph.NewHandler(graph.Config{Config: gqlhttp.Config{Auth: auth}}, &graph.Resolver{
		UserService: users, CourseService: courses, LectureService: lectureSvc, EnrollmentService: enrollments,
		VideoService: videos, Progress: progress, PublicCatalog: true,
	})
	env.handler = server.New(server.Config{Logger: slog.New(slog.DiscardHandler), GraphQL: gql, Auth: auth, Progress: progress})
	return env
}

func readyBenchVideo(tb testing.TB, videos *sqldb.VideoService, lectureID, uploaderID int64, duration float64) {
	tb.Helper()
	ctx := context.Background()
	v := &edustream.Video{LectureID: lectureID, UploaderID: uploaderID, FileName: "talk.mp4", ContentType: "video/mp4", SizeBytes: 1}
	if err := videos.CreateVideo(ctx, v); err != nil {
		tb.Fatal(err)
	}
	uploaded, probe, processing := edustream.VideoUploaded, edustream.StageProbe, edustream.VideoProcessing
	var err error
	if v, err = videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &uploaded, Stage: &probe}); err != nil {
		tb.Fatal(err)
	}
	media := &edustream.MediaInfo{DurationSeconds: duration, Width: 1280, Height: 720, VideoCodec: "h264"}
	if v, err = videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &processing, Media: media, Renditions: edustream.Ladder(media)}); err != nil {
		tb.Fatal(err)
	}
	for v.Stage != edustream.StageComplete {
		next, _ := v.Stage.Next()
		if v, err = videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Stage: &next}); err != nil {
			tb.Fatal(err)
		}
	}
	if _, _, err := videos.CompleteVideo(ctx, v.ID); err != nil {
		tb.Fatal(err)
	}
}

// learnerState is where one simulated learner's player is.
type learnerState struct {
	mu       sync.Mutex
	position float64
	lecture  int64
}

// nextBeat returns the body of learner i's next beat: ten more seconds
// played, as recordWatch's variables or as the beacon's body.
func (env *beatEnv) nextBeat(i int, s *learnerState, beacon bool) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lecture == 0 || s.position >= 3600 {
		s.lecture, s.position = env.lectures[i%len(env.lectures)], 0
	}
	from := s.position
	s.position += 10
	in := map[string]any{"lectureId": strconv.FormatInt(s.lecture, 10), "positionSeconds": s.position,
		"played": []map[string]float64{{"start": from, "end": s.position}}, "playbackRate": 1, "sessionId": "bench-" + strconv.Itoa(i)}
	if beacon {
		in["token"] = env.tokens[i]
		b, _ := json.Marshal(in)
		return b
	}
	b, _ := json.Marshal(map[string]any{
		"query":     `mutation($in: RecordWatchInput!) { recordWatch(input: $in) { positionSeconds } }`,
		"variables": map[string]any{"in": in},
	})
	return b
}

// beat sends learner i's next beat through the handler and checks it.
func (env *beatEnv) beat(tb testing.TB, i int, s *learnerState, beacon bool) {
	body := env.nextBeat(i, s, beacon)
	var req *http.Request
	if beacon {
		req = httptest.NewRequest(http.MethodPost, server.BeaconPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	} else {
		req = httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+env.tokens[i])
	}
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)
	ok := rec.Code == http.StatusNoContent || (rec.Code == http.StatusOK && !bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)))
	if !ok {
		tb.Fatalf("beat of learner %d: status %d: %.300s", i, rec.Code, rec.Body.String())
	}
}

// floorUpsert is the least a beat must write: one INSERT … ON DUPLICATE
// KEY UPDATE (SQLite: ON CONFLICT … DO UPDATE) of a row of the same
// columns and size, with no read, no auth, no HTTP.
func (env *beatEnv) floorUpsert(tb testing.TB, i int, s *learnerState) {
	s.mu.Lock()
	s.position += 10
	pos := s.position
	s.mu.Unlock()
	upsert := `INSERT INTO lecture_progress (lecture_id, user_id, video_id, video_duration, watched, watched_seconds, position_seconds,
  played_seconds, learner, completed_at, last_watched_at, budget_at, recent_beats, version, created_at)
VALUES (?, ?, 1, 3600, ?, ?, ?, ?, 1, NULL, ?, ?, ?, 1, ?)
ON DUPLICATE KEY UPDATE watched = VALUES(watched), watched_seconds = VALUES(watched_seconds), position_seconds = VALUES(position_seconds),
  played_seconds = VALUES(played_seconds), last_watched_at = VALUES(last_watched_at), budget_at = VALUES(budget_at),
  recent_beats = VALUES(recent_beats), version = version + 1`
	if env.engine == sqldb.EngineSQLite {
		upsert = strings.Replace(upsert, "ON DUPLICATE KEY UPDATE", "ON CONFLICT (lecture_id, user_id) DO UPDATE SET", 1)
		upsert = strings.NewReplacer("VALUES(watched)", "excluded.watched", "VALUES(watched_seconds)", "excluded.watched_seconds",
			"VALUES(position_seconds)", "excluded.position_seconds", "VALUES(played_seconds)", "excluded.played_seconds",
			"VALUES(last_watched_at)", "excluded.last_watched_at", "VALUES(budget_at)", "excluded.budget_at",
			"VALUES(recent_beats)", "excluded.recent_beats").Replace(upsert)
	}
	watched, _ := edustream.WatchedSeconds{{Start: 0, End: int32(pos)}}.MarshalBinary()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := env.raw.ExecContext(context.Background(), upsert, env.lectures[i%len(env.lectures)]+1_000_000, env.userIDs[i],
		watched, pos, pos, pos, now, now, make([]byte, 32), now); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkBeat is one beat, three ways (ratios: internal/cmd/alternate,
// since -count N runs each way's rounds back to back):
//
//   - floor: the plain upsert of the same row (no read, no auth, no HTTP);
//   - recordWatch: the GraphQL mutation through the whole handler;
//   - beacon: the same beat as sendBeacon posts it.
//
// Each op is the next learner's (of 1,000), ten more seconds played; the
// flow's clock moves 10 s per round of learners, so every beat is
// plausible however fast they are sent.
func BenchmarkBeat(b *testing.B) {
	env := newBeatEnv(b, 1000, 10, true)
	var next atomic.Int64
	run := func(b *testing.B, op func(i int, s *learnerState)) {
		parallel(b, func() {
			n := next.Add(1) - 1
			i := int(n % int64(len(env.states)))
			if i == 0 {
				env.now.Add(int64(10 * time.Second))
			}
			op(i, &env.states[i])
		})
	}
	b.Run("floor", func(b *testing.B) { run(b, func(i int, s *learnerState) { env.floorUpsert(b, i, s) }) })
	b.Run("recordWatch", func(b *testing.B) { run(b, func(i int, s *learnerState) { env.beat(b, i, s, false) }) })
	b.Run("beacon", func(b *testing.B) { run(b, func(i int, s *learnerState) { env.beat(b, i, s, true) }) })
}

// BenchmarkLectureAnalytics is Lecture.analytics with its retention curve,
// as the instructor, on a lecture of an hour with 10,000 learners who
// watched from one to three stretches of it (seeded with raw SQL: it is
// the read that is measured).
func BenchmarkLectureAnalytics(b *testing.B) {
	env := newBeatEnv(b, 1, 1, false)
	lecture := env.lectures[0]
	seedLearners(b, env, lecture, 10000)
	body, _ := json.Marshal(map[string]any{
		"query": `query($id: ID!) { lecture(id: $id) { analytics { viewers completions completionRate averageWatchedFraction
			watchTimeSeconds retention(buckets: 100) } } }`,
		"variables": map[string]any{"id": strconv.FormatInt(lecture, 10)},
	})
	post := func() {
		req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+env.instructor)
		rec := httptest.NewRecorder()
		env.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"viewers":10000`)) {
			b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
		}
	}
	post()
	b.ReportAllocs()
	b.ResetTimer()
	defer testenv.ReportCPU(b)()
	for range b.N {
		post()
	}
}

// seedLearners inserts n learners of the lecture, each with a progress
// row of one to three stretches watched, in batches.
func seedLearners(tb testing.TB, env *beatEnv, lectureID int64, n int) {
	tb.Helper()
	ctx := context.Background()
	var videoID int64
	if err := env.raw.QueryRowContext(ctx, "SELECT video_id FROM lectures WHERE id = ?", lectureID).Scan(&videoID); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC().Truncate(time.Microsecond)
	const batch = 500
	for start := 0; start < n; start += batch {
		var users, rows []string
		var userArgs, rowArgs []any
		for i := start; i < min(start+batch, n); i++ {
			users = append(users, "(?, ?, ?, ?, ?, ?)")
			userArgs = append(userArgs, "seeded-"+strconv.Itoa(i), "", "Seeded "+strconv.Itoa(i), edustream.RoleStudent, now, now)
		}
		if _, err := env.raw.ExecContext(ctx, "INSERT INTO users (subject, email, name, role, created_at, updated_at) VALUES "+strings.Join(users, ", "), userArgs...); err != nil {
			tb.Fatal(err)
		}
		var first int64
		if err := env.raw.QueryRowContext(ctx, "SELECT id FROM users WHERE subject = ?", "seeded-"+strconv.Itoa(start)).Scan(&first); err != nil {
			tb.Fatal(err)
		}
		for i := start; i < min(start+batch, n); i++ {
			var w edustream.WatchedSeconds
			for range 1 + rng.IntN(3) {
				from := rng.Float64() * 3600
				w = w.Add(from, min(from+rng.Float64()*1800, 3600))
			}
			enc, _ := w.MarshalBinary()
			watched := float64(w.Seconds())
			var completed any
			if watched >= 0.9*3600 {
				completed = now
			}
			rows = append(rows, "(?, ?, ?, 3600, ?, ?, ?, ?, 1, ?, ?, ?, ?, 1, ?)")
			rowArgs = append(rowArgs, lectureID, first+int64(i-start), videoID, enc, watched, watched, watched*1.1, completed, now, now, make([]byte, 32), now)
		}
		if _, err := env.raw.ExecContext(ctx, `INSERT INTO lecture_progress (lecture_id, user_id, video_id, video_duration, watched,
  watched_seconds, position_seconds, played_seconds, learner, completed_at, last_watched_at, budget_at, recent_beats, version, created_at)
VALUES `+strings.Join(rows, ", "), rowArgs...); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestBeatLoad is the load run of docs/benchmarks.md, not a test: with
// EDUSTREAM_BEAT_LOAD set to a duration (60s in the docs), 1,000 learners
// beat every 10 s (100 beats/s, open loop: a slow beat does not slow the
// next) through the whole handler, on MariaDB when
// EDUSTREAM_TEST_MYSQL_DSN is set; then the same schedule runs the floor's
// plain upserts. It logs throughput, latency percentiles and CPU per
// beat, and asserts nothing about them.
func TestBeatLoad(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("EDUSTREAM_BEAT_LOAD"))
	if err != nil {
		t.Skip("EDUSTREAM_BEAT_LOAD (a duration) not set: the load run is for docs/benchmarks.md")
	}
	env := newBeatEnv(t, 1000, 10, false)
	t.Logf("engine %s, %d learners, one beat every 10 s each, for %v", env.engine, len(env.tokens), d)
	// One round unmeasured: every learner's first request signs them in
	// (a users upsert, then the authenticator's cache), and the pools
	// open their connections.
	openLoop(env.states, 10*time.Second, 10*time.Second, func(i int, s *learnerState) { env.beat(t, i, s, false) })
	for _, v := range []struct {
		name string
		op   func(i int, s *learnerState)
	}{
		{"recordWatch", func(i int, s *learnerState) { env.beat(t, i, s, false) }},
		{"beacon", func(i int, s *learnerState) { env.beat(t, i, s, true) }},
		{"floor", func(i int, s *learnerState) { env.floorUpsert(t, i, s) }},
	} {
		r := openLoop(env.states, 10*time.Second, d, v.op)
		load, _ := os.ReadFile("/proc/loadavg")
		t.Logf("%-12s %5d beats in %v: %6.1f/s, p50 %6.2f ms, p99 %6.2f ms, max %6.2f ms, CPU %5.0f µs/beat (load average %s)",
			v.name, r.n, r.elapsed.Round(time.Millisecond), float64(r.n)/r.elapsed.Seconds(),
			ms(r.percentile(0.50)), ms(r.percentile(0.99)), ms(r.percentile(1)), float64(r.cpu.Microseconds())/float64(r.n),
			strings.Join(strings.Fields(string(load))[:3], " "))
	}
}

type loadResult struct {
	n         int
	elapsed   time.Duration
	cpu       time.Duration
	latencies []time.Duration
}

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(int(p*float64(len(r.latencies))), len(r.latencies)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// openLoop starts op for each learner once per period, spread evenly
// (len(states)/period ops a second), for d, each on its own goroutine,
// and measures each op's latency and the process's CPU time.
func openLoop(states []learnerState, period, d time.Duration, op func(i int, s *learnerState)) loadResult {
	learners := len(states)
	interval := period / time.Duration(learners)
	var mu sync.Mutex
	var r loadResult
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	for n := 0; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		i := n % learners
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			op(i, &states[i])
			lat := time.Since(t0)
			mu.Lock()
			r.latencies = append(r.latencies, lat)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed, r.cpu, r.n = time.Since(start), processCPU()-cpu0, len(r.latencies)
	slices.Sort(r.latencies)
	return r
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
