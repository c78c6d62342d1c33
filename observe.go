package edustream

import (
	"context"
	"errors"
)

// VideoObserver hears every move VideoLifecycle writes, for what counts
// them (metrics). It is called after the write, on the mover's goroutine:
// it must be quick and cannot refuse or fail a move. Progress within a
// step is not a move it hears.
type VideoObserver interface {
	VideoMoved(ctx context.Context, m VideoMoveReport)
}

// VideoMoveReport is one written move.
type VideoMoveReport struct {
	Move     VideoMove
	From, To VideoState
	// Video is the video as the move left it.
	Video *Video
	// Failure says why, for the moves that end a video FAILED (fail,
	// cancel, expire); empty for the others.
	Failure FailureClass
}

// FailureClass sorts the reasons a video fails into a few words: who has
// to act. Metrics count failures by it, and alerts tell a bad upload from
// a broken pipeline by it.
type FailureClass string

// The failure classes.
const (
	// FailureInput is the upload's fault: not a video, too long, a part
	// list that does not match, a file missing from storage. The uploader
	// acts.
	FailureInput FailureClass = "input"
	// FailureProcessing is the pipeline's: a step failed every retry, the
	// external transcoder reported an error, a worker has no ffmpeg. An
	// operator acts.
	FailureProcessing FailureClass = "processing"
	// FailureExpired is an upload never completed in time.
	FailureExpired FailureClass = "expired"
	// FailureCancelled is work someone stopped.
	FailureCancelled FailureClass = "cancelled"
)

// FailureClasses lists every class, so that what counts them can start
// every count at zero.
var FailureClasses = []FailureClass{FailureInput, FailureProcessing, FailureExpired, FailureCancelled}

// failureClassOf says whose fault cause is: the input's for the codes that
// say the task itself is wrong (EINVALID, ENOTFOUND), the pipeline's for
// the rest. ErrNoMediaTools is EINVALID so that the chain does not retry
// it, but a worker without ffmpeg is an operator's to fix.
func failureClassOf(cause error) FailureClass {
	switch {
	case errors.Is(cause, ErrNoMediaTools):
		return FailureProcessing
	case ErrorCode(cause) == EINVALID, ErrorCode(cause) == ENOTFOUND:
		return FailureInput
	}
	return FailureProcessing
}

// observe reports a written move to the observer, if there is one.
func (l *VideoLifecycle) observe(ctx context.Context, move VideoMove, from VideoState, moved *Video, failure FailureClass) {
	if l.Observer == nil {
		return
	}
	l.Observer.VideoMoved(ctx, VideoMoveReport{Move: move, From: from, To: StateOf(moved), Video: moved, Failure: failure})
}
