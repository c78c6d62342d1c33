package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/storage/sqldb"
)

// adminBundle is a GraphQL endpoint with the admin fields on Redis
// (miniredis unless EDUSTREAM_TEST_REDIS_URL is set) through asynq's
// Inspector, the audit log in SQLite, and a lifecycle that enqueues for
// real, so that the tasks the admins see are the chain's.
type adminBundle struct {
	*bundle
	rdb      *goredis.Client
	queue    *jobs.Queue
	life     *edustream.VideoLifecycle
	audit    *sqldb.AuditLog
	sessions *sqldb.LiveSessionService
}

func setupAdmin(t *testing.T) *adminBundle {
	t.Helper()
	db := openDB(t)
	ab := &adminBundle{rdb: testenv.RedisClient(t, testenv.RedisURL(t))}
	ab.queue = jobs.NewQueue(ab.rdb)
	ab.bundle = newBundle(t, db, func(_ *graph.Config, r *graph.Resolver) {
		ab.life = &edustream.VideoLifecycle{Videos: r.VideoService, Jobs: ab.queue}
		ab.audit = sqldb.NewAuditLog(db, nil)
		ab.sessions = sqldb.NewLiveSessionService(db, nil)
		r.LiveSessionService = ab.sessions
		r.Operations = &edustream.Operations{Tasks: jobs.NewAdmin(ab.rdb), Life: ab.life, Audit: ab.audit}
	})
	return ab
}

