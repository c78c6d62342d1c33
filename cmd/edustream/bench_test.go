package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
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
	"github.com/edustream/edustream/storage/local"
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
	// student is the token's user, enrolled in lecture's course, whose
	// READY video the lecture page plays.
	student int64
	blobs   edustream.BlobStore
	queries atomic.Int64
}

// benchPlaybackKey signs the benchmarks' playback URLs.
var benchPlaybackKey = []byte(strings.Repeat("p", 32))

const benchBaseURL = "http://edustream.test"

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
	var instructorID int64
	for i := range 20 {
		instructor, err := users.UpsertUser(ctx, edustream.Claims{Subject: fmt.Sprintf("instructor-%d", i%5), Role: edustream.RoleInstructor, Name: fmt.Sprintf("Instructor %d", i%5)})
		if err != nil {
			b.Fatal(err)
		}
		instructorID = instructor.ID
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
	// The last lecture plays a READY video to the enrolled student.
	studentClaims := edustream.Claims{Subject: "student", Role: edustream.RoleStudent, Name: "Student"}
	student, err := users.UpsertUser(ctx, studentClaims)
	if err != nil {
		b.Fatal(err)
	}
	env.student = student.ID
	enrollments := sqldb.NewEnrollmentService(db, nil)
	lecture, err := lectures.FindLectureByID(ctx, env.lecture)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := enrollments.Enroll(ctx, student.ID, lecture.CourseID); err != nil {
		b.Fatal(err)
	}
	videos := sqldb.NewVideoService(db, nil)
	readyBenchVideo(b, videos, env.lecture, instructorID, 3600)
	blobs, err := local.New(local.Config{Dir: b.TempDir(), BaseURL: benchBaseURL, SigningKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		b.Fatal(err)
	}
	env.blobs = blobs
	playback, err := server.NewPlayback(server.PlaybackConfig{BaseURL: benchBaseURL, Key: benchPlaybackKey, Blobs: blobs})
	if err != nil {
		b.Fatal(err)
	}

	secret := []byte(testSecret)
	auth := server.NewAuthenticator(server.NewHS256Verifier(secret, "", ""), users, nil)
	resolver := &graph.Resolver{
		UserService:       users,
		CourseService:     courses,
		LectureService:    lectures,
		EnrollmentService: enrollments,
		VideoService:      videos,
		Playback:          playback,
		PublicCatalog:     true,
	}
	gql := graph.NewHandler(graph.Config{Config: gqlhttp.Config{Auth: auth}}, resolver)
	env.handler = server.New(server.Config{Logger: slog.New(slog.DiscardHandler), GraphQL: gql, Auth: auth})
	env.cache = gqlhttp.NewResponseCache(gqlhttp.ResponseCacheConfig{MaxBytes: defaultsFor("serve").ResponseCacheBytes})
	cached := graph.NewHandler(graph.Config{Config: gqlhttp.Config{Auth: auth, ResponseCache: env.cache}}, resolver)
	env.cached = server.New(server.Config{Logger: slog.New(slog.DiscardHandler), GraphQL: cached, Auth: auth})
	env.gql, env.cachedGQL, env.auth = gql, cached, auth
	tok, err := server.IssueToken(secret, studentClaims, "", "", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	env.token = tok
	db.SetQueryHook(func(string) { env.queries.Add(1) })
	return env
}

// post runs one GraphQL request through the handler, checks it and
// returns the response body.
func (env *benchEnv) post(b *testing.B, body []byte, want string) []byte {
	return env.postTo(b, env.handler, env.token, body, want)
}

// postTo runs one request through h, as the student (or anonymously, with
// no token), checks it and returns the response body.
func (env *benchEnv) postTo(b *testing.B, h http.Handler, token string, body []byte, want string) []byte {
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
	return rec.Body.Bytes()
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

// benchLecturePageQuery is the page every student opens: a lecture, its
// course and its video with the URLs that play it (issue 16).
const benchLecturePageQuery = `query($id: ID!) { lecture(id: $id) { title course { title }
	video { status playbackUrl thumbnailUrl storyboardUrl renditions { name width height } } } }`

// BenchmarkLecturePage is the lecture page for the enrolled student, per
// engine, uncached, two ways:
//
//   - floor: the same four reads by hand (lecture, course, enrolment,
//     video), the same policy checks (CanViewCourse, CanWatchLecture), the
//     URLs signed once (one expiry and HMAC for the playlist and the
//     storyboard, one presigned poster URL) and encoding/json; no auth,
//     no GraphQL;
//   - graphql: the full handler as the student, no response cache.
//
// Setup checks that both answer the same page, URLs included.
func BenchmarkLecturePage(b *testing.B) {
	forEachEngine(b, func(b *testing.B, env *benchEnv) {
		body, _ := json.Marshal(map[string]any{
			"query":     benchLecturePageQuery,
			"variables": map[string]any{"id": strconv.FormatInt(env.lecture, 10)},
		})
		const want = `master.m3u8?exp=`
		sameLecturePage(b, lecturePageFloor(b, env), env.post(b, body, want))
		b.Run("floor", func(b *testing.B) {
			parallel(b, func() { lecturePageFloor(b, env) })
			b.ReportMetric(4, "queries/op")
		})
		b.Run("graphql", func(b *testing.B) {
			env.post(b, body, want)
			env.queries.Store(0)
			parallel(b, func() { env.post(b, body, want) })
			env.reportQueries(b)
		})
	})
}

type floorPage struct {
	Lecture struct {
		Title  string `json:"title"`
		Course struct {
			Title string `json:"title"`
		} `json:"course"`
		Video *floorVideo `json:"video"`
	} `json:"lecture"`
}

type floorVideo struct {
	Status        string           `json:"status"`
	PlaybackURL   *string          `json:"playbackUrl"`
	ThumbnailURL  *string          `json:"thumbnailUrl"`
	StoryboardURL *string          `json:"storyboardUrl"`
	Renditions    []floorRendition `json:"renditions"`
}

type floorRendition struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// lecturePageFloor is the least the lecture page must do: see
// BenchmarkLecturePage.
func lecturePageFloor(b *testing.B, env *benchEnv) []byte {
	ctx := context.Background()
	var page floorPage
	l := &page.Lecture
	var courseID int64
	var videoID sql.NullInt64
	if err := env.raw.QueryRowContext(ctx, `SELECT l.course_id, l.title, l.video_id FROM lectures l
		JOIN courses c ON c.id = l.course_id AND c.deleted_at IS NULL WHERE l.id = ?`, env.lecture).Scan(&courseID, &l.Title, &videoID); err != nil {
		b.Fatal(err)
	}
	c := &edustream.Course{ID: courseID}
	var published bool
	if err := env.raw.QueryRowContext(ctx, `SELECT instructor_id, title, published_at IS NOT NULL FROM courses
		WHERE id = ? AND deleted_at IS NULL`, courseID).Scan(&c.InstructorID, &l.Course.Title, &published); err != nil {
		b.Fatal(err)
	}
	if published {
		c.PublishedAt = &time.Time{}
	}
	u := &edustream.User{ID: env.student, Role: edustream.RoleStudent}
	if !edustream.CanViewCourse(u, c) {
		b.Fatal("the student may not see the course")
	}
	var one int
	err := env.raw.QueryRowContext(ctx, `SELECT 1 FROM enrollments WHERE user_id = ? AND course_id = ?`, u.ID, courseID).Scan(&one)
	if err != nil && err != sql.ErrNoRows {
		b.Fatal(err)
	}
	watch := edustream.CanWatchLecture(u, c, err == nil)
	if videoID.Valid {
		v := &edustream.Video{ID: videoID.Int64}
		var renditions []byte
		if err := env.raw.QueryRowContext(ctx, `SELECT status, renditions FROM videos WHERE id = ?`, v.ID).Scan(&v.Status, &renditions); err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(renditions, &v.Renditions); err != nil {
			b.Fatal(err)
		}
		fv := &floorVideo{Status: string(v.Status), Renditions: make([]floorRendition, len(v.Renditions))}
		for i, r := range v.Renditions {
			fv.Renditions[i] = floorRendition{r.Name, r.Width, r.Height}
		}
		if watch && v.Status == edustream.VideoReady {
			// One expiry and one signature for both of the API's URLs,
			// as server.Playback signs them.
			exp := time.Now().Add(server.DefaultPlaybackTTL).Truncate(time.Minute).Add(time.Minute).Unix()
			m := hmac.New(sha256.New, benchPlaybackKey)
			fmt.Fprintf(m, "play\n%d\n%d", v.ID, exp)
			query := "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + hex.EncodeToString(m.Sum(nil))
			prefix := benchBaseURL + "/play/" + strconv.FormatInt(v.ID, 10) + "/"
			playlist, storyboard := prefix+edustream.MasterPlaylistName+query, prefix+edustream.StoryboardVTTFileName+query
			poster, err := env.blobs.PresignGet(ctx, v.PosterKey(), server.DefaultPlaybackTTL)
			if err != nil {
				b.Fatal(err)
			}
			fv.PlaybackURL, fv.StoryboardURL, fv.ThumbnailURL = &playlist, &storyboard, &poster
		}
		l.Video = fv
	}
	out, err := json.Marshal(map[string]any{"data": &page})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// sameLecturePage fails unless the floor's page is GraphQL's: the same
// fields and URLs (the poster's presigned query aside, whose expiry
// counts seconds).
func sameLecturePage(b *testing.B, floor, gql []byte) {
	decode := func(raw []byte) floorPage {
		var r struct{ Data floorPage }
		if err := json.Unmarshal(raw, &r); err != nil || r.Data.Lecture.Video == nil || r.Data.Lecture.Video.ThumbnailURL == nil {
			b.Fatalf("%v: %.500s", err, raw)
		}
		poster, _, _ := strings.Cut(*r.Data.Lecture.Video.ThumbnailURL, "?")
		r.Data.Lecture.Video.ThumbnailURL = &poster
		return r.Data
	}
	f, _ := json.Marshal(decode(floor))
	g, _ := json.Marshal(decode(gql))
	if fb, gb := string(f), string(g); fb != gb {
		b.Fatalf("the floor answers\n%s\nGraphQL\n%s", fb, gb)
	}
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
