package graph

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph/generated"
	"github.com/edustream/edustream/graph/model"
)

// The helpers of the admin resolvers: queues, tasks, workers, every video
// and the audit log. edustream.Operations decides and records; these check
// the caller first (so that a server without queue administration still
// tells a student FORBIDDEN), turn its answers into the schema's types, and
// load what the tasks are about, a query per kind of row for the whole
// page.

// Estimates of the admin lists for the complexity limit: the queues are a
// handful, a fleet a few dozen processes running a few tasks each.
const (
	queuesEstimate  = 10
	workersEstimate = 50
	runningEstimate = 10
)

// adminComplexity prices the admin lists by their length, as complexity()
// does the catalog's.
func adminComplexity(c *generated.ComplexityRoot) {
	page := func(child int, first *int) int {
		n := 20
		if first != nil {
			n = min(max(*first, 1), MaxFirst)
		}
		return gqlhttp.ListCost(n, child)
	}
	c.Query.Queues = func(child int) int { return gqlhttp.ListCost(queuesEstimate, child) }
	c.Query.Tasks = func(child int, _ string, _ model.TaskState, first *int, _ *string) int { return page(child, first) }
	c.Query.Videos = func(child int, _ *edustream.VideoStatus, first *int, _ *string) int { return page(child, first) }
	c.Query.AuditLog = func(child int, first *int, _ *string) int { return page(child, first) }
	c.Query.Workers = func(child int) int { return gqlhttp.ListCost(workersEstimate, child) }
	c.Worker.Running = func(child int) int { return gqlhttp.ListCost(runningEstimate, child) }
}

// operator returns the caller and the operations to run the fleet with;
// the operations refuse (and log) anyone but an admin.
func (r *Resolver) operator(ctx context.Context) (*edustream.User, *edustream.Operations, error) {
	if r.Operations == nil {
		return nil, nil, edustream.Errorf(edustream.ECONFLICT, "this server has no queue administration")
	}
	return edustream.UserFromContext(ctx), r.Operations, nil
}

// pageSize checks a connection's first argument.
func pageSize(first *int) (int, error) {
	n := 20
	if first != nil {
		n = *first
	}
	if n < 0 || n > MaxFirst {
		return 0, edustream.Errorf(edustream.EINVALID, "first must be between 0 and %d, got %d", MaxFirst, n)
	}
	return n, nil
}

// Cursors are opaque to clients: a keyset id for videos and audit entries,
// a position for tasks (asynq's lists have no other key).
const (
	videoCursor = "video:"
	auditCursor = "audit:"
	taskCursor  = "task:"
)

func encodeKey(prefix string, n int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + strconv.FormatInt(n, 10)))
}

// decodeKey reads a cursor of prefix; min is the smallest value it may
// hold.
func decodeKey(prefix, s string, min int64) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), prefix); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n >= min {
				return n, nil
			}
		}
	}
	return 0, edustream.Errorf(edustream.EINVALID, "invalid cursor")
}

// afterKey decodes an optional keyset cursor (0: from the start).
func afterKey(prefix string, after *string) (int64, error) {
	if after == nil {
		return 0, nil
	}
	return decodeKey(prefix, *after, 1)
}

func queueModel(q *edustream.QueueInfo) *model.Queue {
	if q == nil {
		return nil
	}
	return &model.Queue{
		Name:           q.Name,
		Paused:         q.Paused,
		Size:           q.Size,
		Pending:        q.Pending,
		Active:         q.Active,
		Scheduled:      q.Scheduled,
		Retry:          q.Retry,
		Archived:       q.Archived,
		Completed:      q.Completed,
		ProcessedToday: q.ProcessedToday,
		FailedToday:    q.FailedToday,
		LatencySeconds: q.Latency.Seconds(),
		MemoryBytes:    q.MemoryBytes,
	}
}

