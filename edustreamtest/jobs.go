package edustreamtest

import (
	"context"
	"slices"
	"strconv"
	"sync"

	"github.com/edustream/edustream"
)

// Jobs is an edustream.JobQueue and edustream.LiveJobQueue that records
// what is enqueued instead of running it. Every enqueue is recorded, a
// duplicate included (the real queue collapses it into the queued task).
// Like the real queue, it refuses with EINVALID what could never be a
// task: a stage without one (StageUpload), an id that is not positive, an
// empty Webex id; a refused or failed enqueue is not recorded.
//
// The zero value is ready to use.
type Jobs struct {
	mu             sync.Mutex
	err            error
	purges         []int64
	videoTasks     []VideoTask
	removals       []int64
	cancels        []int64
	jobCancels     []TranscodeCancel
	meetingDeletes []string
	imports        []string
	importsOnce    []string
	waits          map[int64]edustream.QueueWait
}

var (
	_ edustream.JobQueue     = (*Jobs)(nil)
	_ edustream.LiveJobQueue = (*Jobs)(nil)
)

// VideoTask is one enqueued step of a video's chain.
type VideoTask struct {
	VideoID int64
	Stage   edustream.VideoStage
}

// String returns "STAGE:videoID", e.g. "PROBE:12".
func (v VideoTask) String() string { return string(v.Stage) + ":" + strconv.FormatInt(v.VideoID, 10) }

// SetError makes every enqueue and VideoQueueWait fail with err from
// now on (nil: succeed again), as when Redis is unreachable.
func (j *Jobs) SetError(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.err = err
}

// SetQueueWait makes VideoQueueWait answer that the video waits as w
// says.
func (j *Jobs) SetQueueWait(videoID int64, w edustream.QueueWait) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.waits == nil {
		j.waits = map[int64]edustream.QueueWait{}
	}
	j.waits[videoID] = w
}

// ClearQueueWait makes VideoQueueWait answer that the video has no task
// waiting, as it does for a video no wait was set for.
func (j *Jobs) ClearQueueWait(videoID int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.waits, videoID)
}

// record runs add under the lock unless an error is set or refuse
// refuses.
func (j *Jobs) record(refuse error, add func()) error {
	if refuse != nil {
		return refuse
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	add()
	return nil
}

func positiveID(what string, id int64) error {
	if id <= 0 {
		return edustream.Errorf(edustream.EINVALID, "%s id must be positive, got %d", what, id)
	}
	return nil
}

func webexID(what, id string) error {
	if id == "" {
		return edustream.Errorf(edustream.EINVALID, "%s id must not be empty", what)
	}
	return nil
}

// EnqueueCoursePurge records the purge of a course. EINVALID for an id
// that is not positive.
func (j *Jobs) EnqueueCoursePurge(_ context.Context, courseID int64) error {
	return j.record(positiveID("course", courseID), func() { j.purges = append(j.purges, courseID) })
}

// EnqueueVideoStage records a step of a video's chain. EINVALID for a
// stage without a task (StageUpload, or none of the chain's) or an id that
// is not positive.
func (j *Jobs) EnqueueVideoStage(_ context.Context, v *edustream.Video, stage edustream.VideoStage) error {
	videoID := v.ID
	refuse := positiveID("video", videoID)
	if !stage.Valid() || stage == edustream.StageUpload {
		refuse = edustream.Errorf(edustream.EINVALID, "stage %s has no task", stage)
	}
	return j.record(refuse, func() { j.videoTasks = append(j.videoTasks, VideoTask{videoID, stage}) })
}

// EnqueueVideoRemoval records the removal of a replaced video. EINVALID
// for an id that is not positive.
func (j *Jobs) EnqueueVideoRemoval(_ context.Context, videoID int64) error {
	return j.record(positiveID("video", videoID), func() { j.removals = append(j.removals, videoID) })
}

// CancelVideoWork records that the video's steps were stopped. EINVALID
// for an id that is not positive.
func (j *Jobs) CancelVideoWork(_ context.Context, videoID int64) error {
	return j.record(positiveID("video", videoID), func() { j.cancels = append(j.cancels, videoID) })
}

// TranscodeCancel is one enqueued cancel of an external transcoder's job.
type TranscodeCancel struct {
	VideoID int64
	JobID   string
}

// EnqueueTranscodeCancel records the cancel of a stopped video's
// transcode job. EINVALID for a video id that is not positive or an empty
// job id.
func (j *Jobs) EnqueueTranscodeCancel(_ context.Context, videoID int64, jobID string) error {
	refuse := positiveID("video", videoID)
	if jobID == "" {
		refuse = edustream.Errorf(edustream.EINVALID, "transcode job id must not be empty")
	}
	return j.record(refuse, func() { j.jobCancels = append(j.jobCancels, TranscodeCancel{videoID, jobID}) })
}

// VideoQueueWait answers what SetQueueWait set for the video, and that
// it has no task waiting otherwise.
func (j *Jobs) VideoQueueWait(_ context.Context, videoID int64) (edustream.QueueWait, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return edustream.QueueWait{}, false, j.err
	}
	w, waiting := j.waits[videoID]
	return w, waiting, nil
}

