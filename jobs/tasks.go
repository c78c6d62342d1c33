// Package jobs is EduStream's background work on asynq: the task types and
// their payloads, the Queue the API enqueues through, the Worker that runs the
// handlers, the middleware every handler runs in, the transcoding chain, and
// the reconcilers that re-enqueue from the database whatever Redis may have
// lost.
//
// Redis is transport, never the truth. Every task carries ids only and its
// handler re-reads state from the database; task ids are deterministic so that
// enqueueing the same work twice (the API and the reconciler, or two API
// instances) collapses into one task.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// Queues. Every task type names the queue it runs on, and a worker runs each
// queue with its own concurrency, so a burst of transcodes never starves the
// short tasks (purges, chain hops that only touch the database).
const (
	// QueueDefault holds short tasks: database and object-store work.
	QueueDefault = "default"
	// QueueVideo holds ffmpeg work (probe, transcode, thumbnails,
	// captions). One
	// transcode keeps about two cores busy, so its concurrency is small.
	QueueVideo = "video"
	// QueueVideoLong holds the transcodes and captions of long videos
	// (LongVideo and longer). A worker runs it with its own slots, so hours of encoding
	// never take the slots a short video needs: a 12-second clip does not
	// wait behind a lecture of two hours.
	QueueVideoLong = "video-long"
)

// LongVideo is the length from which a video's transcode runs on
// QueueVideoLong. The probe knows the length before the transcode is
// queued. A transcode of ten minutes of video takes a few minutes of a
// worker; past that, a short video waiting behind it would notice.
const LongVideo = 10 * time.Minute

// videoQueues are the queues where videos wait for ffmpeg.
var videoQueues = []string{QueueVideo, QueueVideoLong}

// Task types. The version suffix lets a new payload shape ship next to the
// old one: workers keep a handler for v1 until no v1 task is left in Redis.
const (
	// TypeCoursePurge removes a hidden course with its lectures and
	// enrollments (CoursePurgePayload).
	TypeCoursePurge = "course:purge:v1"
	// The transcoding chain, one task per step (VideoPayload).
	TypeVideoProbe      = "video:probe:v1"
	TypeVideoTranscode  = "video:transcode:v1"
	TypeVideoPublish    = "video:publish:v1"
	TypeVideoThumbnails = "video:thumbnails:v1"
	TypeVideoCaptions   = "video:captions:v1"
	TypeVideoMetadata   = "video:metadata:v1"
	TypeVideoComplete   = "video:complete:v1"
	// TypeVideoCleanup deletes the outputs of a replaced video and then
	// its row (VideoPayload).
	TypeVideoCleanup = "video:cleanup:v1"
	// TypeUploadExpire aborts an upload that was never completed and marks
	// its video FAILED (VideoPayload).
	TypeUploadExpire = "video:expire-upload:v1"
)

// taskType is one kind of task: its name, the queue it runs on, its retry
// and timeout options, and the deterministic id of the task for a payload.
//
// Duplicates collapse through the task id rather than asynq's Unique option:
// an id holds for the task's whole life in Redis (pending, retrying,
// running), while Unique is a lock with a TTL that can expire under a task
// still waiting for its retry, and whose expiry depends on Redis's clock
// (miniredis needs ClockTTL for it).
type taskType[P any] struct {
	name  string
	queue string
	// maxRetry with asynq's backoff (n⁴+15 s plus jitter): 10 retries span
	// several hours, enough to ride out a database failover; past that the
	// reconciler takes over.
	maxRetry int
	// timeout is whole seconds: asynq stores seconds and silently drops a
	// fraction, so 300 ms would mean no timeout at all.
	timeout time.Duration
	// id names the task of p; p's fields are valid when it is called.
	id func(p P) string
	// check refuses a payload whose task could never succeed (EINVALID).
	check func(p P) error
}

// newTask returns the task for p with every option set, carrying ctx's
// trace (tracing.go).
func (tt taskType[P]) newTask(ctx context.Context, p P) (*asynq.Task, error) {
	if err := tt.check(p); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", tt.name, err)
	}
	return asynq.NewTaskWithHeaders(tt.name, payload, traceHeaders(ctx),
		asynq.TaskID(tt.id(p)),
		asynq.Queue(tt.queue),
		asynq.MaxRetry(tt.maxRetry),
		asynq.Timeout(tt.timeout),
	), nil
}