// storedVideo uploads a video of lecture as the chain's first move leaves
// it: UPLOADED at PROBE, with its probe task queued.
func (ab *adminBundle) storedVideo(t *testing.T, lecture *edustream.Lecture) *edustream.Video {
	t.Helper()
	ctx := context.Background()
	v := &edustream.Video{LectureID: lecture.ID, UploaderID: ab.instructor.ID, FileName: "talk.mp4", ContentType: "video/mp4",
		SizeBytes: 1234, UploadExpiresAt: time.Now().Add(time.Hour)}
	if err := ab.life.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	v, err := ab.life.Stored(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// probing stores a video of a published course's lecture as storedVideo
// does, and returns it with the variables that name its probe task: $q,
// the queue, and $id.
func (ab *adminBundle) probing(t *testing.T) (*edustream.Video, map[string]any) {
	t.Helper()
	v := ab.storedVideo(t, ab.firstLecture(t, ab.seedCourse(t, ab.instructor, "Course", 1, true)))
	return v, map[string]any{"q": jobs.QueueVideo, "id": jobs.VideoTaskID("probe", v.ID)}
}

func (ab *adminBundle) video(t *testing.T, id int64) *edustream.Video {
	t.Helper()
	v, err := ab.videos.FindVideoByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (ab *adminBundle) auditEntries(t *testing.T) []*edustream.AuditEntry {
	t.Helper()
	entries, _, err := ab.audit.FindAuditEntries(context.Background(), edustream.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// dig walks a response's data along path (field names, and indexes into
// lists).
func dig(t *testing.T, data any, path ...any) any {
	t.Helper()
	for _, step := range path {
		switch step := step.(type) {
		case string:
			m, ok := data.(map[string]any)
			if !ok {
				t.Fatalf("no %q in %v", step, data)
			}
			data = m[step]
		case int:
			l, ok := data.([]any)
			if !ok || step >= len(l) {
				t.Fatalf("no [%d] in %v", step, data)
			}
			data = l[step]
		}
	}
	return data
}

// Every admin field and mutation is for admins: students and instructors
// get FORBIDDEN, and so do anonymous callers; a refusal changes
// nothing and records nothing.
func TestAdminFieldsRefuseOthers(t *testing.T) {
	t.Parallel()
	ab := setupAdmin(t)
	v, vars := ab.probing(t)
	operations := []struct{ name, query string }{
		{"queues", `{ queues { name } }`},
		{"queue", `query($q: String!) { queue(name: $q) { name } }`},
		{"tasks", `query($q: String!) { tasks(queue: $q, state: PENDING) { edges { node { id } } } }`},
		{"workers", `{ workers { pid } }`},
		{"videos", `{ videos { edges { node { id } } } }`},
		{"auditLog", `{ auditLog { edges { node { id } } } }`},
		{"runTask", `mutation($q: String!, $id: String!) { runTask(queue: $q, id: $id) { state } }`},
		{"archiveTask", `mutation($q: String!, $id: String!) { archiveTask(queue: $q, id: $id) { state } }`},
		{"deleteTask", `mutation($q: String!, $id: String!) { deleteTask(queue: $q, id: $id) }`},
		{"cancelTask", `mutation($id: String!) { cancelTask(id: $id) { state } }`},
		{"pauseQueue", `mutation($q: String!) { pauseQueue(name: $q) { paused } }`},
		{"resumeQueue", `mutation($q: String!) { resumeQueue(name: $q) { paused } }`},
		{"runAllArchivedTasks", `mutation($q: String!) { runAllArchivedTasks(queue: $q) { archived } }`},
	}
	callers := []struct {
		name string
		user *edustream.User
		code string
	}{
		{"student", ab.student, "FORBIDDEN"},
		{"instructor", ab.instructor, "FORBIDDEN"},
		{"anonymous", nil, "FORBIDDEN"},
	}
	for _, op := range operations {
		for _, c := range callers {
			t.Run(op.name+" as "+c.name, func(t *testing.T) {
				r := ab.post(t, c.user, op.query, vars)
				if got := r.Code(t); got != c.code {
					t.Errorf("code %s, want %s: %s", got, c.code, r.Raw)
				}
				if r.Data != nil && slices.ContainsFunc(mapValues(r.Data), func(v any) bool { return v != nil }) {
					t.Errorf("a refused caller got data: %s", r.Raw)
				}
			})
		}
	}
	if got := ab.video(t, v.ID); got.Status != edustream.VideoUploaded {
		t.Errorf("refused calls moved the video to %s", got.Status)
	}
	r := ab.post(t, ab.admin, `query($q: String!) { queue(name: $q) { paused pending archived } }`, map[string]any{"q": jobs.QueueVideo}).NoErrors(t)
	if q := dig(t, r.Data, "queue"); fmt.Sprint(q) != "map[archived:0 paused:false pending:1]" {
		t.Errorf("after the refusals the queue is %v, want its one task pending", q)
	}
	if entries := ab.auditEntries(t); len(entries) != 0 {
		t.Errorf("refusals were recorded: %+v", entries)
	}
}

func mapValues(m map[string]any) []any {
	var out []any
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// The reads: queues with their counts, a queue's tasks page by page with
// what each is about, and an unknown queue.
func TestAdminReadsQueuesAndTasks(t *testing.T) {
	t.Parallel()
	ab := setupAdmin(t)
	ctx := context.Background()
	course := ab.seedCourse(t, ab.instructor, "Drafty", 0, false)
	var videos []*edustream.Video
	for range 3 {
		// One lecture holds one video in the chain at a time.
		l := &edustream.Lecture{CourseID: course.ID, Title: "Part"}
		if err := ab.lectures.CreateLecture(ctx, l); err != nil {
			t.Fatal(err)
		}
		videos = append(videos, ab.storedVideo(t, l))
	}
	session := &edustream.LiveSession{CourseID: course.ID, CreatorID: ab.instructor.ID, Title: "Live", StartsAt: time.Now().Add(time.Hour),
		EndsAt: time.Now().Add(2 * time.Hour), MeetingID: "Series-1", MeetingNumber: "123", HostKey: "654321"}
	if err := ab.sessions.CreateLiveSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	recording, err := ab.sessions.ClaimLiveRecording(ctx, &edustream.LiveRecording{RecordingID: "rec-1", SessionID: session.ID},
		&edustream.Lecture{CourseID: course.ID, Title: "Live (recording)"})
	if err != nil {
		t.Fatal(err)
	}
	for _, enqueue := range []func() error{
		func() error { return ab.queue.EnqueueMeetingDelete(ctx, "Series-1") },
		func() error { return ab.queue.EnqueueRecordingImport(ctx, "rec-1") },
		func() error { return ab.queue.EnqueueCoursePurge(ctx, course.ID) },
	} {
		if err := enqueue(); err != nil {
			t.Fatal(err)
		}
	}

	r := ab.post(t, ab.admin, `{ queues { name paused size pending active scheduled retry archived completed
		processedToday failedToday latencySeconds memoryBytes } }`, nil).NoErrors(t)
	queues := dig(t, r.Data, "queues").([]any)
	if len(queues) != 3 || dig(t, queues, 0, "name") != "default" || dig(t, queues, 1, "name") != "video" || dig(t, queues, 2, "name") != "video-long" ||
		dig(t, queues, 0, "pending") != 3.0 || dig(t, queues, 1, "pending") != 3.0 || dig(t, queues, 1, "size") != 3.0 || dig(t, queues, 2, "size") != 0.0 {
		t.Errorf("queues %v, want default with 3 pending, video with 3 and video-long empty", queues)
	}
	if r := ab.post(t, ab.admin, `{ queue(name: "nope") { name } }`, nil).NoErrors(t); r.Data["queue"] != nil {
		t.Errorf("an unknown queue: %s", r.Raw)
	}

	const page = `query($q: String!, $after: String) { tasks(queue: $q, state: PENDING, first: 2, after: $after) {
		edges { cursor node { id type state retried maxRetry lastError nextProcessAt
			video { id status stage error } lecture { id } liveSession { id hostKey } course { id title } } }
		pageInfo { hasNextPage endCursor } } }`
	var got []string
	var after any
	for range 3 {
		r := ab.post(t, ab.admin, page, map[string]any{"q": jobs.QueueVideo, "after": after}).NoErrors(t)
		conn := dig(t, r.Data, "tasks")
		for _, e := range dig(t, conn, "edges").([]any) {
			node := dig(t, e, "node")
			got = append(got, dig(t, node, "id").(string))
			v := dig(t, node, "video")
			if dig(t, node, "type") != jobs.TypeVideoProbe || dig(t, node, "state") != "PENDING" || dig(t, node, "maxRetry").(float64) < 1 ||
				dig(t, v, "status") != "UPLOADED" || dig(t, node, "lecture") == nil || dig(t, node, "course", "title") != "Drafty" ||
				dig(t, node, "liveSession") != nil || dig(t, node, "lastError") != nil {
				t.Errorf("task %v, want a pending probe about its video, lecture and (draft) course", node)
			}
		}
		if dig(t, conn, "pageInfo", "hasNextPage") == false {
			break
		}
		after = dig(t, conn, "pageInfo", "endCursor")
	}
	var want []string
	for _, v := range videos {
		want = append(want, jobs.VideoTaskID("probe", v.ID))
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged through %v, want %v in the order workers take them", got, want)
	}

	r = ab.post(t, ab.admin, `{ tasks(queue: "default", state: PENDING) { edges { node { id
		video { id } lecture { id } liveSession { id title } course { id } } } } }`, nil).NoErrors(t)
	about := map[string]string{}
	for _, e := range dig(t, r.Data, "tasks", "edges").([]any) {
		node := dig(t, e, "node").(map[string]any)
		b, _ := json.Marshal(map[string]any{"video": node["video"], "lecture": node["lecture"], "liveSession": node["liveSession"], "course": node["course"]})
		about[node["id"].(string)] = string(b)
	}
	sid, cid, lid := strconv.FormatInt(session.ID, 10), strconv.FormatInt(course.ID, 10), strconv.FormatInt(recording.LectureID, 10)
	wantAbout := map[string]string{
		jobs.LiveMeetingDeleteTaskID("Series-1"): `{"course":{"id":"` + cid + `"},"lecture":null,"liveSession":{"id":"` + sid + `","title":"Live"},"video":null}`,
		jobs.LiveRecordingImportTaskID("rec-1"):  `{"course":{"id":"` + cid + `"},"lecture":{"id":"` + lid + `"},"liveSession":{"id":"` + sid + `","title":"Live"},"video":null}`,
		jobs.CoursePurgeTaskID(course.ID):        `{"course":{"id":"` + cid + `"},"lecture":null,"liveSession":null,"video":null}`,
	}
	for id, w := range wantAbout {
		if about[id] != w {
			t.Errorf("task %s is about %s, want %s", id, about[id], w)
		}
	}

	t.Run("a page costs the same queries however long", func(t *testing.T) {
		const all = `{ tasks(queue: "video", state: PENDING, first: %d) { edges { node { id
			video { id error fileName } lecture { id title } course { id title } } } } }`
		count := func(first int) int64 {
			ab.queries.Store(0)
			ab.post(t, ab.admin, fmt.Sprintf(all, first), nil).NoErrors(t)
			return ab.queries.Load()
		}
		if one, three := count(1), count(3); one != three {
			t.Errorf("one task took %d queries, three took %d", one, three)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		for _, q := range []string{
			`{ tasks(queue: "nope", state: PENDING) { edges { cursor } } }`,
			`{ tasks(queue: "video", state: PENDING, first: 101) { edges { cursor } } }`,
			`{ tasks(queue: "video", state: PENDING, after: "bm9wZQ") { edges { cursor } } }`,
		} {
			r := ab.post(t, ab.admin, q, nil)
			if code := r.Code(t); code != "NOT_FOUND" && code != "BAD_USER_INPUT" {
				t.Errorf("%s: %s", q, r.Raw)
			}
		}
	})
}

// The mutations, each repeated: what each returns, what it does to the
// video a task is about, and the audit log of it all.
func TestAdminMutations(t *testing.T) {
	t.Parallel()
	ab := setupAdmin(t)
	v, vars := ab.probing(t)
	probe := vars["id"].(string)
	do := func(t *testing.T, query string) map[string]any {
		t.Helper()
		return ab.post(t, ab.admin, query, vars).NoErrors(t).Data
	}

	t.Run("pause and resume", func(t *testing.T) {
		for range 2 {
			if q := do(t, `mutation($q: String!) { pauseQueue(name: $q) { name paused pending } }`)["pauseQueue"]; fmt.Sprint(q) != "map[name:video paused:true pending:1]" {
				t.Errorf("pauseQueue = %v", q)
			}
		}
		if q := do(t, `query($q: String!) { queue(name: $q) { paused } }`)["queue"]; fmt.Sprint(q) != "map[paused:true]" {
			t.Errorf("queue after the pause = %v", q)
		}
		for range 2 {
			if q := do(t, `mutation($q: String!) { resumeQueue(name: $q) { paused } }`)["resumeQueue"]; fmt.Sprint(q) != "map[paused:false]" {
				t.Errorf("resumeQueue = %v", q)
			}
		}
	})
	t.Run("archive a waiting step ends its video FAILED", func(t *testing.T) {
		for range 2 {
			task := do(t, `mutation($q: String!, $id: String!) { archiveTask(queue: $q, id: $id) { id state video { status stage error } } }`)["archiveTask"]
			if dig(t, task, "state") != "ARCHIVED" || dig(t, task, "video", "status") != "FAILED" ||
				!strings.Contains(dig(t, task, "video", "error").(string), "admin, an admin, archived the probe step") {
				t.Errorf("archiveTask = %v", task)
			}
		}
	})
	t.Run("run an archived step retries its video", func(t *testing.T) {
		for range 2 {
			task := do(t, `mutation($q: String!, $id: String!) { runTask(queue: $q, id: $id) { state retried video { status stage error } } }`)["runTask"]
			if dig(t, task, "state") != "PENDING" || dig(t, task, "retried") != 0.0 || dig(t, task, "video", "status") != "UPLOADED" || dig(t, task, "video", "error") != nil {
				t.Errorf("runTask = %v, want a fresh pending step and the video retried", task)
			}
		}
	})
	t.Run("cancel a waiting task archives it", func(t *testing.T) {
		for range 2 {
			task := do(t, `mutation($id: String!) { cancelTask(id: $id) { queue state video { status } } }`)["cancelTask"]
			if fmt.Sprint(task) != "map[queue:video state:ARCHIVED video:map[status:FAILED]]" {
				t.Errorf("cancelTask = %v", task)
			}
		}
	})
	t.Run("run every archived task", func(t *testing.T) {
		for range 2 {
			q := do(t, `mutation($q: String!) { runAllArchivedTasks(queue: $q) { archived pending } }`)["runAllArchivedTasks"]
			if fmt.Sprint(q) != "map[archived:0 pending:1]" {
				t.Errorf("runAllArchivedTasks = %v", q)
			}
		}
		if got := ab.video(t, v.ID); got.Status != edustream.VideoUploaded {
			t.Errorf("video %s, want it retried", got.Status)
		}
	})
	t.Run("delete", func(t *testing.T) {
		for range 2 {
			if id := do(t, `mutation($q: String!, $id: String!) { deleteTask(queue: $q, id: $id) }`)["deleteTask"]; id != probe {
				t.Errorf("deleteTask = %v", id)
			}
		}
		if got := ab.video(t, v.ID); got.Status != edustream.VideoFailed {
			t.Errorf("video %s after its waiting step was deleted, want FAILED", got.Status)
		}
		r := ab.post(t, ab.admin, `mutation { runTask(queue: "video", id: "video:probe:424242") { state } }`, nil)
		if r.Code(t) != "NOT_FOUND" {
			t.Errorf("running a missing task: %s", r.Raw)
		}
	})

	t.Run("the audit log", func(t *testing.T) {
		want := []string{
			"pauseQueue queue video ok", "pauseQueue queue video ok",
			"resumeQueue queue video ok", "resumeQueue queue video ok",
			fmt.Sprintf("archiveTask task %s in queue video ok (video %d failed at PROBE)", probe, v.ID),
			fmt.Sprintf("archiveTask task %s in queue video ok", probe),
			fmt.Sprintf("runTask task %s in queue video ok (video %d retried from PROBE)", probe, v.ID),
			fmt.Sprintf("runTask task %s in queue video ok", probe),
			fmt.Sprintf("cancelTask task %s ok (video %d failed at PROBE)", probe, v.ID),
			fmt.Sprintf("cancelTask task %s ok", probe),
			"runAllArchivedTasks queue video ok (1 tasks run, 1 of them by retrying their video)",
			"runAllArchivedTasks queue video ok (0 tasks run, 0 of them by retrying their video)",
			fmt.Sprintf("deleteTask task %s in queue video ok (video %d failed at PROBE)", probe, v.ID),
			fmt.Sprintf("deleteTask task %s in queue video ok (there was no such task)", probe),
			"runTask task video:probe:424242 in queue video failed: NOT_FOUND: task \"video:probe:424242\" not found in queue \"video\"",
		}
		var got []string
		var after any
		for range 10 {
			r := ab.post(t, ab.admin, `query($after: String) { auditLog(first: 4, after: $after) {
				edges { node { actor { name } action target result at } } pageInfo { hasNextPage endCursor } } }`,
				map[string]any{"after": after}).NoErrors(t)
			for _, e := range dig(t, r.Data, "auditLog", "edges").([]any) {
				n := dig(t, e, "node")
				if dig(t, n, "actor", "name") != "admin" || dig(t, n, "at") == "" {
					t.Errorf("entry %v, want the admin and a time", n)
				}
				got = append(got, fmt.Sprint(dig(t, n, "action"), " ", dig(t, n, "target"), " ", dig(t, n, "result")))
			}
			if dig(t, r.Data, "auditLog", "pageInfo", "hasNextPage") == false {
				break
			}
			after = dig(t, r.Data, "auditLog", "pageInfo", "endCursor")
		}
		slices.Reverse(got)
		if !slices.Equal(got, want) {
			t.Errorf("audit log, oldest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// The videos of every course, for the "what failed, retry it" screen.
func TestAdminVideos(t *testing.T) {
	t.Parallel()
	ab := setupAdmin(t)
	ctx := context.Background()
	mine := ab.seedCourse(t, ab.instructor, "Mine", 1, false)
	theirs := ab.seedCourse(t, ab.otherInstructor, "Theirs", 1, true)
	failed := ab.storedVideo(t, ab.firstLecture(t, mine))
	if _, err := ab.life.Fail(ctx, failed, edustream.Errorf(edustream.EINVALID, "the file is not a video")); err != nil {
		t.Fatal(err)
	}
	waiting := ab.storedVideo(t, ab.firstLecture(t, theirs))

	const q = `query($s: VideoStatus, $first: Int) { videos(status: $s, first: $first) { edges { node {
		id status stage progress error fileName ageSeconds lecture { id title } course { title } } } pageInfo { hasNextPage } } }`
	r := ab.post(t, ab.admin, q, map[string]any{"first": 10}).NoErrors(t)
	edges := dig(t, r.Data, "videos", "edges").([]any)
	if len(edges) != 2 || dig(t, edges, 0, "node", "id") != strconv.FormatInt(waiting.ID, 10) || dig(t, edges, 1, "node", "id") != strconv.FormatInt(failed.ID, 10) {
		t.Fatalf("videos %v, want both, newest first", edges)
	}
	if n := dig(t, edges, 1, "node"); dig(t, n, "error") != "the file is not a video" || dig(t, n, "course", "title") != "Mine" ||
		dig(t, n, "fileName") != "talk.mp4" || dig(t, n, "stage") != "PROBE" || dig(t, n, "ageSeconds").(float64) < 0 {
		t.Errorf("failed video %v, want its reason, file and course", n)
	}
	r = ab.post(t, ab.admin, q, map[string]any{"s": "FAILED"}).NoErrors(t)
	if edges := dig(t, r.Data, "videos", "edges").([]any); len(edges) != 1 || dig(t, edges, 0, "node", "id") != strconv.FormatInt(failed.ID, 10) {
		t.Errorf("FAILED videos %v", edges)
	}
	t.Run("a page costs the same queries however long", func(t *testing.T) {
		count := func(first int) int64 {
			ab.queries.Store(0)
			ab.post(t, ab.admin, q, map[string]any{"first": first}).NoErrors(t)
			return ab.queries.Load()
		}
		if one, two := count(1), count(2); one != two {
			t.Errorf("one video took %d queries, two took %d", one, two)
		}
	})
	t.Run("others see a video's place only where they see the lecture", func(t *testing.T) {
		r := ab.post(t, ab.student, `query($id: ID!) { lecture(id: $id) { video { lecture { id } course { title } ageSeconds } } }`,
			map[string]any{"id": strconv.FormatInt(waiting.LectureID, 10)}).NoErrors(t)
		if fmt.Sprint(dig(t, r.Data, "lecture", "video", "course")) != "map[title:Theirs]" {
			t.Errorf("a student's view of a published lecture's video: %s", r.Raw)
		}
	})
}

// The workers field shows each process once, with its queues and what it
// runs, from the heartbeats of asynq's servers.
func TestAdminWorkers(t *testing.T) {
	t.Parallel()
	ab := setupAdmin(t)
	course := ab.seedCourse(t, ab.instructor, "Course", 1, true)
	v := ab.storedVideo(t, ab.firstLecture(t, course))
	release := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeVideoProbe, func(ctx context.Context, _ *asynq.Task) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	for queue, n := range map[string]int{jobs.QueueDefault: 3, jobs.QueueVideo: 1} {
		srv := asynq.NewServerFromRedisClient(ab.rdb, asynq.Config{Concurrency: n, Queues: map[string]int{queue: 1},
			TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.FatalLevel, ShutdownTimeout: time.Second})
		if err := srv.Start(mux); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
	}
	// Before the servers shut down (cleanups run last first).
	t.Cleanup(func() { close(release) })
	const q = `{ workers { host pid status startedAt queues { name concurrency }
		running { taskId type queue startedAt video { id } course { title } } } }`
	var me any
	testenv.Eventually(t, "the worker to report the probe it runs", func() bool {
		r := ab.post(t, ab.admin, q, nil).NoErrors(t)
		me = nil
		for _, w := range dig(t, r.Data, "workers").([]any) {
			if dig(t, w, "pid") == float64(os.Getpid()) {
				me = w
			}
		}
		return me != nil && len(dig(t, me, "running").([]any)) == 1
	})
	if got := fmt.Sprint(dig(t, me, "queues")); got != "[map[concurrency:3 name:default] map[concurrency:1 name:video]]" || dig(t, me, "status") != "active" {
		t.Errorf("this process as a worker: %v", me)
	}
	running := dig(t, me, "running", 0)
	if dig(t, running, "taskId") != jobs.VideoTaskID("probe", v.ID) || dig(t, running, "video", "id") != strconv.FormatInt(v.ID, 10) ||
		dig(t, running, "course", "title") != "Course" {
		t.Errorf("running %v, want the probe of video %d", running, v.ID)
	}
}
