package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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

// The benchmarks measure the whole HTTP handler (auth, GraphQL, loaders,
// storage) on a catalog of 20 courses × 10 lectures, against a floor that
// runs the same three SQL queries by hand and encodes the same JSON. Results
// and how to read them: docs/benchmarks.md.

const benchCatalogQuery = `{ courses(first: 20) { edges { node { id title description instructor { id name } lectures { id position title } } } } }`

// benchEnv is one engine's seeded database, the full handler over it
// (without and with the response cache), and a raw connection for the
// floor.
type benchEnv struct {
	handler http.Handler
	// gql and cachedGQL are the GraphQL handlers of handler and cached,
	// auth their authenticator, for benchmarks that mount them otherwise.
	gql, cachedGQL http.Handler
	auth           edustream.Authenticator
	// cached is the handler with a response cache, as serve runs it.
	cached  http.Handler
	cache   *gqlhttp.ResponseCache
	raw     *sql.DB
	token   string
	lecture int64
	queries atomic.Int64
}

func forEachEngine(b *testing.B, fn func(b *testing.B, env *benchEnv)) {
	b.Run("sqlite", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "bench.db")
		db, err := sqldb.OpenSQLite(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		if err != nil {
			b.Fatal(err)
		}
		fn(b, newBenchEnv(b, db, raw))
	})
	b.Run("mysql", func(b *testing.B) {
		if !testenv.MySQLConfigured() {
			b.Skip("EDUSTREAM_TEST_MYSQL_DSN not set")
		}
		dsn := testenv.MySQLDSN(b)
		db, err := sqldb.OpenMySQL(context.Background(), dsn, "")
		if err != nil {
			b.Fatal(err)
		}
		cfg, _ := mysql.ParseDSN(dsn)
		cfg.InterpolateParams = true
		raw, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			b.Fatal(err)
		}
		fn(b, newBenchEnv(b, db, raw))
	})
}