// decode reads a task's payload. A payload that does not decode, or names
// nothing, never will: the error skips the retries.
func (tt taskType[P]) decode(t *asynq.Task) (P, error) {
	var p P
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if err := tt.check(p); err != nil {
		return p, fmt.Errorf("%s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return p, nil
}

// CoursePurgePayload is the payload of TypeCoursePurge. It carries the id
// only: the handler asks the database whether the course is still hidden.
type CoursePurgePayload struct {
	CourseID int64 `json:"course_id"`
}

// VideoPayload is the payload of the video tasks: the video's id, and
// nothing the handler could not read again from the database.
type VideoPayload struct {
	VideoID int64 `json:"video_id"`
	// MediaSeconds is the video's length, on a transcode: what the
	// queue's wait estimate (VideoQueueWait) expects of the step. Not part
	// of the task's id; absent on older tasks.
	MediaSeconds float64 `json:"media_seconds,omitempty"`
}

func positiveID(what string, id int64) error {
	if id <= 0 {
		return edustream.Errorf(edustream.EINVALID, "%s id must be positive, got %d", what, id)
	}
	return nil
}

var coursePurge = taskType[CoursePurgePayload]{
	name:     TypeCoursePurge,
	queue:    QueueDefault,
	maxRetry: 10,
	// A few DELETE statements in one transaction: generous.
	timeout: 5 * time.Minute,
	id:      func(p CoursePurgePayload) string { return CoursePurgeTaskID(p.CourseID) },
	check:   func(p CoursePurgePayload) error { return positiveID("course", p.CourseID) },
}

// CoursePurgeTaskID returns the deterministic id of the purge task of a
// course, so a second enqueue of the same purge collapses into the first.
func CoursePurgeTaskID(courseID int64) string {
	return "course:purge:" + strconv.FormatInt(courseID, 10)
}

// videoTask is a task type of the video family; its id is
// "video:<step>:<video id>", so the same step of the same video is one task
// however often it is enqueued.
func videoTask(name, step, queue string, maxRetry int, timeout time.Duration) taskType[VideoPayload] {
	return taskType[VideoPayload]{
		name:     name,
		queue:    queue,
		maxRetry: maxRetry,
		timeout:  timeout,
		id:       func(p VideoPayload) string { return VideoTaskID(step, p.VideoID) },
		check:    func(p VideoPayload) error { return positiveID("video", p.VideoID) },
	}
}

// VideoTaskID returns the id of a video task: step is the task type's middle
// word ("transcode", "cleanup").
func VideoTaskID(step string, videoID int64) string {
	return "video:" + step + ":" + strconv.FormatInt(videoID, 10)
}

// The chain's tasks. Retries are few where a failure is usually the input's
// (probe, transcode: a broken file fails the same way every time, and the
// handler marks those permanent at once) and more where it is the
// infrastructure's. Timeouts bound a stuck ffmpeg; a transcode of a 4-hour
// source at a slow half of real time needs 8 hours.
var (
	videoProbe      = videoTask(TypeVideoProbe, "probe", QueueVideo, 5, 30*time.Minute)
	videoTranscode  = videoTask(TypeVideoTranscode, "transcode", QueueVideo, 3, 10*time.Hour)
	videoPublish    = videoTask(TypeVideoPublish, "publish", QueueDefault, 8, 30*time.Minute)
	videoThumbnails = videoTask(TypeVideoThumbnails, "thumbnails", QueueVideo, 5, 30*time.Minute)
	// The captions step bounds itself (Deps.CaptionsTimeout) and records
	// its engine's failures instead of returning them: its retries are for
	// the database and the store.
	videoCaptions = videoTask(TypeVideoCaptions, "captions", QueueVideo, 5, 10*time.Hour)
	videoMetadata = videoTask(TypeVideoMetadata, "metadata", QueueDefault, 8, 5*time.Minute)
	videoComplete = videoTask(TypeVideoComplete, "complete", QueueDefault, 10, 5*time.Minute)
	videoCleanup  = videoTask(TypeVideoCleanup, "cleanup", QueueDefault, 10, 30*time.Minute)
	uploadExpire  = videoTask(TypeUploadExpire, "expire-upload", QueueDefault, 10, 5*time.Minute)
	// videoTranscodeLong is videoTranscode on the long videos' queue: the
	// same type, handler and id.
	videoTranscodeLong = videoTask(TypeVideoTranscode, "transcode", QueueVideoLong, 3, 10*time.Hour)
	// videoCaptionsLong is videoCaptions on the long videos' queue: the
	// local engine works about half as long as the video lasts, so a
	// lecture's captions would hold a short video's slot for an hour.
	videoCaptionsLong = videoTask(TypeVideoCaptions, "captions", QueueVideoLong, 5, 10*time.Hour)
)

// videoStageTask returns the task type of v's step stage: the transcode
// and the captions of a long video (LongVideo) wait in its own queue.
func videoStageTask(v *edustream.Video, stage edustream.VideoStage) (taskType[VideoPayload], bool) {
	long := v.Media != nil && v.Media.DurationSeconds >= LongVideo.Seconds()
	switch {
	case long && stage == edustream.StageTranscode:
		return videoTranscodeLong, true
	case long && stage == edustream.StageCaptions:
		return videoCaptionsLong, true
	}
	tt, ok := stageTasks[stage]
	return tt, ok
}

// videoStepTasks are the task types of the chain's steps in every queue
// they may wait in.
var videoStepTasks = []taskType[VideoPayload]{videoProbe, videoTranscode, videoTranscodeLong, videoPublish, videoThumbnails, videoCaptions, videoCaptionsLong, videoMetadata, videoComplete}

// stageTasks maps each step of the chain to its task type.
var stageTasks = map[edustream.VideoStage]taskType[VideoPayload]{
	edustream.StageProbe:      videoProbe,
	edustream.StageTranscode:  videoTranscode,
	edustream.StagePublish:    videoPublish,
	edustream.StageThumbnails: videoThumbnails,
	edustream.StageCaptions:   videoCaptions,
	edustream.StageMetadata:   videoMetadata,
	edustream.StageComplete:   videoComplete,
}