func (r *Resolver) adminQueues(ctx context.Context) ([]*model.Queue, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	queues, err := ops.Queues(ctx, u)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Queue, len(queues))
	for i, q := range queues {
		out[i] = queueModel(q)
	}
	return out, nil
}

func (r *Resolver) adminQueue(ctx context.Context, name string) (*model.Queue, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	q, err := ops.Queue(ctx, u, name)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, nil
	}
	return queueModel(q), err
}

func (r *Resolver) adminTasks(ctx context.Context, queue string, state model.TaskState, first *int, after *string) (*model.TaskConnection, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	offset := 0
	if after != nil {
		last, err := decodeKey(taskCursor, *after, 0)
		if err != nil {
			return nil, err
		}
		offset = int(min(last, 1<<30)) + 1
	}
	tasks, more, err := ops.ListTasks(ctx, u, queue, edustream.TaskState(state), offset, limit)
	if err != nil {
		return nil, err
	}
	subjects := make([]edustream.TaskSubject, len(tasks))
	for i, t := range tasks {
		subjects[i] = t.Subject
	}
	objects, err := r.subjectObjects(ctx, subjects, "edges", "node")
	if err != nil {
		return nil, err
	}
	conn := &model.TaskConnection{Edges: make([]*model.TaskEdge, len(tasks)), PageInfo: &model.PageInfo{HasNextPage: more}}
	for i, t := range tasks {
		conn.Edges[i] = &model.TaskEdge{Cursor: encodeKey(taskCursor, int64(offset+i)), Node: taskModel(t, objects[i])}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

func taskModel(t *edustream.TaskInfo, o subjectObject) *model.Task {
	if t == nil {
		return nil
	}
	m := &model.Task{
		ID:            t.ID,
		Queue:         t.Queue,
		Type:          t.Type,
		State:         model.TaskState(t.State),
		Retried:       t.Retried,
		MaxRetry:      t.MaxRetry,
		LastFailedAt:  t.LastFailedAt,
		NextProcessAt: t.NextProcessAt,
		CompletedAt:   t.CompletedAt,
		Video:         o.video,
		Lecture:       o.lecture,
		LiveSession:   o.session,
		Course:        o.course,
	}
	if t.LastError != "" {
		m.LastError = &t.LastError
	}
	return m
}

// task returns the model of one task, with what it is about.
func (r *Resolver) task(ctx context.Context, t *edustream.TaskInfo) (*model.Task, error) {
	if t == nil {
		return nil, nil
	}
	objects, err := r.subjectObjects(ctx, []edustream.TaskSubject{t.Subject})
	if err != nil {
		return nil, err
	}
	return taskModel(t, objects[0]), nil
}

func (r *Resolver) adminWorkers(ctx context.Context) ([]*model.Worker, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	workers, err := ops.Workers(ctx, u)
	if err != nil {
		return nil, err
	}
	var subjects []edustream.TaskSubject
	for _, w := range workers {
		for _, rt := range w.Running {
			subjects = append(subjects, rt.Subject)
		}
	}
	objects, err := r.subjectObjects(ctx, subjects, "running")
	if err != nil {
		return nil, err
	}
	out := make([]*model.Worker, len(workers))
	next := 0
	for i, w := range workers {
		m := &model.Worker{Host: w.Host, Pid: w.PID, StartedAt: w.StartedAt, Status: w.Status,
			Queues: make([]*model.WorkerQueue, len(w.Queues)), Running: make([]*model.RunningTask, len(w.Running))}
		for j, q := range w.Queues {
			m.Queues[j] = &model.WorkerQueue{Name: q.Name, Concurrency: q.Concurrency}
		}
		for j, rt := range w.Running {
			o := objects[next]
			next++
			m.Running[j] = &model.RunningTask{TaskID: rt.TaskID, Type: rt.Type, Queue: rt.Queue, StartedAt: rt.StartedAt,
				Deadline: rt.Deadline, Video: o.video, Lecture: o.lecture, LiveSession: o.session, Course: o.course}
		}
		out[i] = m
	}
	return out, nil
}

// subjectObject is what a task is about, as the schema shows it.
type subjectObject struct {
	video   *edustream.Video
	lecture *edustream.Lecture
	session *edustream.LiveSession
	course  *edustream.Course
}

// subjectObjects loads what each task is about, if the document asks for
// it under the field at path (from the current field): one query per
// kind of row for them all, whatever their number, with the operation's
// loaders primed for the fields nested under them. A video is shown only
// with its lecture (the video's own fields are checked against it), and
// hidden courses, with their lectures, are not shown at all.
func (r *Resolver) subjectObjects(ctx context.Context, subjects []edustream.TaskSubject, path ...string) ([]subjectObject, error) {
	out := make([]subjectObject, len(subjects))
	if len(subjects) == 0 || !selects(ctx, path, "video", "lecture", "liveSession", "course") {
		return out, nil
	}
	var videoIDs, lectureIDs, sessionIDs, courseIDs []int64
	var meetingIDs, recordingIDs []string
	for _, s := range subjects {
		switch {
		case s.VideoID != 0:
			videoIDs = append(videoIDs, s.VideoID)
		case s.CourseID != 0:
			courseIDs = append(courseIDs, s.CourseID)
		case s.MeetingID != "":
			meetingIDs = append(meetingIDs, s.MeetingID)
		case s.RecordingID != "":
			recordingIDs = append(recordingIDs, s.RecordingID)
		}
	}

	recordings := map[string]*edustream.LiveRecording{}
	byMeeting := map[string]*edustream.LiveSession{}
	sessions := map[int64]*edustream.LiveSession{}
	if r.LiveSessionService != nil {
		var err error
		if len(recordingIDs) > 0 {
			if recordings, err = r.LiveSessionService.FindLiveRecordingsByIDs(ctx, recordingIDs); err != nil {
				return nil, err
			}
		}
		for _, rec := range recordings {
			sessionIDs = append(sessionIDs, rec.SessionID)
			lectureIDs = append(lectureIDs, rec.LectureID)
			if rec.VideoID != 0 {
				videoIDs = append(videoIDs, rec.VideoID)
			}
		}
		if len(meetingIDs) > 0 {
			if byMeeting, err = r.LiveSessionService.FindLiveSessionsByMeetingIDs(ctx, meetingIDs); err != nil {
				return nil, err
			}
		}
		if len(sessionIDs) > 0 {
			if sessions, err = r.LiveSessionService.FindLiveSessionsByIDs(ctx, sessionIDs); err != nil {
				return nil, err
			}
		}
		for _, s := range byMeeting {
			sessions[s.ID] = s
		}
		for _, s := range sessions {
			courseIDs = append(courseIDs, s.CourseID)
		}
	}

	videos := map[int64]*edustream.Video{}
	var err error
	if len(videoIDs) > 0 {
		if videos, err = r.VideoService.FindVideosByIDs(ctx, videoIDs); err != nil {
			return nil, err
		}
	}
	for _, v := range videos {
		lectureIDs = append(lectureIDs, v.LectureID)
	}
	lectures := map[int64]*edustream.Lecture{}
	if len(lectureIDs) > 0 {
		if lectures, err = r.LectureService.FindLecturesByIDs(ctx, lectureIDs); err != nil {
			return nil, err
		}
	}
	for _, l := range lectures {
		courseIDs = append(courseIDs, l.CourseID)
	}
	courses := map[int64]*edustream.Course{}
	if len(courseIDs) > 0 {
		if courses, err = r.CourseService.FindCoursesByIDs(ctx, courseIDs); err != nil {
			return nil, err
		}
	}

	l := loadersFrom(ctx)
	for id, c := range courses {
		l.courseLoader().Prime(id, c)
	}
	// A lecture of a hidden course is not one to show.
	for id, lecture := range lectures {
		if courses[lecture.CourseID] == nil {
			delete(lectures, id)
			continue
		}
		l.lectureLoader().Prime(id, lecture)
	}
	for id, v := range videos {
		if lectures[v.LectureID] == nil {
			delete(videos, id)
			continue
		}
		l.videoLoader().Prime(id, v)
	}

	for i, s := range subjects {
		o := &out[i]
		switch {
		case s.VideoID != 0:
			o.video = videos[s.VideoID]
		case s.CourseID != 0:
			o.course = courses[s.CourseID]
		case s.MeetingID != "":
			o.session = byMeeting[s.MeetingID]
		case s.RecordingID != "":
			if rec := recordings[s.RecordingID]; rec != nil {
				o.session, o.lecture, o.video = sessions[rec.SessionID], lectures[rec.LectureID], videos[rec.VideoID]
			}
		}
		if o.video != nil && o.lecture == nil {
			o.lecture = lectures[o.video.LectureID]
		}
		if o.lecture != nil {
			o.course = courses[o.lecture.CourseID]
		}
		if o.session != nil {
			if c := courses[o.session.CourseID]; c != nil {
				o.course = c
			} else {
				o.session = nil // a hidden course's
			}
		}
	}
	return out, nil
}

// selects reports whether the current field's selection has, under path,
// a field named one of names.
func selects(ctx context.Context, path []string, names ...string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return true // not in an operation: load everything
	}
	set := fc.Field.Selections
	for _, step := range path {
		var next ast.SelectionSet
		eachField(set, func(f *ast.Field) bool {
			if f.Name == step {
				next = append(next, f.SelectionSet...)
			}
			return true
		})
		set = next
	}
	found := false
	eachField(set, func(f *ast.Field) bool {
		for _, n := range names {
			if f.Name == n {
				found = true
			}
		}
		return !found
	})
	return found
}

func (r *Resolver) adminVideos(ctx context.Context, status *edustream.VideoStatus, first *int, after *string) (*model.VideoConnection, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	f := edustream.VideoFilter{Status: status}
	if f.Limit, err = pageSize(first); err != nil {
		return nil, err
	}
	if f.BeforeID, err = afterKey(videoCursor, after); err != nil {
		return nil, err
	}
	videos, more, err := ops.ListVideos(ctx, u, f)
	if err != nil {
		return nil, err
	}
	if err := r.prefetchVideoPlaces(ctx, videos); err != nil {
		return nil, err
	}
	conn := &model.VideoConnection{Edges: make([]*model.VideoEdge, len(videos)), PageInfo: &model.PageInfo{HasNextPage: more}}
	for i, v := range videos {
		conn.Edges[i] = &model.VideoEdge{Cursor: encodeKey(videoCursor, v.ID), Node: v}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// prefetchVideoPlaces loads the lectures and courses of a page of videos,
// in one query each, for the fields that read them (the place itself, and
// the access checks of error, fileName and the URLs).
func (r *Resolver) prefetchVideoPlaces(ctx context.Context, videos []*edustream.Video) error {
	if len(videos) == 0 || !selects(ctx, []string{"edges", "node"},
		"lecture", "course", "error", "fileName", "thumbnailUrl", "storyboardUrl", "playbackUrl") {
		return nil
	}
	ids := make([]int64, len(videos))
	for i, v := range videos {
		ids[i] = v.LectureID
	}
	lectures, err := r.LectureService.FindLecturesByIDs(ctx, ids)
	if err != nil {
		return err
	}
	courseIDs := make([]int64, 0, len(lectures))
	l := loadersFrom(ctx)
	for id, lecture := range lectures {
		l.lectureLoader().Prime(id, lecture)
		courseIDs = append(courseIDs, lecture.CourseID)
	}
	courses, err := r.CourseService.FindCoursesByIDs(ctx, courseIDs)
	if err != nil {
		return err
	}
	for id, c := range courses {
		l.courseLoader().Prime(id, c)
	}
	return nil
}

// videoLecture is Video.lecture: the lecture, or null for a caller who may
// not see it.
func (r *Resolver) videoLecture(ctx context.Context, v *edustream.Video) (*edustream.Lecture, error) {
	l, err := r.visibleLecture(ctx, v.LectureID)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, nil
	}
	return l, err
}

// videoCourse is Video.course.
func (r *Resolver) videoCourse(ctx context.Context, v *edustream.Video) (*edustream.Course, error) {
	l, err := r.videoLecture(ctx, v)
	if l == nil || err != nil {
		return nil, err
	}
	c, err := r.visibleCourse(ctx, l.CourseID)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, nil
	}
	return c, err
}

// videoAge is Video.ageSeconds.
func videoAge(v *edustream.Video) int {
	return int(max(time.Since(v.CreatedAt), 0) / time.Second)
}

func (r *Resolver) adminAuditLog(ctx context.Context, first *int, after *string) (*model.AuditLogConnection, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	var f edustream.AuditFilter
	if f.Limit, err = pageSize(first); err != nil {
		return nil, err
	}
	if f.BeforeID, err = afterKey(auditCursor, after); err != nil {
		return nil, err
	}
	entries, more, err := ops.AuditEntries(ctx, u, f)
	if err != nil {
		return nil, err
	}
	actors := map[int64]*edustream.User{}
	if len(entries) > 0 && selects(ctx, []string{"edges", "node"}, "actor") {
		ids := make([]int64, len(entries))
		for i, e := range entries {
			ids[i] = e.ActorID
		}
		if actors, err = r.UserService.FindUsersByIDs(ctx, ids); err != nil {
			return nil, err
		}
	}
	conn := &model.AuditLogConnection{Edges: make([]*model.AuditEntryEdge, len(entries)), PageInfo: &model.PageInfo{HasNextPage: more}}
	for i, e := range entries {
		actor := actors[e.ActorID]
		if actor == nil {
			// Users are never deleted; this is a request that did not
			// ask for the actor, or a row older than its user's.
			actor = &edustream.User{ID: e.ActorID}
		}
		conn.Edges[i] = &model.AuditEntryEdge{Cursor: encodeKey(auditCursor, e.ID), Node: &model.AuditEntry{
			ID: e.ID, Actor: actor, Action: e.Action, Target: e.Target, Result: e.Result, At: e.At,
		}}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// The mutations.

func (r *Resolver) runTask(ctx context.Context, queue, id string) (*model.Task, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	t, err := ops.RunTask(ctx, u, queue, id)
	if err != nil {
		return nil, err
	}
	return r.task(ctx, t)
}

func (r *Resolver) archiveTask(ctx context.Context, queue, id string) (*model.Task, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	t, err := ops.ArchiveTask(ctx, u, queue, id)
	if err != nil {
		return nil, err
	}
	return r.task(ctx, t)
}

func (r *Resolver) deleteTask(ctx context.Context, queue, id string) (string, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return "", err
	}
	return id, ops.DeleteTask(ctx, u, queue, id)
}

func (r *Resolver) cancelTask(ctx context.Context, id string) (*model.Task, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	t, err := ops.CancelTask(ctx, u, id)
	if err != nil {
		return nil, err
	}
	return r.task(ctx, t)
}

func (r *Resolver) pauseQueue(ctx context.Context, name string, pause bool) (*model.Queue, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	set := ops.ResumeQueue
	if pause {
		set = ops.PauseQueue
	}
	q, err := set(ctx, u, name)
	return queueModel(q), err
}

func (r *Resolver) runAllArchivedTasks(ctx context.Context, queue string) (*model.Queue, error) {
	u, ops, err := r.operator(ctx)
	if err != nil {
		return nil, err
	}
	q, err := ops.RunAllArchivedTasks(ctx, u, queue)
	return queueModel(q), err
}
