package edustreamtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
)

// Every enqueue is recorded in order, duplicates included.
func TestJobsRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var jobs edustreamtest.Jobs
	for _, err := range []error{
		jobs.EnqueueCoursePurge(ctx, 3),
		jobs.EnqueueCoursePurge(ctx, 3),
		jobs.EnqueueVideoStage(ctx, &edustream.Video{ID: 12}, edustream.StageProbe),
		jobs.EnqueueVideoStage(ctx, &edustream.Video{ID: 12}, edustream.StageTranscode),
		jobs.EnqueueMeetingDelete(ctx, "series-1"),
		jobs.EnqueueRecordingImport(ctx, "rec-1"),
		jobs.EnqueueRecordingImportOnce(ctx, "rec-2"),
		jobs.CancelVideoWork(ctx, 12),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]int64{3, 3}, jobs.Purges()); diff != "" {
		t.Errorf("purges (-want +got):\n%s", diff)
	}
	var stages []string
	for _, task := range jobs.VideoTasks() {
		stages = append(stages, task.String())
	}
	if diff := cmp.Diff([]string{"PROBE:12", "TRANSCODE:12"}, stages); diff != "" {
		t.Errorf("video tasks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{12}, jobs.Cancels()); diff != "" {
		t.Errorf("cancels (-want +got):\n%s", diff)
	}
	for name, tt := range map[string]struct{ got, want []string }{
		"meeting deletes":    {jobs.MeetingDeletes(), []string{"series-1"}},
		"imports":            {jobs.RecordingImports(), []string{"rec-1"}},
		"imports found once": {jobs.RecordingImportsOnce(), []string{"rec-2"}},
	} {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// What could never be a task is refused with EINVALID, and not recorded.
func TestJobsRefuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var jobs edustreamtest.Jobs
	tests := map[string]error{
		"upload stage":         jobs.EnqueueVideoStage(ctx, &edustream.Video{ID: 1}, edustream.StageUpload),
		"unknown stage":        jobs.EnqueueVideoStage(ctx, &edustream.Video{ID: 1}, "DUBBING"),
		"video id 0":           jobs.EnqueueVideoStage(ctx, &edustream.Video{ID: 0}, edustream.StageProbe),
		"cancel video id 0":    jobs.CancelVideoWork(ctx, 0),
		"course id -1":         jobs.EnqueueCoursePurge(ctx, -1),
		"no meeting id":        jobs.EnqueueMeetingDelete(ctx, ""),
		"no recording id":      jobs.EnqueueRecordingImport(ctx, ""),
		"no recording id once": jobs.EnqueueRecordingImportOnce(ctx, ""),
	}
	for name, err := range tests {
		if code := edustream.ErrorCode(err); code != edustream.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if len(jobs.Purges())+len(jobs.VideoTasks())+len(jobs.MeetingDeletes())+len(jobs.RecordingImports())+len(jobs.RecordingImportsOnce()) != 0 {
		t.Error("a refused enqueue was recorded")
	}
}

// With an error set, every call fails with it and nothing is recorded,
// until it is cleared.
func TestJobsSetError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	down := errors.New("redis: connection refused")
	var jobs edustreamtest.Jobs
	jobs.SetQueueWait(1, edustream.QueueWait{Position: 2})
	jobs.SetError(down)
	_, _, waitErr := jobs.VideoQueueWait(ctx, 1)
	for name, err := range map[string]error{
		"EnqueueCoursePurge":         jobs.EnqueueCoursePurge(ctx, 1),
		"EnqueueVideoStage":          jobs.EnqueueVideoStage(ctx, &edustream.Video{ID: 1}, edustream.StageProbe),
		"EnqueueMeetingDelete":       jobs.EnqueueMeetingDelete(ctx, "m"),
		"EnqueueRecordingImport":     jobs.EnqueueRecordingImport(ctx, "r"),
		"EnqueueRecordingImportOnce": jobs.EnqueueRecordingImportOnce(ctx, "r"),
		"VideoQueueWait":             waitErr,
	} {
		if !errors.Is(err, down) {
			t.Errorf("%s = %v, want %v", name, err, down)
		}
	}
	if len(jobs.Purges())+len(jobs.VideoTasks())+len(jobs.MeetingDeletes())+len(jobs.RecordingImports())+len(jobs.RecordingImportsOnce()) != 0 {
		t.Error("a failed enqueue was recorded")
	}
	jobs.SetError(nil)
	if err := jobs.EnqueueCoursePurge(ctx, 1); err != nil || len(jobs.Purges()) != 1 {
		t.Errorf("after clearing the error: %v, purges %v", err, jobs.Purges())
	}
}

// VideoQueueWait answers what the test set.
func TestJobsVideoQueueWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var jobs edustreamtest.Jobs
	check := func(step string, want edustream.QueueWait, wantWaiting bool) {
		t.Helper()
		w, waiting, err := jobs.VideoQueueWait(ctx, 5)
		if err != nil || w != want || waiting != wantWaiting {
			t.Errorf("%s: VideoQueueWait = %+v, %v, %v; want %+v, %v", step, w, waiting, err, want, wantWaiting)
		}
	}
	check("nothing set", edustream.QueueWait{}, false)
	jobs.SetQueueWait(5, edustream.QueueWait{})
	check("next", edustream.QueueWait{}, true)
	seven := edustream.QueueWait{Position: 7, ETA: time.Minute, ETAKnown: true}
	jobs.SetQueueWait(5, seven)
	check("seven ahead", seven, true)
	jobs.ClearQueueWait(5)
	check("cleared", edustream.QueueWait{}, false)
}
