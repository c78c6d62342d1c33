package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/sqldb"
)

const testSecret = "e2e-secret-that-is-at-least-32-bytes-long"

// backendEnv points a serve at the test's backends: MariaDB and Redis when
// the EDUSTREAM_TEST_* variables name them (CI), SQLite in a temp dir and a
// miniredis otherwise. openDB opens the same database for assertions.
func backendEnv(t testing.TB) (env map[string]string, openDB func() *sqldb.DB) {
	t.Helper()
	env = map[string]string{
		"EDUSTREAM_HTTP_ADDR":  "127.0.0.1:0",
		"EDUSTREAM_DATA_DIR":   t.TempDir(),
		"EDUSTREAM_JWT_SECRET": testSecret,
		"EDUSTREAM_REDIS_URL":  testenv.RedisURL(t),
		"EDUSTREAM_WORK":       "true",
	}
	if testenv.MySQLConfigured() {
		env["EDUSTREAM_MYSQL_DSN"] = testenv.MySQLDSN(t)
	}
	openDB = func() *sqldb.DB {
		ctx := context.Background()
		var db *sqldb.DB
		var err error
		if dsn := env["EDUSTREAM_MYSQL_DSN"]; dsn != "" {
			db, err = sqldb.OpenMySQL(ctx, dsn, "")
		} else {
			db, err = sqldb.OpenSQLite(ctx, filepath.Join(env["EDUSTREAM_DATA_DIR"], "edustream.db"))
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return env, openDB
}

// The journey of the issue, over HTTP against the real binary: an instructor
// builds and publishes a course, a student enrolls and reads it, the
// forbidden paths are refused, and a deleted course is purged by the worker.
func TestJourney(t *testing.T) {
	t.Parallel()
	env, openDB := backendEnv(t)
	in := start(t, env, "serve")

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/": 404} {
		if got := in.getStatus(t, path); got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}

	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	grace := token(t, testSecret, "grace", edustream.RoleInstructor, time.Hour)
	sam := token(t, testSecret, "sam", edustream.RoleStudent, time.Hour)

	r := in.graphql(t, ada, `mutation { createCourse(input: {title: "Distributed video", description: "From upload to HLS"}) { id } }`, nil).ok(t)
	courseID := r.Data["createCourse"].(map[string]any)["id"].(string)
	var lectures []string
	for _, title := range []string{"Upload", "Transcode", "Deliver"} {
		r := in.graphql(t, ada, `mutation($c: ID!, $t: String!) { createLecture(input: {courseId: $c, title: $t}) { id } }`, map[string]any{"c": courseID, "t": title}).ok(t)
		lectures = append(lectures, r.Data["createLecture"].(map[string]any)["id"].(string))
	}
	in.graphql(t, ada, `mutation($l: ID!) { moveLecture(id: $l, position: 1) { position } }`, map[string]any{"l": lectures[2]}).ok(t)

	catalog := `{ courses { edges { node { id title instructor { name } lectures { title } } } } }`
	if r := in.graphql(t, sam, catalog, nil).ok(t); strings.Contains(r.Raw, courseID) {
		t.Errorf("a student sees the draft: %s", r.Raw)
	}
	in.graphql(t, ada, `mutation($c: ID!) { publishCourse(id: $c) { published } }`, map[string]any{"c": courseID}).ok(t)

	r = in.graphql(t, sam, catalog, nil).ok(t)
	edges := r.Data["courses"].(map[string]any)["edges"].([]any)
	if len(edges) != 1 {
		t.Fatalf("student catalog: %s", r.Raw)
	}
	node := edges[0].(map[string]any)["node"].(map[string]any)
	var titles []string
	for _, l := range node["lectures"].([]any) {
		titles = append(titles, l.(map[string]any)["title"].(string))
	}
	if node["instructor"].(map[string]any)["name"] != "ada" || !slices.Equal(titles, []string{"Deliver", "Upload", "Transcode"}) {
		t.Errorf("student reads %v by %v, want Deliver, Upload, Transcode by ada", titles, node["instructor"])
	}
	r = in.graphql(t, sam, `mutation($c: ID!) { enroll(courseId: $c) { course { enrolled } } }`, map[string]any{"c": courseID}).ok(t)
	if !strings.Contains(r.Raw, `"enrolled":true`) {
		t.Errorf("enroll: %s", r.Raw)
	}
	r = in.graphql(t, sam, `{ me { name role email } }`, nil).ok(t)
	if !strings.Contains(r.Raw, `"role":"STUDENT"`) || !strings.Contains(r.Raw, "sam@example.test") {
		t.Errorf("me: %s", r.Raw)
	}

	// The forbidden paths: refused with their code, and nothing changes.
	refusals := []struct {
		name, token, query, code string
	}{
		{"student creates a course", sam, `mutation { createCourse(input: {title: "x"}) { id } }`, "FORBIDDEN"},
		{"student renames the course", sam, `mutation { updateCourse(id: ` + courseID + `, input: {title: "x"}) { id } }`, "FORBIDDEN"},
		{"other instructor renames it", grace, `mutation { updateCourse(id: ` + courseID + `, input: {title: "x"}) { id } }`, "FORBIDDEN"},
		{"other instructor deletes a lecture", grace, `mutation { deleteLecture(id: ` + lectures[0] + `) }`, "FORBIDDEN"},
		{"anonymous creates a course", "", `mutation { createCourse(input: {title: "x"}) { id } }`, "UNAUTHENTICATED"},
		{"empty title", ada, `mutation { updateCourse(id: ` + courseID + `, input: {title: ""}) { id } }`, "BAD_USER_INPUT"},
	}
	for _, tt := range refusals {
		if r := in.graphql(t, tt.token, tt.query, nil); r.code() != tt.code {
			t.Errorf("%s: got %s, want %s", tt.name, r.Raw, tt.code)
		}
	}
	badTokens := map[string]string{
		"garbage":      "not-a-jwt",
		"expired":      expiredToken(t, "sam", edustream.RoleStudent),
		"wrong secret": token(t, "another-secret-that-is-at-least-32-bytes", "sam", edustream.RoleStudent, time.Hour),
		"alg none":     unsignedToken("sam", edustream.RoleAdmin),
	}
	for name, tok := range badTokens {
		r := in.graphql(t, tok, `mutation { createCourse(input: {title: "x"}) { id } }`, nil)
		if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
			t.Errorf("%s token: status %d %s, want 401 UNAUTHENTICATED", name, r.Status, r.Raw)
		}
	}
	r = in.graphql(t, ada, `query($c: ID!) { course(id: $c) { title lectures { id } } }`, map[string]any{"c": courseID}).ok(t)
	if !strings.Contains(r.Raw, "Distributed video") || strings.Count(r.Raw, `"id"`) != 3 {
		t.Errorf("after the refusals the course is %s", r.Raw)
	}

	// Delete: hidden at once, purged by the worker soon after.
	in.graphql(t, ada, `mutation($c: ID!) { deleteCourse(id: $c) }`, map[string]any{"c": courseID}).ok(t)
	if r := in.graphql(t, sam, `query($c: ID!) { course(id: $c) { id } }`, map[string]any{"c": courseID}); r.code() != "NOT_FOUND" {
		t.Errorf("deleted course: %s", r.Raw)
	}
	courses := sqldb.NewCourseService(openDB(), nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		hidden, err := courses.FindHiddenCourseIDs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(hidden) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("course still waiting for its purge after 30s: %v\n%s", hidden, in.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expiredToken is correctly signed but expired a minute ago.
func expiredToken(t testing.TB, sub string, role edustream.Role) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "role": string(role), "exp": time.Now().Add(-time.Minute).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsignedToken is an alg=none JWT: well formed, with no signature.
func unsignedToken(sub string, role edustream.Role) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"sub":%q,"role":%q,"exp":%d}`, sub, role, time.Now().Add(time.Hour).Unix())
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}

// dev needs nothing but a data dir: it seeds a demo course once, prints
// working tokens, serves the playground, and keeps its data across restarts.
func TestDev(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	env := map[string]string{"EDUSTREAM_DATA_DIR": dataDir}
	first := start(t, env, "dev", "-http-addr", "127.0.0.1:0")
	if !strings.HasPrefix(first.url, "http://127.0.0.1:") {
		t.Errorf("dev listens on %s, want loopback", first.url)
	}
	tokens := regexp.MustCompile(`(?m)^\s+(ADMIN|INSTRUCTOR|STUDENT)\s+(\S+)$`).FindAllStringSubmatch(first.out.String(), -1)
	if len(tokens) != 3 {
		t.Fatalf("dev printed %d tokens, want 3:\n%s", len(tokens), first.out)
	}
	student := tokens[2][2]
	demo := `{ courses { edges { node { title enrolled lectures { title } } } } }`
	r := first.graphql(t, student, demo, nil).ok(t)
	if n := strings.Count(r.Raw, `"title"`); n != 6 {
		t.Errorf("demo catalog has %d titles, want a course with 5 lectures: %s", n, r.Raw)
	}
	if !strings.Contains(r.Raw, `"enrolled":true`) {
		t.Errorf("the demo student is not enrolled in the demo course: %s", r.Raw)
	}
	if got := first.getStatus(t, "/"); got != http.StatusOK {
		t.Errorf("playground: %d", got)
	}
	checkDevCORS(t, first)
	first.stop(t)

	second := start(t, env, "dev", "-http-addr", "127.0.0.1:0")
	if again := second.graphql(t, student, demo, nil).ok(t); again.Raw != r.Raw {
		t.Errorf("after a restart the catalog is %s, want %s", again.Raw, r.Raw)
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil || testenv.Required("ffmpeg") {
		// With ffmpeg, the first lecture has a demo video, made once.
		instructor := tokens[1][2]
		query := `{ courses { edges { node { lectures { video { id status playbackUrl } } } } } }`
		var raw string
		testenv.Eventually(t, "the demo video to be READY", func() bool {
			raw = second.graphql(t, instructor, query, nil).ok(t).Raw
			return strings.Contains(raw, `"status":"READY"`)
		})
		if strings.Count(raw, `"video":{`) != 1 || !strings.Contains(raw, "/play/") {
			t.Errorf("demo lectures: %s, want one READY video with a playback URL", raw)
		}
		// Enrolled, the student gets the URL too.
		if raw := second.graphql(t, student, query, nil).ok(t).Raw; !strings.Contains(raw, "/play/") {
			t.Errorf("the demo student sees %s, want a playback URL", raw)
		}
	}
}

// checkDevCORS: dev answers CORS for a local SPA's dev server out of the
// box, and for no other origin.
func checkDevCORS(t *testing.T, in *instance) {
	t.Helper()
	for origin, allowed := range map[string]bool{
		"http://localhost:5173": true, "http://127.0.0.1:3000": true, "https://evil.example": false,
	} {
		req, err := http.NewRequest(http.MethodOptions, in.url+"/query", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); (got == origin) != allowed {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want allowed=%v", origin, got, allowed)
		}
	}
}

// Without ffmpeg, dev still starts, says so once, and an upload ends FAILED
// with the reason instead of waiting for ever.
func TestDevWithoutFFmpeg(t *testing.T) {
	t.Parallel()
	env := map[string]string{"EDUSTREAM_DATA_DIR": t.TempDir(), "EDUSTREAM_FFMPEG_PATH": "/nonexistent/ffmpeg"}
	in := start(t, env, "dev", "-http-addr", "127.0.0.1:0")
	if n := strings.Count(in.out.String(), "ffmpeg is not usable"); n != 1 {
		t.Errorf("dev said %d times that ffmpeg is missing, want once:\n%s", n, in.out)
	}
	tokens := regexp.MustCompile(`(?m)^\s+(ADMIN|INSTRUCTOR|STUDENT)\s+(\S+)$`).FindAllStringSubmatch(in.out.String(), -1)
	instructor := tokens[1][2]
	var lectures struct {
		Courses struct {
			Edges []struct {
				Node struct{ Lectures []struct{ ID string } }
			}
		}
	}
	decode(t, in.graphql(t, instructor, `{ courses { edges { node { lectures { id } } } } }`, nil).ok(t), &lectures)
	lectureID := lectures.Courses.Edges[0].Node.Lectures[0].ID
	progress, err := in.subscribe(t, instructor, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	uploadID, parts := in.uploadParts(t, instructor, lectureID, []byte("any bytes: the probe needs ffmpeg to say what they are"))
	in.graphql(t, instructor, `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"uploadId": uploadID, "parts": parts}}).ok(t)
	events := progress.until(t, "FAILED", time.Minute)
	if last := events[len(events)-1]; deref(last.Message) != "ffmpeg is not installed on the worker" {
		t.Errorf("failed with %q, want that ffmpeg is not installed", deref(last.Message))
	}
}
