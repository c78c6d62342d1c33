package jobs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edustream/edustream"
)

// Metrics measures the workers for Prometheus: every task attempt by type
// and outcome (measureTasks), and every run of a chain step, with the
// transcode's speed and the bytes publish writes (the step runner,
// runStage). Set it in Deps; nil measures nothing. The moves of the videos
// themselves are the lifecycle's to report (edustream.VideoObserver).
type Metrics struct {
	tasks     *prometheus.HistogramVec
	steps     *prometheus.HistogramVec
	running   *prometheus.GaugeVec
	speed     prometheus.Histogram
	media     prometheus.Counter
	published prometheus.Counter

	// taskTypes bounds the type label: a task of a type no handler knows
	// may sit in Redis, named by whoever enqueued it.
	mu        sync.Mutex
	taskTypes map[string]bool
}

// maxTaskTypes is more than the task types there are.
const maxTaskTypes = 64

// Outcomes of a task attempt and of a step run.
const (
	outcomeOK = "ok"
	// outcomeRetry: the attempt failed and asynq will try again.
	outcomeRetry = "retry"
	// outcomeFailed: the attempt failed and nobody will try again (the
	// task is archived, or a step ended its video FAILED).
	outcomeFailed = "failed"
	// outcomeHandedOff: the transcode step submitted a job to an external
	// transcoder, whose reports move the video on.
	outcomeHandedOff = "handed_off"
	// outcomeDeferred: the task was put back in its queue for its
	// uploader's turn (errUploaderBusy); nothing failed.
	outcomeDeferred = "deferred"
)

// NewMetrics returns the workers' measures, registered on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tasks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edustream_task_duration_seconds",
			Help: "Time a task attempt took in its handler, by task type and outcome (ok, retry, failed: not retried again).",
			// Up to a transcode's timeout (10 h).
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 10 * 3600},
		}, []string{"type", "outcome"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edustream_video_step_duration_seconds",
			Help:    "Time a run of a transcoding chain step took on a worker, by stage and outcome (ok, handed_off, retry, failed).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 2 * 3600, 4 * 3600, 10 * 3600},
		}, []string{"stage", "outcome"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edustream_video_steps_running",
			Help: "Chain steps running on this worker now, by stage.",
		}, []string{"stage"}),
		speed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "edustream_video_transcode_speed_ratio",
			Help:    "Seconds of video ffmpeg transcoded (the whole ladder) per second of wall time, one observation per transcode.",
			Buckets: []float64{.1, .25, .5, .75, 1, 1.5, 2, 3, 5, 8, 13, 20},
		}),
		media: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edustream_video_transcoded_media_seconds_total",
			Help: "Seconds of video transcoded by this worker's ffmpeg.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edustream_video_published_bytes_total",
			Help: "Bytes of HLS streams the publish step copied to their published place.",
		}),
		taskTypes: map[string]bool{},
	}
	// The series of failures exist from the start, so that alerts on them
	// (increase() > 0) see the first one.
	for _, t := range []string{TypeCoursePurge, TypeVideoProbe, TypeVideoTranscode, TypeVideoPublish, TypeVideoThumbnails,
		TypeVideoCaptions, TypeVideoMetadata, TypeVideoComplete, TypeVideoCleanup, TypeUploadExpire,
		TypeTranscodeCancel, TypeLiveMeetingDelete, TypeLiveRecordingImport, TypeLiveMeetingSync} {
		m.taskTypes[t] = true
		m.tasks.WithLabelValues(t, outcomeFailed)
	}
	for _, stage := range edustream.Stages[1:] {
		m.running.WithLabelValues(string(stage))
	}
	reg.MustRegister(m.tasks, m.steps, m.running, m.speed, m.media, m.published)
	return m
}

// taskType returns the label of a task type: itself, or "other" past
// maxTaskTypes distinct ones.
func (m *Metrics) taskType(t string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taskTypes[t] {
		return t
	}
	if len(m.taskTypes) >= maxTaskTypes {
		return "other"
	}
	m.taskTypes[t] = true
	return t
}

// measureTasks times every task attempt, with the outcome asynq will act
// on. It runs inside logTasks, so it sees the error after panics are
// recovered and codes mapped, as the log line does.
func measureTasks(m *Metrics) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		if m == nil {
			return next
		}
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			outcome := outcomeOK
			switch {
			case err == nil:
			case errors.Is(err, errUploaderBusy):
				outcome = outcomeDeferred
			case willRetry(ctx, err):
				outcome = outcomeRetry
			default:
				outcome = outcomeFailed
			}
			m.tasks.WithLabelValues(m.taskType(t.Type()), outcome).Observe(time.Since(start).Seconds())
			return err
		})
	}
}

// willRetry mirrors asynq's own decision in processor.handleFailedMessage:
// whether a task that failed with err will run again.
func willRetry(ctx context.Context, err error) bool {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	return !errors.Is(err, asynq.SkipRetry) && !errors.Is(err, asynq.RevokeTask) && retried < maxRetry
}

// stepTimer is one run of a step, from its start to end.
type stepTimer struct {
	m     *Metrics
	stage string
	start time.Time
}

// startStep counts a run of stage as running until end.
func (m *Metrics) startStep(stage edustream.VideoStage) stepTimer {
	if m == nil {
		return stepTimer{}
	}
	m.running.WithLabelValues(string(stage)).Inc()
	return stepTimer{m: m, stage: string(stage), start: time.Now()}
}

// end records the run with its outcome and what it did (run: nil for the
// complete step, which has no stepRun).
func (s stepTimer) end(outcome string, run *stepRun) {
	if s.m == nil {
		return
	}
	s.m.running.WithLabelValues(s.stage).Dec()
	s.m.steps.WithLabelValues(s.stage, outcome).Observe(time.Since(s.start).Seconds())
	if run == nil || outcome != outcomeOK {
		return
	}
	if run.transcoded > 0 && run.transcodeTime > 0 {
		s.m.media.Add(run.transcoded)
		s.m.speed.Observe(run.transcoded / run.transcodeTime.Seconds())
	}
	if run.published > 0 {
		s.m.published.Add(float64(run.published))
	}
}

// stepOutcome is the outcome of a step whose error chain.fail returned:
// failed when it ended the video (or found it moved on), retry otherwise.
func stepOutcome(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, asynq.SkipRetry):
		return outcomeFailed
	}
	return outcomeRetry
}