// EnqueueMeetingDelete records the deletion of a Webex meeting. EINVALID
// for an empty id.
func (j *Jobs) EnqueueMeetingDelete(_ context.Context, meetingID string) error {
	return j.record(webexID("meeting", meetingID), func() { j.meetingDeletes = append(j.meetingDeletes, meetingID) })
}

// EnqueueRecordingImport records the import of a Webex recording.
// EINVALID for an empty id.
func (j *Jobs) EnqueueRecordingImport(_ context.Context, recordingID string) error {
	return j.record(webexID("recording", recordingID), func() { j.imports = append(j.imports, recordingID) })
}

// EnqueueRecordingImportOnce records the import of a Webex recording found
// by looking, apart from those of EnqueueRecordingImport. EINVALID for an
// empty id.
func (j *Jobs) EnqueueRecordingImportOnce(_ context.Context, recordingID string) error {
	return j.record(webexID("recording", recordingID), func() { j.importsOnce = append(j.importsOnce, recordingID) })
}

// recorded returns a copy of the list at p, read under j's lock.
func recorded[T any](j *Jobs, p *[]T) []T {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(*p)
}

// Purges returns the courses whose purge was enqueued, in order.
func (j *Jobs) Purges() []int64 {
	return recorded(j, &j.purges)
}

// VideoTasks returns the video steps enqueued, in order.
func (j *Jobs) VideoTasks() []VideoTask {
	return recorded(j, &j.videoTasks)
}

// Removals returns the videos whose removal was enqueued, in order.
func (j *Jobs) Removals() []int64 {
	return recorded(j, &j.removals)
}

// Cancels returns the videos whose work was stopped, in order.
func (j *Jobs) Cancels() []int64 {
	return recorded(j, &j.cancels)
}

// TranscodeCancels returns the transcode jobs whose cancel was enqueued,
// in order.
func (j *Jobs) TranscodeCancels() []TranscodeCancel {
	return recorded(j, &j.jobCancels)
}

// MeetingDeletes returns the meetings whose deletion was enqueued, in
// order.
func (j *Jobs) MeetingDeletes() []string {
	return recorded(j, &j.meetingDeletes)
}

// RecordingImports returns the recordings whose import was enqueued with
// EnqueueRecordingImport, in order.
func (j *Jobs) RecordingImports() []string {
	return recorded(j, &j.imports)
}

// RecordingImportsOnce returns the recordings whose import was enqueued
// with EnqueueRecordingImportOnce, in order.
func (j *Jobs) RecordingImportsOnce() []string {
	return recorded(j, &j.importsOnce)
}