func newBenchEnv(b *testing.B, db *sqldb.DB, raw *sql.DB) *benchEnv {
	b.Helper()
	ctx := context.Background()
	b.Cleanup(func() { raw.Close(); db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	users := sqldb.NewUserService(db)
	courses := sqldb.NewCourseService(db, nil)
	lectures := sqldb.NewLectureService(db, nil)
	env := &benchEnv{raw: raw}
	publish := true
	for i := range 20 {
		instructor, err := users.UpsertUser(ctx, edustream.Claims{Subject: fmt.Sprintf("instructor-%d", i%5), Role: edustream.RoleInstructor, Name: fmt.Sprintf("Instructor %d", i%5)})
		if err != nil {
			b.Fatal(err)
		}
		c := &edustream.Course{InstructorID: instructor.ID, Title: fmt.Sprintf("Course %d", i), Description: strings.Repeat("A course about video. ", 5)}
		if err := courses.CreateCourse(ctx, c); err != nil {
			b.Fatal(err)
		}
		for j := range 10 {
			l := &edustream.Lecture{CourseID: c.ID, Title: fmt.Sprintf("Lecture %d.%d", i, j)}
			if err := lectures.CreateLecture(ctx, l); err != nil {
				b.Fatal(err)
			}
			env.lecture = l.ID
		}
		if _, err := courses.UpdateCourse(ctx, c.ID, edustream.CourseUpdate{Published: &publish}); err != nil {
			b.Fatal(err)
		}
	}
	secret := []byte(testSecret)
	auth := server.NewAuthenticator(server.NewHS256Verifier(secret, "", ""), users, nil)
	resolver := &graph.Resolver{
		UserService:       users,
		CourseService:     courses,
		LectureService:    lectures,
		EnrollmentService: sqldb.NewEnrollmentService(db, nil),
		PublicCatalog:     true,
	}
	gql := graph.NewHandler(graph.Config{Config: gqlhttp.Config{Auth: auth}}, resolver)
	env.handler = server.New(server.Config{Logger: slog.New(slog.DiscardHandler), GraphQL: gql, Auth: auth})
	env.cache = gqlhttp.NewResponseCache(gqlhttp.ResponseCacheConfig{MaxBytes: defaultsFor("serve").ResponseCacheBytes})
	cached := graph.NewHandler(graph.Config{Config: gqlhttp.Config{Auth: auth, ResponseCache: env.cache}}, resolver)
	env.cached = server.New(server.Config{Logger: slog.New(slog.DiscardHandler), GraphQL: cached, Auth: auth})
	env.gql, env.cachedGQL, env.auth = gql, cached, auth
	tok, err := server.IssueToken(secret, edustream.Claims{Subject: "student", Role: edustream.RoleStudent, Name: "Student"}, "", "", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	env.token = tok
	db.SetQueryHook(func(string) { env.queries.Add(1) })
	return env
}

// post runs one GraphQL request through the handler and checks it.
func (env *benchEnv) post(b *testing.B, body []byte, want string) {
	env.postTo(b, env.handler, env.token, body, want)
}

// postTo runs one request through h, as the student (or anonymously, with
// no token), and checks it.
func (env *benchEnv) postTo(b *testing.B, h http.Handler, token string, body []byte, want string) {
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(want)) || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
		b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
	}
}

func (env *benchEnv) reportQueries(b *testing.B) {
	b.ReportMetric(float64(env.queries.Load())/float64(b.N), "queries/op")
}

// parallel runs op on every P (2 on the machine of the results), so ns/op
// is the inverse of throughput; it reports allocations and CPU time.
func parallel(b *testing.B, op func()) {
	b.ReportAllocs()
	b.ResetTimer()
	defer testenv.ReportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
}

// BenchmarkCatalog is the catalog page, per engine, four ways (-count N
// runs each N times before the next: ratios between them come from
// internal/cmd/alternate's rounds, docs/benchmarks.md):
//
//   - floor: the same three SQL queries by hand and encoding/json of the
//     same response, no auth, no GraphQL: the least any implementation
//     must do;
//   - graphql: the full handler as the student, no response cache;
//   - cached: the same with the response cache, every request a hit;
//   - cached-anonymous: the same without a token (no JWT to verify).
func BenchmarkCatalog(b *testing.B) {
	forEachEngine(b, func(b *testing.B, env *benchEnv) {
		body, _ := json.Marshal(map[string]string{"query": benchCatalogQuery})
		b.Run("floor", func(b *testing.B) {
			if out := catalogFloor(b, env.raw); !bytes.Contains(out, []byte("Lecture 0.9")) {
				b.Fatalf("floor output: %.300s", out)
			}
			parallel(b, func() { catalogFloor(b, env.raw) })
			b.ReportMetric(3, "queries/op")
		})
		b.Run("graphql", func(b *testing.B) {
			env.post(b, body, "Lecture 0.9") // warms the query cache and the auth cache
			env.queries.Store(0)
			parallel(b, func() { env.post(b, body, "Lecture 0.9") })
			env.reportQueries(b)
		})
		for _, who := range []struct{ name, token string }{{"cached", env.token}, {"cached-anonymous", ""}} {
			b.Run(who.name, func(b *testing.B) {
				env.postTo(b, env.cached, who.token, body, "Lecture 0.9") // fills the cache
				env.queries.Store(0)
				hits := env.cache.Stats().Hits
				parallel(b, func() { env.postTo(b, env.cached, who.token, body, "Lecture 0.9") })
				if got := env.cache.Stats().Hits - hits; got < int64(b.N) {
					b.Fatalf("%d of %d requests were cache hits", got, b.N)
				}
				env.reportQueries(b)
			})
		}
	})
}

// BenchmarkLecture is a single lecture with its course.
func BenchmarkLecture(b *testing.B) {
	forEachEngine(b, func(b *testing.B, env *benchEnv) {
		body, _ := json.Marshal(map[string]any{
			"query":     `query($id: ID!) { lecture(id: $id) { id title position course { id title } } }`,
			"variables": map[string]any{"id": strconv.FormatInt(env.lecture, 10)},
		})
		env.post(b, body, "Lecture 19.9")
		env.queries.Store(0)
		parallel(b, func() { env.post(b, body, "Lecture 19.9") })
		env.reportQueries(b)
	})
}

type floorUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type floorLecture struct {
	ID       string `json:"id"`
	Position int    `json:"position"`
	Title    string `json:"title"`
}

type floorCourse struct {
	ID           string         `json:"id"`
	Title        string         `json:"title"`
	Description  string         `json:"description"`
	Instructor   *floorUser     `json:"instructor"`
	Lectures     []floorLecture `json:"lectures"`
	instructorID int64
}

func catalogFloor(b *testing.B, db *sql.DB) []byte {
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT id, instructor_id, title, description FROM courses
		WHERE deleted_at IS NULL AND published_at IS NOT NULL ORDER BY id DESC LIMIT 21`)
	if err != nil {
		b.Fatal(err)
	}
	var courses []*floorCourse
	byID := map[string]*floorCourse{}
	var courseIDs, instructorIDs []string
	for rows.Next() {
		c := &floorCourse{}
		var id int64
		if err := rows.Scan(&id, &c.instructorID, &c.Title, &c.Description); err != nil {
			b.Fatal(err)
		}
		c.ID = strconv.FormatInt(id, 10)
		if len(courses) < 20 {
			courses = append(courses, c)
			byID[c.ID] = c
			courseIDs = append(courseIDs, c.ID)
			instructorIDs = append(instructorIDs, strconv.FormatInt(c.instructorID, 10))
		}
	}
	rows.Close()

	users := map[int64]*floorUser{}
	rows, err = db.QueryContext(ctx, `SELECT id, name FROM users WHERE id IN (`+strings.Join(instructorIDs, ",")+`)`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int64
		u := &floorUser{}
		if err := rows.Scan(&id, &u.Name); err != nil {
			b.Fatal(err)
		}
		u.ID = strconv.FormatInt(id, 10)
		users[id] = u
	}
	rows.Close()

	rows, err = db.QueryContext(ctx, `SELECT id, course_id, position, title FROM lectures
		WHERE course_id IN (`+strings.Join(courseIDs, ",")+`) ORDER BY course_id, position`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id, courseID int64
		var l floorLecture
		if err := rows.Scan(&id, &courseID, &l.Position, &l.Title); err != nil {
			b.Fatal(err)
		}
		l.ID = strconv.FormatInt(id, 10)
		c := byID[strconv.FormatInt(courseID, 10)]
		c.Lectures = append(c.Lectures, l)
	}
	rows.Close()

	type edge struct {
		Node *floorCourse `json:"node"`
	}
	edges := make([]edge, len(courses))
	for i, c := range courses {
		c.Instructor = users[c.instructorID]
		edges[i] = edge{c}
	}
	out, err := json.Marshal(map[string]any{"data": map[string]any{"courses": map[string]any{"edges": edges}}})
	if err != nil {
		b.Fatal(err)
	}
	return out
}
