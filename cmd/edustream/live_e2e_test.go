package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex/webextest"
)

const webhookSecret = "e2e-webhook-secret"

// liveEnv is backendEnv with live classes on the Webex fake.
func liveEnv(t *testing.T) (env map[string]string, openDB func() *sqldb.DB, fake *webextest.Server) {
	t.Helper()
	env, openDB = backendEnv(t)
	fake = webextest.New(t, webextest.Config{})
	env["EDUSTREAM_WEBEX_BASE_URL"] = fake.URL
	env["EDUSTREAM_WEBEX_TOKEN"] = fake.IssueAccessToken(0)
	env["EDUSTREAM_WEBEX_WEBHOOK_SECRET"] = webhookSecret
	return env, openDB, fake
}

// rawDB opens the instance's database with database/sql, to break it.
func rawDB(t *testing.T, env map[string]string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if dsn := env["EDUSTREAM_MYSQL_DSN"]; dsn != "" {
		db, err = sql.Open("mysql", dsn)
	} else {
		db, err = sql.Open("sqlite", filepath.Join(env["EDUSTREAM_DATA_DIR"], "edustream.db")+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testClip makes a 3-second 320×240 H.264/AAC MP4, the "recording".
func testClip(t *testing.T) []byte {
	t.Helper()
	paths := testenv.FFmpeg(t)
	out := filepath.Join(t.TempDir(), "recording.mp4")
	cmd := exec.Command(paths.FFmpeg, "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=3",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make the test clip: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wsSubscription is one graphql-transport-ws subscription, read by a
// goroutine so a test can wait for a message with a deadline (a cancelled
// Read would close the connection).
type wsSubscription struct {
	c    *websocket.Conn
	ctx  context.Context
	msgs chan wsMessage
	errs chan error
}

func subscribe(t *testing.T, in *instance, token, query string, vars map[string]any) *wsSubscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.url, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	s := &wsSubscription{c: c, ctx: ctx, msgs: make(chan wsMessage, 100), errs: make(chan error, 1)}
	go s.readAll()
	s.send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	if m := s.next(t, 10*time.Second); m.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v", m)
	}
	s.send(t, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	return s
}

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func (s *wsSubscription) readAll() {
	for {
		_, b, err := s.c.Read(s.ctx)
		if err != nil {
			s.errs <- err
			return
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			s.errs <- fmt.Errorf("not JSON: %q", b)
			return
		}
		switch m.Type {
		case "ping":
			b, _ := json.Marshal(map[string]any{"type": "pong"})
			s.c.Write(s.ctx, websocket.MessageText, b)
		case "pong":
		default:
			s.msgs <- m
		}
	}
}

func (s *wsSubscription) send(t *testing.T, m any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := s.c.Write(s.ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message, failing the test after limit.
func (s *wsSubscription) next(t *testing.T, limit time.Duration) wsMessage {
	t.Helper()
	m, ok := s.tryNext(t, limit)
	if !ok {
		t.Fatalf("no websocket message within %v", limit)
	}
	return m
}

func (s *wsSubscription) tryNext(t *testing.T, limit time.Duration) (wsMessage, bool) {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m, true
	case err := <-s.errs:
		t.Fatalf("websocket: %v", err)
	case <-time.After(limit):
	}
	return wsMessage{}, false
}

// waitFor reads events until a liveSessionUpdated satisfies ok, and
// returns it; false when none did within limit.
func (s *wsSubscription) waitFor(t *testing.T, limit time.Duration, ok func(map[string]any) bool) (map[string]any, bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m, got := s.tryNext(t, time.Until(deadline))
		if !got {
			return nil, false
		}
		var p struct {
			Data   map[string]any
			Errors []any
		}
		json.Unmarshal(m.Payload, &p)
		if m.Type != "next" || len(p.Errors) > 0 {
			t.Fatalf("subscription answered %s: %s", m.Type, m.Payload)
		}
		if v, _ := p.Data["liveSessionUpdated"].(map[string]any); v != nil && ok(v) {
			return v, true
		}
	}
}

// mustSee is waitFor that fails the test.
func (s *wsSubscription) mustSee(t *testing.T, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	v, seen := s.waitFor(t, 60*time.Second, ok)
	if !seen {
		t.Fatalf("the subscriber never saw %s", what)
	}
	return v
}

const liveSessionFields = `id title status startsAt endsAt joinUrl meetingNumber password hostKey recordingLecture { id title }`

func (in *instance) createLive(t *testing.T, token, courseID, title string, start time.Time) gqlResponse {
	t.Helper()
	return in.graphql(t, token, `mutation($in: CreateLiveSessionInput!) { createLiveSession(input: $in) { `+liveSessionFields+` } }`,
		map[string]any{"in": map[string]any{"courseId": courseID, "title": title, "agenda": "Questions welcome",
			"startsAt": start.Format(time.RFC3339), "endsAt": start.Add(time.Hour).Format(time.RFC3339)}})
}

func field(r gqlResponse, path ...string) any {
	var v any = r.Data
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// eventually polls cond for up to limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The live-class journey of issue 7, over HTTP and a websocket against the
// real binary and the Webex fake: schedule, follow live, turn the recording
// into a playable lecture, cancel; and the failure paths.
func TestLiveClassJourney(t *testing.T) {
	t.Parallel()
	clip := testClip(t)
	env, openDB, fake := liveEnv(t)
	in := start(t, env, "serve")
	if got := in.getStatus(t, "/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz = %d with Webex configured\n%s", got, in.out)
	}

	// The webhooks, registered twice: no duplicates.
	target := in.url + "/webhooks/webex"
	for range 2 {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"webex", "register-webhooks", "-target", target}, func(k string) string { return env[k] }, &out); err != nil {
			t.Fatalf("register-webhooks: %v", err)
		}
		if !strings.Contains(out.String(), "meetings/started -> "+target) {
			t.Errorf("register-webhooks printed %q", out.String())
		}
	}
	if hooks := fake.Webhooks(); len(hooks) != 3 {
		t.Fatalf("Webex has %d webhooks, want 3: %+v", len(hooks), hooks)
	}

	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	sam := token(t, testSecret, "sam", edustream.RoleStudent, time.Hour)
	eve := token(t, testSecret, "eve", edustream.RoleStudent, time.Hour)
	r := in.graphql(t, ada, `mutation { createCourse(input: {title: "Live algebra"}) { id } }`, nil).ok(t)
	courseID := field(r, "createCourse", "id").(string)
	in.graphql(t, ada, `mutation($c: ID!) { publishCourse(id: $c) { id } }`, map[string]any{"c": courseID}).ok(t)
	in.graphql(t, sam, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": courseID}).ok(t)
	sessions := sqldb.NewLiveSessionService(openDB(), nil)
	meetingOf := func(id string) string {
		t.Helper()
		n, _ := strconv.ParseInt(id, 10, 64)
		s, err := sessions.FindLiveSessionByID(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		return s.MeetingID
	}
	countMeetings := func() int { return len(fake.Meetings()) }

	soon := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	r = in.createLive(t, ada, courseID, "Quadratics, live", soon).ok(t)
	classID := field(r, "createLiveSession", "id").(string)
	if field(r, "createLiveSession", "status") != "SCHEDULED" || field(r, "createLiveSession", "hostKey") == nil {
		t.Fatalf("created %s", r.Raw)
	}
	series := meetingOf(classID)

	read := `query($id: ID!) { liveSession(id: $id) { ` + liveSessionFields + ` } }`
	t.Run("join fields follow enrollment", func(t *testing.T) {
		enrolled := in.graphql(t, sam, read, map[string]any{"id": classID}).ok(t)
		stranger := in.graphql(t, eve, read, map[string]any{"id": classID}).ok(t)
		if field(enrolled, "liveSession", "joinUrl") == nil || field(enrolled, "liveSession", "hostKey") != nil {
			t.Errorf("enrolled student reads %s", enrolled.Raw)
		}
		for _, k := range []string{"joinUrl", "meetingNumber", "password", "hostKey"} {
			if field(stranger, "liveSession", k) != nil {
				t.Errorf("a student not enrolled reads %s: %s", k, stranger.Raw)
			}
		}
	})

	// Sam follows the course's classes. The server subscribes to the
	// events a moment after the subscribe message; classes scheduled until
	// one shows prove it listens.
	sub := subscribe(t, in, sam, `subscription($c: ID!) { liveSessionUpdated(courseId: $c) { `+liveSessionFields+` } }`, map[string]any{"c": courseID})
	for i := 0; ; i++ {
		r := in.createLive(t, ada, courseID, fmt.Sprintf("Probe %d", i), soon.Add(time.Duration(100+i)*time.Hour)).ok(t)
		probe := field(r, "createLiveSession", "id")
		if _, seen := sub.waitFor(t, 2*time.Second, func(s map[string]any) bool { return s["id"] == probe }); seen {
			break
		}
		if i == 5 {
			t.Fatal("the subscriber saw none of the classes scheduled after it subscribed")
		}
	}

	t.Run("forged webhook refused", func(t *testing.T) {
		body := []byte(`{"resource":"meetings","event":"started","data":{"id":"` + series + `_I_1","meetingSeriesId":"` + series + `"}}`)
		req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header.Set("X-Spark-Signature", strings.Repeat("0", 40))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged delivery: %d", resp.StatusCode)
		}
		if got := in.graphql(t, ada, read, map[string]any{"id": classID}).ok(t); field(got, "liveSession", "status") != "SCHEDULED" {
			t.Errorf("after a forged delivery: %s", got.Raw)
		}
	})

	instance, err := fake.StartMeeting(series)
	if err != nil {
		t.Fatal(err)
	}
	live := sub.mustSee(t, "LIVE", func(s map[string]any) bool { return s["id"] == classID && s["status"] == "LIVE" })
	if live["joinUrl"] == nil || live["hostKey"] != nil {
		t.Errorf("the enrolled subscriber got %v", live)
	}
	if err := fake.EndMeeting(instance); err != nil {
		t.Fatal(err)
	}
	sub.mustSee(t, "ENDED", func(s map[string]any) bool { return s["id"] == classID && s["status"] == "ENDED" })
	// Webex delivers the start again, late: nothing moves back.
	for i, d := range fake.Deliveries() {
		if d.Event == "started" {
			if err := fake.Redeliver(i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := in.graphql(t, sam, read, map[string]any{"id": classID}).ok(t); field(got, "liveSession", "status") != "ENDED" {
		t.Errorf("after a late start: %s", got.Raw)
	}

	// The recording becomes a lecture, once however often it is delivered.
	if _, err := fake.AddRecording(instance, webextest.RecordingSpec{Data: clip, DurationSeconds: 3}); err != nil {
		t.Fatal(err)
	}
	for i, d := range fake.Deliveries() {
		if d.Resource == "recordings" {
			fake.Redeliver(i)
		}
	}
	withLecture := sub.mustSee(t, "the recording lecture", func(s map[string]any) bool {
		return s["id"] == classID && s["recordingLecture"] != nil
	})
	lecture := withLecture["recordingLecture"].(map[string]any)
	if lecture["title"] != "Quadratics, live (recording)" {
		t.Errorf("recording lecture %v", lecture)
	}

	// Meanwhile, cancels: one while Webex answers, one while it fails.
	t.Run("cancel deletes the meeting", func(t *testing.T) {
		r := in.createLive(t, ada, courseID, "Cancelled class", soon.Add(24*time.Hour)).ok(t)
		id := field(r, "createLiveSession", "id").(string)
		m := meetingOf(id)
		c := in.graphql(t, ada, `mutation($id: ID!) { cancelLiveSession(id: $id) { status } }`, map[string]any{"id": id}).ok(t)
		if field(c, "cancelLiveSession", "status") != "CANCELLED" {
			t.Fatalf("cancel: %s", c.Raw)
		}
		eventually(t, 30*time.Second, "the meeting's deletion", func() bool { held, _ := fake.Meeting(m); return held.Deleted })
	})
	var downID, downMeeting string
	t.Run("cancel while Webex is down", func(t *testing.T) {
		r := in.createLive(t, ada, courseID, "Cancelled during an outage", soon.Add(48*time.Hour)).ok(t)
		downID = field(r, "createLiveSession", "id").(string)
		downMeeting = meetingOf(downID)
		// More failures than one task run's attempts (5): asynq retries.
		fake.Fail(http.MethodDelete, "/meetings/"+downMeeting, 6, http.StatusServiceUnavailable)
		c := in.graphql(t, ada, `mutation($id: ID!) { cancelLiveSession(id: $id) { status } }`, map[string]any{"id": downID}).ok(t)
		if field(c, "cancelLiveSession", "status") != "CANCELLED" {
			t.Fatalf("cancel during an outage: %s", c.Raw)
		}
	})

	t.Run("Webex 500 on create", func(t *testing.T) {
		before := countMeetings()
		fake.Fail(http.MethodPost, "/meetings", 1, http.StatusInternalServerError)
		r := in.createLive(t, ada, courseID, "Never scheduled", soon.Add(72*time.Hour))
		if r.code() != "INTERNAL" || !strings.Contains(r.Raw, "Webex did not answer") {
			t.Errorf("create during a Webex outage: %s", r.Raw)
		}
		if countMeetings() != before || strings.Contains(in.graphql(t, ada, `query($c: ID!) { course(id: $c) { liveSessions { title } } }`,
			map[string]any{"c": courseID}).ok(t).Raw, "Never scheduled") {
			t.Error("a failed create left something behind")
		}
	})
	t.Run("database failure after create", func(t *testing.T) {
		// Only the insert fails: the course's classes can still be read
		// (the limit on upcoming classes is checked before Webex is asked).
		raw := rawDB(t, env)
		failing := "CREATE TRIGGER live_sessions_away BEFORE INSERT ON live_sessions BEGIN SELECT RAISE(ABORT, 'the database is away'); END"
		if env["EDUSTREAM_MYSQL_DSN"] != "" {
			failing = "CREATE TRIGGER live_sessions_away BEFORE INSERT ON live_sessions FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the database is away'"
		}
		if _, err := raw.Exec(failing); err != nil {
			t.Fatal(err)
		}
		r := in.createLive(t, ada, courseID, "Lost in the database", soon.Add(96*time.Hour))
		if _, err := raw.Exec("DROP TRIGGER live_sessions_away"); err != nil {
			t.Fatal(err)
		}
		if r.code() != "INTERNAL" || !strings.Contains(r.Raw, "cancelled again") {
			t.Errorf("create with a failing database: %s", r.Raw)
		}
		var orphan []webextest.MeetingState
		for _, m := range fake.Meetings() {
			if m.Title == "Lost in the database" {
				orphan = append(orphan, m)
			}
		}
		if len(orphan) != 1 || !orphan[0].Deleted {
			t.Errorf("Webex holds %+v, want the meeting deleted again", orphan)
		}
	})

	eventually(t, 60*time.Second, "the meeting cancelled during the outage to be deleted", func() bool {
		held, _ := fake.Meeting(downMeeting)
		return held.Deleted
	})
	if n := len(fake.Requests(http.MethodDelete, "/meetings/"+downMeeting)); n < 7 {
		t.Errorf("the outage's meeting took %d DELETEs, want the 6 failures and a success", n)
	}

	// The lecture goes through the video pipeline like an upload.
	lectureQuery := `query($l: ID!) { lecture(id: $l) { title video { status error playbackUrl } } }`
	var last gqlResponse
	deadline := time.Now().Add(3 * time.Minute)
	for {
		last = in.graphql(t, sam, lectureQuery, map[string]any{"l": lecture["id"]}).ok(t)
		status, _ := field(last, "lecture", "video", "status").(string)
		if status == "READY" || status == "FAILED" || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if field(last, "lecture", "video", "status") != "READY" || field(last, "lecture", "video", "playbackUrl") == nil {
		t.Errorf("the recording lecture's video: %s\n%s", last.Raw, in.out)
	}
	lectures := in.graphql(t, sam, `query($c: ID!) { course(id: $c) { lectures { title } } }`, map[string]any{"c": courseID}).ok(t)
	if n := strings.Count(lectures.Raw, "(recording)"); n != 1 {
		t.Errorf("the course has %d recording lectures: %s", n, lectures.Raw)
	}
}

// Without Webex configured, live classes are off and nothing else breaks.
func TestLiveClassesOff(t *testing.T) {
	t.Parallel()
	env, _ := backendEnv(t)
	in := start(t, env, "serve")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	r := in.graphql(t, ada, `mutation { createCourse(input: {title: "No Webex"}) { id } }`, nil).ok(t)
	courseID := field(r, "createCourse", "id").(string)
	c := in.createLive(t, ada, courseID, "Impossible", time.Now().Add(time.Hour))
	if c.code() != "CONFLICT" || !strings.Contains(c.Raw, "no Webex account") {
		t.Errorf("create without Webex: %s", c.Raw)
	}
	q := in.graphql(t, ada, `query($c: ID!) { course(id: $c) { liveSessions { id } } }`, map[string]any{"c": courseID}).ok(t)
	if !strings.Contains(q.Raw, `"liveSessions":[]`) {
		t.Errorf("liveSessions: %s", q.Raw)
	}
	for path, want := range map[string]int{"/readyz": http.StatusOK} {
		if got := in.getStatus(t, path); got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
	resp, err := http.Post(in.url+"/webhooks/webex", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /webhooks/webex without Webex: %d", resp.StatusCode)
	}
}

// The Webex settings are checked at start-up.
func TestWebexConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"token and OAuth", map[string]string{"EDUSTREAM_WEBEX_TOKEN": "t", "EDUSTREAM_WEBEX_CLIENT_ID": "c"}, []string{"serve"}, "not both"},
		{"OAuth incomplete", map[string]string{"EDUSTREAM_WEBEX_CLIENT_ID": "c", "EDUSTREAM_WEBEX_CLIENT_SECRET": "s"}, []string{"serve"}, "EDUSTREAM_WEBEX_REFRESH_TOKEN"},
		{"secret without Webex", map[string]string{"EDUSTREAM_WEBEX_WEBHOOK_SECRET": "s"}, []string{"serve"}, "without EDUSTREAM_WEBEX_TOKEN"},
		{"bad base URL", map[string]string{"EDUSTREAM_WEBEX_TOKEN": "t", "EDUSTREAM_WEBEX_BASE_URL": "ftp://x"}, []string{"serve"}, "EDUSTREAM_WEBEX"},
		{"register without target", map[string]string{"EDUSTREAM_WEBEX_TOKEN": "t"}, []string{"webex", "register-webhooks"}, "usage: edustream webex"},
		{"register without secret", map[string]string{"EDUSTREAM_WEBEX_TOKEN": "t"}, []string{"webex", "register-webhooks", "-target", "https://x.example/webhooks/webex"}, "EDUSTREAM_WEBEX_WEBHOOK_SECRET"},
		{"register without Webex", nil, []string{"webex", "register-webhooks", "-target", "https://x.example/webhooks/webex"}, "EDUSTREAM_WEBEX_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"EDUSTREAM_DATA_DIR": t.TempDir(), "EDUSTREAM_JWT_SECRET": testSecret, "EDUSTREAM_HTTP_ADDR": "127.0.0.1:0"}
			for k, v := range tt.env {
				env[k] = v
			}
			if err := runErr(t, env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// A refresh token the token endpoint accepts is refreshed at start and the
// result kept in the database; a revoked one stops the start with an error
// that names the setting and not the token.
func TestWebexOAuthStartup(t *testing.T) {
	t.Parallel()
	fake := webextest.New(t, webextest.Config{})
	fake.AddClient("client-1", "secret-1")
	refresh := fake.IssueRefreshToken("client-1")
	env := map[string]string{
		"EDUSTREAM_DATA_DIR": t.TempDir(), "EDUSTREAM_JWT_SECRET": testSecret, "EDUSTREAM_HTTP_ADDR": "127.0.0.1:0",
		"EDUSTREAM_WEBEX_BASE_URL": fake.URL, "EDUSTREAM_WEBEX_CLIENT_ID": "client-1", "EDUSTREAM_WEBEX_CLIENT_SECRET": "secret-1",
		"EDUSTREAM_WEBEX_REFRESH_TOKEN": refresh,
	}
	first := start(t, env, "serve")
	if got := first.getStatus(t, "/readyz"); got != http.StatusOK {
		t.Errorf("/readyz = %d", got)
	}
	first.stop(t)
	tokens, err := sqldb.OpenSQLite(context.Background(), filepath.Join(env["EDUSTREAM_DATA_DIR"], "edustream.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
	stored, err := sqldb.NewOAuthTokenService(tokens, nil).LoadOAuthToken(context.Background(), "webex")
	if err != nil || stored.AccessToken == "" || stored.RefreshToken != refresh {
		t.Fatalf("stored token: %v (access set: %v)", err, stored.AccessToken != "")
	}

	// A new deployment bootstrapped with a refresh token Webex revoked.
	fake.RevokeRefreshToken(refresh)
	env["EDUSTREAM_DATA_DIR"] = t.TempDir()
	err = runErr(t, env, "serve")
	if err == nil || !strings.Contains(err.Error(), "EDUSTREAM_WEBEX_REFRESH_TOKEN") || strings.Contains(err.Error(), refresh) {
		t.Errorf("start with a revoked refresh token: %v", err)
	}
}
