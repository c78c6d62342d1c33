package edustream_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
)

// handedOff returns a video at transcoding, handed to job "job-1".
func (l *life) handedOff(t *testing.T) *edustream.Video {
	t.Helper()
	v := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode})
	v, err := l.HandOff(context.Background(), v, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	l.events.Take()
	return v
}

// An external transcoder's reports move the video through the lifecycle:
// progress while the job runs, on to publishing when it completes, FAILED
// with the transcoder's reason when it fails or is cancelled.
func TestTranscodeJobReports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	report := func(v *edustream.Video, status edustream.TranscodeJobStatus, progress float64) *edustream.TranscodeJob {
		return &edustream.TranscodeJob{Service: "MediaConvert", ID: "job-1", VideoID: v.ID, Status: status, Progress: progress,
			ErrorCode: "1040", ErrorMessage: "Demuxer: file read failed"}
	}
	t.Run("progress", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		jobs := &edustream.TranscodeJobs{Life: l.VideoLifecycle}
		v := l.handedOff(t)
		if err := jobs.Apply(ctx, report(v, edustream.TranscodeJobProgressing, 40)); err != nil {
			t.Fatal(err)
		}
		got, _ := l.store.FindVideoByID(ctx, v.ID)
		want := edustream.StageTranscode.OverallProgress(0.4)
		ev := l.events.Take()
		if got.Progress != want || len(ev) != 1 || ev[0].Encoding.Progress != want || ev[0].Encoding.Message != "transcoding on MediaConvert: 40 %" {
			t.Errorf("progress %.1f, events %+v; want %.1f stored and announced", got.Progress, ev, want)
		}
	})
	t.Run("complete", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		jobs := &edustream.TranscodeJobs{Life: l.VideoLifecycle}
		v := l.handedOff(t)
		for range 2 { // a repeated COMPLETE changes nothing more
			if err := jobs.Apply(ctx, report(v, edustream.TranscodeJobComplete, 100)); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := l.store.FindVideoByID(ctx, v.ID)
		if got.Stage != edustream.StagePublish || len(got.Renditions) == 0 {
			t.Errorf("video %s with %d renditions, want at PUBLISH with the ladder", edustream.StateOf(got), len(got.Renditions))
		}
		if n := len(l.events.Take()); n != 1 {
			t.Errorf("published %d events, want 1", n)
		}
		publish := edustreamtest.VideoTask{VideoID: v.ID, Stage: edustream.StagePublish}
		if tasks := l.jobs.VideoTasks(); len(tasks) == 0 || slices.ContainsFunc(tasks, func(task edustreamtest.VideoTask) bool { return task != publish }) {
			t.Errorf("queued %v, want the publish step", tasks)
		}
	})
	for status, want := range map[edustream.TranscodeJobStatus]string{
		edustream.TranscodeJobError:    "MediaConvert could not transcode the video: Demuxer: file read failed (error 1040)",
		edustream.TranscodeJobCanceled: "the MediaConvert job was canceled; retry the video to transcode it again",
	} {
		t.Run(string(status), func(t *testing.T) {
			t.Parallel()
			l := newLife(t)
			jobs := &edustream.TranscodeJobs{Life: l.VideoLifecycle}
			v := l.handedOff(t)
			if err := jobs.Apply(ctx, report(v, status, -1)); err != nil {
				t.Fatal(err)
			}
			got, _ := l.store.FindVideoByID(ctx, v.ID)
			if got.Status != edustream.VideoFailed || got.Error != want || got.TranscoderJobID != "" {
				t.Errorf("video %s %q job %q; want FAILED with %q and no job", got.Status, got.Error, got.TranscoderJobID, want)
			}
		})
	}
}

// Reports that are not about the video's current job are ignored; one that
// comes before the video recorded its job is asked for again.
func TestTranscodeJobStaleReports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLife(t)
	jobs := &edustream.TranscodeJobs{Life: l.VideoLifecycle}
	v := l.handedOff(t)
	for name, job := range map[string]*edustream.TranscodeJob{
		"not ours":           {ID: "job-x", Status: edustream.TranscodeJobComplete},
		"an older job":       {ID: "job-0", VideoID: v.ID, Status: edustream.TranscodeJobError},
		"a video long gone":  {ID: "job-1", VideoID: 9999, Status: edustream.TranscodeJobComplete},
		"a progress report":  {ID: "job-0", VideoID: v.ID, Status: edustream.TranscodeJobProgressing, Progress: 50},
		"an unknown service": {ID: "job-2", VideoID: v.ID, Status: edustream.TranscodeJobComplete},
	} {
		if err := jobs.Apply(ctx, job); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got, _ := l.store.FindVideoByID(ctx, v.ID); edustream.StateOf(got) != edustream.StateOf(v) || got.Progress != v.Progress {
		t.Errorf("stale reports moved the video to %s", edustream.StateOf(got))
	}
	if ev := l.events.Take(); len(ev) != 0 {
		t.Errorf("stale reports published %+v", ev)
	}
	other := newLife(t)
	early := other.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode})
	err := (&edustream.TranscodeJobs{Life: other.VideoLifecycle}).Apply(ctx, &edustream.TranscodeJob{ID: "job-9", VideoID: early.ID, Status: edustream.TranscodeJobComplete})
	if err == nil || !strings.Contains(err.Error(), "before video") {
		t.Errorf("a report before the job was recorded = %v, want an error to retry", err)
	}
}
