package jobs_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
)

// series returns the series of the family name whose labels include
// labels, by their full label set.
func series(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) []*dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// count is the sum over the matching series of a counter's or gauge's
// value, or of a histogram's count.
func count(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	var sum float64
	for _, m := range series(t, reg, name, labels) {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// A video's way to READY is measured: each step once with its duration,
// each task once, the transcode's speed and media seconds, the bytes
// published; and nothing is left running. A bad upload's probe is measured
// as failed, not retried.
func TestChainIsMeasured(t *testing.T) {
	c := setupChain(t)
	reg := prometheus.NewRegistry()
	c.startWorker(t, workerOptions{metrics: jobs.NewMetrics(reg)})
	const seconds = 2
	v := c.waitDone(t, c.upload(t, testenv.MakeClip(t, testenv.Clip{Width: 640, Height: 360, Seconds: seconds})).ID)
	if v.Status != edustream.VideoReady {
		t.Fatalf("video = %s at %s (%s), want READY", v.Status, v.Stage, v.Error)
	}
	// The last step's and task's measures are taken after the video is
	// READY.
	testenv.Eventually(t, "the complete task to be measured", func() bool {
		return count(t, reg, "edustream_task_duration_seconds", map[string]string{"type": jobs.TypeVideoComplete}) == 1
	})
	for _, stage := range edustream.Stages[1:] {
		if got := count(t, reg, "edustream_video_step_duration_seconds", map[string]string{"stage": string(stage), "outcome": "ok"}); got != 1 {
			t.Errorf("%s ran %v times ok, want 1", stage, got)
		}
		if got := count(t, reg, "edustream_video_steps_running", map[string]string{"stage": string(stage)}); got != 0 {
			t.Errorf("%s steps still running: %v", stage, got)
		}
	}
	for _, typ := range []string{jobs.TypeVideoProbe, jobs.TypeVideoTranscode, jobs.TypeVideoPublish, jobs.TypeVideoThumbnails, jobs.TypeVideoCaptions, jobs.TypeVideoMetadata} {
		if got := count(t, reg, "edustream_task_duration_seconds", map[string]string{"type": typ, "outcome": "ok"}); got != 1 {
			t.Errorf("task %s measured %v times ok, want 1", typ, got)
		}
	}
	speed := series(t, reg, "edustream_video_transcode_speed_ratio", nil)
	if len(speed) != 1 || speed[0].GetHistogram().GetSampleCount() != 1 || speed[0].GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("transcode speed = %v, want one positive observation", speed)
	}
	if got := count(t, reg, "edustream_video_transcoded_media_seconds_total", nil); got < seconds-0.5 || got > seconds+0.5 {
		t.Errorf("transcoded %v media seconds, want about %d", got, seconds)
	}
	var published int64
	for _, b := range c.keys(t, v.HLSPrefix()) {
		info, err := c.blobs.Head(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		published += info.Size
	}
	if got := count(t, reg, "edustream_video_published_bytes_total", nil); got != float64(published) {
		t.Errorf("published bytes = %v, want the stream's %d", got, published)
	}

	bad, parts := c.open(t, []byte("this is not a video\n"), "notes.mp4")
	if _, err := c.uploads.Complete(context.Background(), bad, parts); err != nil {
		t.Fatal(err)
	}
	if got := c.waitDone(t, bad.ID); got.Status != edustream.VideoFailed {
		t.Fatalf("a text file ended %s", got.Status)
	}
	testenv.Eventually(t, "the failed probe to be measured", func() bool {
		return count(t, reg, "edustream_task_duration_seconds", map[string]string{"type": jobs.TypeVideoProbe, "outcome": "failed"}) == 1
	})
	if got := count(t, reg, "edustream_video_step_duration_seconds", map[string]string{"stage": "PROBE", "outcome": "failed"}); got != 1 {
		t.Errorf("failed probes = %v, want 1", got)
	}
	if got := count(t, reg, "edustream_video_step_duration_seconds", map[string]string{"outcome": "retry"}); got != 0 {
		t.Errorf("%v steps were retried", got)
	}
}
