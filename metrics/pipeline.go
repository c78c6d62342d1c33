package metrics

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edustream/edustream"
)

// Pipeline counts the moves of videos: it is the lifecycle's
// edustream.VideoObserver. What the chain's steps do (their durations, the
// transcode's speed, the bytes they publish) is measured by the step
// runner in package jobs.
type Pipeline struct {
	moves    *prometheus.CounterVec
	failures *prometheus.CounterVec
	uploaded prometheus.Counter
}

var _ edustream.VideoObserver = (*Pipeline)(nil)

// NewPipeline returns the lifecycle's observer, registered on reg.
func NewPipeline(reg prometheus.Registerer) *Pipeline {
	p := &Pipeline{
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edustream_video_moves_total",
			Help: "Moves of videos written by the lifecycle, by move and the status the video was left in.",
		}, []string{"move", "status"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edustream_video_failures_total",
			Help: "Videos that ended FAILED, by the stage they failed at and whose fault it was (input, processing, expired, cancelled).",
		}, []string{"stage", "class"}),
		uploaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edustream_video_uploaded_bytes_total",
			Help: "Bytes of the uploads stored (their declared size), each counted once when its chain starts.",
		}),
	}
	// Every failure series exists from the start, so that increase() sees
	// the first failure of a kind rather than a series appearing at 1.
	for _, stage := range edustream.Stages {
		for _, class := range edustream.FailureClasses {
			p.failures.WithLabelValues(string(stage), string(class))
		}
	}
	reg.MustRegister(p.moves, p.failures, p.uploaded)
	return p
}

// VideoMoved counts m.
func (p *Pipeline) VideoMoved(_ context.Context, m edustream.VideoMoveReport) {
	p.moves.WithLabelValues(moveLabel(m.Move), string(m.To.Status)).Inc()
	if m.Failure != "" {
		p.failures.WithLabelValues(string(m.To.Stage), string(m.Failure)).Inc()
	}
	if m.Move == edustream.MoveStore && m.Video != nil {
		p.uploaded.Add(float64(max(m.Video.SizeBytes, 0)))
	}
}

// moveLabel spells a move as a label value: "open upload" → "open_upload".
func moveLabel(m edustream.VideoMove) string { return strings.ReplaceAll(string(m), " ", "_") }
