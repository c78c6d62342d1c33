package edustream

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"
)

// VideoLifecycle owns every move of a video, from the row an upload opens
// to the deletion of a replaced video's outputs. Everything that changes
// a video's state calls it: the upload flow (Uploads), the chain's steps
// (package jobs), the S3 event path and the external transcoder's reports
// (TranscodeJobs). A move is
//
//   - legal only from the states the table (videoMoves) lists for it
//     (ECONFLICT from anywhere else, before anything is written);
//   - one conditional write: the video must still be where the caller
//     found it, or the move is ECONFLICT (another attempt got there first,
//     which callers treat as done);
//   - one announcement, published once: the encoding event of the lecture's
//     subscribers and, unless only progress moved, the content change of
//     the response caches, in one Event;
//   - the enqueue of what comes next, if anything does.
//
// Announcing and enqueueing are best effort and never fail a move that
// was written: a subscriber that misses an event reads the database, and
// the reconcilers enqueue from the database whatever Redis lacks.
//
// New steps, metrics (Observer) and rules of a video's life are added
// here.
type VideoLifecycle struct {
	Videos VideoService
	Jobs   JobQueue
	// Events, if set, hears every move.
	Events EventService
	// Blobs holds the outputs Remove deletes.
	Blobs BlobStore
	Now   Clock
	// Observer, if set, hears every move written (metrics).
	Observer VideoObserver
	// ViewerProgress, if set, carries the viewers' progress over when a new
	// video replaces a lecture's (see Complete).
	ViewerProgress ProgressCarrier
	// RetryWait is the first wait before a move whose write found the
	// database unavailable (EUNAVAILABLE) is tried again; it doubles up to
	// MaxRetryWait (0: DefaultRetryWait). RetryFor bounds the waits of one
	// move (0: DefaultRetryFor; negative: no retry).
	RetryWait, RetryFor time.Duration
}

// Defaults of the retries of a move across a short database outage (a
// failover, a restart, a full connection pool): hours of a transcode are
// not thrown away for a blip of seconds. Longer outages fail the move,
// and the step's task retries it with asynq's backoff.
const (
	DefaultRetryWait = 100 * time.Millisecond
	MaxRetryWait     = 2 * time.Second
	DefaultRetryFor  = 15 * time.Second
)

// VideoMove names a move of a video's life.
type VideoMove string

// The moves, in the order of a video's life.
const (
	// MoveCreate is a new video, waiting for its upload.
	MoveCreate VideoMove = "create"
	// MoveOpenUpload records the storage upload the client's bytes go to.
	MoveOpenUpload VideoMove = "open upload"
	// MoveStore says the bytes are stored: the chain starts.
	MoveStore VideoMove = "store"
	// MoveExpire ends an upload that was never completed.
	MoveExpire VideoMove = "expire"
	// MoveStart is a worker taking up the video's step.
	MoveStart VideoMove = "start"
	// MoveHandOff records the external transcoder's job the transcode step
	// submitted; the job's reports move the video on.
	MoveHandOff VideoMove = "hand off"
	// MoveProgress is progress within a running step.
	MoveProgress VideoMove = "progress"
	// MoveAdvance ends a step with its results and queues the next.
	MoveAdvance VideoMove = "advance"
	// MoveComplete makes the video READY and its lecture's current one.
	MoveComplete VideoMove = "complete"
	// MoveFail ends the video FAILED with the reason.
	MoveFail VideoMove = "fail"
	// MoveCancel ends the video FAILED because someone stopped its work.
	MoveCancel VideoMove = "cancel"
	// MoveRetry runs a FAILED video again from the step that failed.
	MoveRetry VideoMove = "retry"
)

// VideoState is where a video is: its status at a stage.
type VideoState struct {
	Status VideoStatus
	Stage  VideoStage
}

func (s VideoState) String() string { return string(s.Status) + " at " + string(s.Stage) }

// StateOf returns where v is.
func StateOf(v *Video) VideoState { return VideoState{v.Status, v.Stage} }

// VideoTransition is one legal move: from a state to another (or the same,
// for moves that only record something). MoveCreate starts from the zero
// state: there is no video yet.
type VideoTransition struct {
	Move     VideoMove
	From, To VideoState
}

// videoMoves is the table of every legal move, built once from the chain's
// stages.
var videoMoves = buildVideoMoves()

func buildVideoMoves() []VideoTransition {
	awaiting := VideoState{VideoAwaitingUpload, StageUpload}
	t := []VideoTransition{
		{MoveCreate, VideoState{}, awaiting},
		{MoveOpenUpload, awaiting, awaiting},
		{MoveStore, awaiting, VideoState{VideoUploaded, StageProbe}},
		{MoveExpire, awaiting, VideoState{VideoFailed, StageUpload}},
		{MoveFail, awaiting, VideoState{VideoFailed, StageUpload}},
		{MoveCancel, awaiting, VideoState{VideoFailed, StageUpload}},
	}
	for _, stage := range Stages[1:] {
		uploaded, processing, failed := VideoState{VideoUploaded, stage}, VideoState{VideoProcessing, stage}, VideoState{VideoFailed, stage}
		t = append(t,
			VideoTransition{MoveStart, uploaded, processing},
			VideoTransition{MoveProgress, processing, processing},
			VideoTransition{MoveFail, uploaded, failed},
			VideoTransition{MoveFail, processing, failed},
			VideoTransition{MoveCancel, uploaded, failed},
			VideoTransition{MoveCancel, processing, failed},
			VideoTransition{MoveRetry, failed, uploaded},
		)
		if next, ok := stage.Next(); ok {
			t = append(t, VideoTransition{MoveAdvance, processing, VideoState{VideoProcessing, next}})
		}
	}
	return append(t,
		VideoTransition{MoveHandOff, VideoState{VideoProcessing, StageTranscode}, VideoState{VideoProcessing, StageTranscode}},
		VideoTransition{MoveComplete, VideoState{VideoProcessing, StageComplete}, VideoState{VideoReady, StageComplete}},
	)
}

// NextVideoState returns where move leads from, and false if the move is
// not legal there.
func NextVideoState(move VideoMove, from VideoState) (VideoState, bool) {
	for _, t := range videoMoves {
		if t.Move == move && t.From == from {
			return t.To, true
		}
	}
	return VideoState{}, false
}

// PendingStage returns the step whose task v's state calls for: the stage
// of an UPLOADED or PROCESSING video, except a transcode handed to an
// external transcoder (its reports move the video on). False when no task
// is owed.
func (v *Video) PendingStage() (VideoStage, bool) {
	switch {
	case v.ReplacedAt != nil, v.Status != VideoUploaded && v.Status != VideoProcessing, v.Stage == StageUpload:
		return "", false
	case v.Status == VideoProcessing && v.Stage == StageTranscode && v.TranscoderJobID != "":
		return "", false
	}
	return v.Stage, true
}

func (l *VideoLifecycle) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// check refuses move from v's state when the table does not list it, or
// when v is replaced (its cleanup owns it), and returns where it leads.
func (l *VideoLifecycle) check(move VideoMove, v *Video) (VideoState, error) {
	if v.ReplacedAt != nil {
		return VideoState{}, Errorf(ECONFLICT, "video %d was replaced; it cannot %s", v.ID, move)
	}
	to, ok := NextVideoState(move, StateOf(v))
	if !ok {
		return VideoState{}, Errorf(ECONFLICT, "video %d is %s; it cannot %s from there", v.ID, StateOf(v), move)
	}
	return to, nil
}

// transition makes move from v's state with upd, announces where it led
// (with message, if not empty), reports it to the observer (with failure,
// for the moves that end a video FAILED) and, for the moves that lead to a
// step (queueNext), queues it.
func (l *VideoLifecycle) transition(ctx context.Context, move VideoMove, v *Video, upd VideoUpdate, message string, failure FailureClass, queueNext bool) (*Video, error) {
	to, err := l.check(move, v)
	if err != nil {
		return nil, err
	}
	if to.Status != v.Status {
		upd.Status = &to.Status
	}
	if to.Stage != v.Stage {
		upd.Stage = &to.Stage
		if upd.Progress == nil {
			progress := to.Stage.OverallProgress(0)
			upd.Progress = &progress
		}
	}
	var moved *Video
	err = l.retrying(ctx, move, v.ID, func(again bool) error {
		moved, err = l.Videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, upd)
		if again && ErrorCode(err) == ECONFLICT {
			// The write may have been committed and only its answer lost.
			if now, ferr := l.Videos.FindVideoByID(ctx, v.ID); ferr == nil && now.Version == v.Version+1 && StateOf(now) == to {
				moved, err = now, nil
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s video %d: %w", move, v.ID, err)
	}
	e := EncodingEventOf(moved, l.now())
	if message != "" {
		e.Message = message
	}
	l.announce(ctx, e, true)
	l.observe(ctx, move, StateOf(v), moved, failure)
	if queueNext {
		l.Requeue(ctx, moved)
	}
	return moved, nil
}

// Create stores v, a new video of its lecture waiting for its upload, and
// sets its ID, version and times. An older upload of the lecture that was
// never completed is abandoned (replaced); a video of the lecture being
// processed is stopped (StopProcessing). ENOTFOUND for a missing lecture;
// ECONFLICT when a video of the lecture started being processed meanwhile.
func (l *VideoLifecycle) Create(ctx context.Context, v *Video) error {
	// A new upload replaces the lecture's video; one still being processed
	// is stopped first, so that its work does not go on for nothing.
	if err := l.StopLectures(ctx, []int64{v.LectureID}, "a new upload replaced this video"); err != nil {
		return err
	}
	if err := l.Videos.CreateVideo(ctx, v); err != nil {
		return err
	}
	l.announce(ctx, EncodingEventOf(v, l.now()), true)
	l.observe(ctx, MoveCreate, VideoState{}, v, "")
	return nil
}

// OpenUpload records the storage upload that takes v's bytes.
func (l *VideoLifecycle) OpenUpload(ctx context.Context, v *Video, uploadID string) (*Video, error) {
	return l.transition(ctx, MoveOpenUpload, v, VideoUpdate{UploadID: &uploadID}, "", "", false)
}

// Stored moves v, whose source object now exists, to UPLOADED and queues
// the probe.
func (l *VideoLifecycle) Stored(ctx context.Context, v *Video) (*Video, error) {
	return l.transition(ctx, MoveStore, v, VideoUpdate{}, "", "", true)
}

// Expire ends v's upload, never completed, FAILED.
func (l *VideoLifecycle) Expire(ctx context.Context, v *Video) (*Video, error) {
	reason := "the upload expired before it was completed"
	return l.transition(ctx, MoveExpire, v, VideoUpdate{Error: &reason}, "", FailureExpired, false)
}

// Start moves v, waiting for a worker, to PROCESSING at its stage: a
// worker took up the step.
func (l *VideoLifecycle) Start(ctx context.Context, v *Video) (*Video, error) {
	return l.transition(ctx, MoveStart, v, VideoUpdate{}, "", "", false)
}

// HandOff records the external transcoder's job that v's transcode step
// submitted. From then on the job's reports (TranscodeJobs) move v on.
func (l *VideoLifecycle) HandOff(ctx context.Context, v *Video, jobID string) (*Video, error) {
	if v.TranscoderJobID != "" {
		return nil, Errorf(ECONFLICT, "video %d was handed to transcoder job %s already", v.ID, v.TranscoderJobID)
	}
	moved, err := l.transition(ctx, MoveHandOff, v, VideoUpdate{TranscoderJobID: &jobID}, "submitted for transcoding", "", false)
	if ErrorCode(err) == ECONFLICT {
		// The video was stopped (or is gone) while the job was submitted:
		// nobody would ever cancel the job, which runs and bills. Unless
		// another attempt of the step stored this very job (the same token
		// finds the same job), it is cancelled.
		now, ferr := l.Videos.FindVideoByID(NewContextReadingPrimary(ctx), v.ID)
		if ErrorCode(ferr) == ENOTFOUND || (ferr == nil && now.TranscoderJobID != jobID) {
			l.cancelTranscode(ctx, v.ID, jobID)
		}
	}
	return moved, err
}

// StepProgress is how far a running step has got.
type StepProgress struct {
	// Fraction is 0..1 of the step.
	Fraction float64
	// Message says it in words ("transcoding 720p/360p: 40 %").
	Message string
	// ETA is the time the step still needs; 0 when unknown.
	ETA time.Duration
	// Store records the progress in the database too, for subscribers who
	// arrive later and for the reconcilers, which take a video that has not
	// changed for long for stuck. Events are cheap and go out at every
	// report; callers store a coarser copy.
	Store bool
}

// Progress announces how far v's running step has got, and records it
// when p.Store. It never goes back: a report below v's progress announces
// v's. Nothing else of v changes, and the content of shared reads does not
// (no cache holds progress), so only the lecture's subscribers hear it.
func (l *VideoLifecycle) Progress(ctx context.Context, v *Video, p StepProgress) error {
	if _, err := l.check(MoveProgress, v); err != nil {
		return err
	}
	overall := max(v.Progress, v.Stage.OverallProgress(p.Fraction))
	if p.Store {
		if err := l.Videos.SetVideoProgress(ctx, v.ID, v.Stage, overall); err != nil {
			return fmt.Errorf("record the progress of video %d: %w", v.ID, err)
		}
	}
	e := EncodingEventOf(v, l.now())
	e.Progress = overall
	if p.Message != "" {
		e.Message = p.Message
	}
	if p.ETA > 0 {
		eta := int(p.ETA.Round(time.Second).Seconds())
		e.ETASeconds = &eta
	}
	l.announce(ctx, e, false)
	return nil
}

// Advance ends v's running step with what it found or made (results: the
// probe's media, the transcode's renditions) and queues the next step.
func (l *VideoLifecycle) Advance(ctx context.Context, v *Video, results VideoUpdate) (*Video, error) {
	results.Status, results.Stage, results.Progress = nil, nil, nil
	return l.transition(ctx, MoveAdvance, v, results, "", "", true)
}

// Complete makes v READY and its lecture's current video, marks the video
// it replaces (and every older one), and queues their removal. The
// viewers' progress on the replaced video moves to v by the re-upload
// rule (CarryOver): kept where v is the same recording, started over
// otherwise, completions kept either way.
func (l *VideoLifecycle) Complete(ctx context.Context, v *Video) (*Video, error) {
	if _, err := l.check(MoveComplete, v); err != nil {
		return nil, err
	}
	var ready, replaced *Video
	err := l.retrying(ctx, MoveComplete, v.ID, func(again bool) error {
		var err error
		ready, replaced, err = l.Videos.CompleteVideo(ctx, v.ID)
		if again && ErrorCode(err) == ECONFLICT {
			// Committed, its answer lost: the video it replaced is left
			// to the reconciler, which finds replaced videos.
			if now, ferr := l.Videos.FindVideoByID(ctx, v.ID); ferr == nil && now.Status == VideoReady && now.Version > v.Version {
				ready, replaced, err = now, nil, nil
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("complete video %d: %w", v.ID, err)
	}
	l.announce(ctx, EncodingEventOf(ready, l.now()), true)
	l.observe(ctx, MoveComplete, StateOf(v), ready, "")
	if replaced != nil {
		l.carryProgress(ctx, replaced, ready)
		if err := l.Jobs.EnqueueVideoRemoval(ctx, replaced.ID); err != nil {
			// The reconciler finds replaced videos; the swap is done.
			Logger(ctx).Warn("enqueue the removal of the replaced video; the reconciler will retry",
				slog.Int64("replaced_video_id", replaced.ID), slog.String("error", err.Error()))
		}
	}
	return ready, nil
}

// Fail ends v FAILED at its stage because of cause. Its safe message
// (ErrorMessage) is the reason the video shows, in words a person can act
// on, so cause should be an *Error; its code says whose fault it was
// (FailureClass): EINVALID and ENOTFOUND the input's, anything else the
// pipeline's. A video that fails at transcoding forgets its external job,
// so that a retry submits a new one.
func (l *VideoLifecycle) Fail(ctx context.Context, v *Video, cause error) (*Video, error) {
	return l.end(ctx, MoveFail, v, ErrorMessage(cause), failureClassOf(cause))
}

// Cancel ends v FAILED because someone stopped its work (reason says who
// and how), with the same rules as Fail. The step's task is the caller's
// to stop (StopProcessing stops it too); the external transcoder's job of
// a video handed to one is cancelled here (EnqueueTranscodeCancel), and
// its outputs deleted once it has ended.
func (l *VideoLifecycle) Cancel(ctx context.Context, v *Video, reason string) (*Video, error) {
	return l.end(ctx, MoveCancel, v, reason, FailureCancelled)
}

// StopProcessing cancels v's processing (Cancel, with reason) and stops
// its step on whichever worker runs it: its ffmpeg is killed within
// seconds and the step deletes what it had made. A video that is not
// processing (waiting for its upload, READY, FAILED) is returned as it is;
// so is one that moved on meanwhile and then stopped: it is safe to
// repeat. ECONFLICT for a replaced video (Remove owns it).
func (l *VideoLifecycle) StopProcessing(ctx context.Context, v *Video, reason string) (*Video, error) {
	for range 3 {
		if v.ReplacedAt != nil {
			return nil, Errorf(ECONFLICT, "video %d was replaced; its removal stops its work", v.ID)
		}
		if _, ok := NextVideoState(MoveCancel, StateOf(v)); !ok || v.Status == VideoAwaitingUpload {
			return v, nil // nothing runs (an upload is Remove's to abort)
		}
		moved, err := l.Cancel(ctx, v, reason)
		if err == nil {
			l.stopWork(ctx, moved)
			return moved, nil
		}
		if ErrorCode(err) != ECONFLICT {
			return nil, err
		}
		// A step moved it meanwhile: cancel it where it is now.
		if v, err = l.Videos.FindVideoByID(ctx, v.ID); err != nil {
			return nil, err
		}
	}
	return nil, Errorf(ECONFLICT, "video %d keeps moving; try again", v.ID)
}

// CancelledBy is the reason a video whose processing u cancelled shows.
func CancelledBy(u *User) string {
	return actorName(u) + " cancelled the processing; retry the video to run it again"
}

// StopLectures stops the processing of the lectures' videos because the
// lectures, or their course, are deleted (reason says which). A video the
// deletion already replaced has its running step stopped and its removal
// queued (Remove deletes its outputs and row); one that is still the
// lecture's is stopped (StopProcessing) and ends FAILED with reason, and
// the deletion replaces it next. Stopping is best effort: a step that is
// not reached finds its video stopped or gone when it next moves it, and
// the reconciler queues the removals that are lost.
func (l *VideoLifecycle) StopLectures(ctx context.Context, lectureIDs []int64, reason string) error {
	latest, err := l.Videos.FindLatestVideosByLectureIDs(NewContextReadingPrimary(ctx), lectureIDs)
	if err != nil {
		return fmt.Errorf("find the videos of lectures %v: %w", lectureIDs, err)
	}
	for _, id := range lectureIDs {
		v := latest[id]
		switch {
		case v == nil:
		case v.ReplacedAt != nil:
			if v.Status == VideoUploaded || v.Status == VideoProcessing {
				l.stopWork(ctx, v)
			}
			if err := l.Jobs.EnqueueVideoRemoval(ctx, v.ID); err != nil {
				Logger(ctx).Warn("enqueue the removal of a deleted lecture's video; the reconciler will retry",
					slog.Int64("video_id", v.ID), slog.String("error", err.Error()))
			}
		default:
			if _, err := l.StopProcessing(ctx, v, reason); err != nil && ErrorCode(err) != ECONFLICT {
				return err
			}
		}
	}
	return nil
}

// stopWork stops v's steps on the workers (JobQueue.CancelVideoWork), and
// the external transcoder's job of a replaced video handed to one (a video
// that is not replaced has its job cancelled by the cancel move). Best
// effort: a step that is not stopped finds the video stopped when it
// tries to move it, and ends.
func (l *VideoLifecycle) stopWork(ctx context.Context, v *Video) {
	if err := l.Jobs.CancelVideoWork(ctx, v.ID); err != nil {
		Logger(ctx).Warn("stop a video's steps; a running one ends when it next moves the video",
			slog.Int64("video_id", v.ID), slog.String("error", err.Error()))
	}
	if v.TranscoderJobID != "" {
		l.cancelTranscode(ctx, v.ID, v.TranscoderJobID)
	}
}

// cancelTranscode queues the cancel of jobID, the external transcoder's
// job of a stopped video (JobQueue.EnqueueTranscodeCancel): the task
// retries while the transcoder is down, so the stop never waits for it.
// Best effort: if even the enqueue fails, the job runs to its end, its
// reports are ignored (the video no longer names it), and its outputs go
// with the video's.
func (l *VideoLifecycle) cancelTranscode(ctx context.Context, videoID int64, jobID string) {
	if err := l.Jobs.EnqueueTranscodeCancel(ctx, videoID, jobID); err != nil {
		Logger(ctx).Warn("enqueue the cancel of a stopped video's transcode job; it runs to its end",
			slog.Int64("video_id", videoID), slog.String("transcode_job", jobID), slog.String("error", err.Error()))
	}
}

// DropStoppedTranscode deletes what an external transcoder's job wrote
// for a video whose transcode was stopped (its work and capture
// prefixes), once the job has ended. Only while the video is still
// stopped: gone, replaced, or FAILED at transcoding; a video retried
// meanwhile has a new job writing there, and is left alone (false).
func (l *VideoLifecycle) DropStoppedTranscode(ctx context.Context, videoID int64) (bool, error) {
	v, err := l.Videos.FindVideoByID(NewContextReadingPrimary(ctx), videoID)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		v = &Video{ID: videoID}
	case err != nil:
		return false, fmt.Errorf("find video %d: %w", videoID, err)
	case v.ReplacedAt == nil && (v.Status != VideoFailed || v.Stage != StageTranscode):
		return false, nil
	}
	for _, prefix := range []string{v.WorkPrefix(), v.CapturePrefix()} {
		if err := DeleteBlobPrefix(ctx, l.Blobs, prefix); err != nil {
			return false, err
		}
	}
	return true, nil
}

// retrying runs write, a move's write, again while it fails with
// EUNAVAILABLE, waiting RetryWait, doubling up to MaxRetryWait, for
// RetryFor at most; write is told whether it runs again (a write whose
// answer was lost may have been committed). Every other error, and the
// last EUNAVAILABLE, is returned.
func (l *VideoLifecycle) retrying(ctx context.Context, move VideoMove, videoID int64, write func(again bool) error) error {
	wait, budget := cmp.Or(l.RetryWait, DefaultRetryWait), cmp.Or(l.RetryFor, DefaultRetryFor)
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		err := write(attempt > 1)
		if ErrorCode(err) != EUNAVAILABLE || waited+wait > budget {
			return err
		}
		Logger(ctx).Warn("the database is unavailable; the move is tried again",
			slog.Int64("video_id", videoID), slog.String("move", string(move)), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		waited += wait
		wait = min(2*wait, MaxRetryWait)
	}
}

func (l *VideoLifecycle) end(ctx context.Context, move VideoMove, v *Video, reason string, failure FailureClass) (*Video, error) {
	upd := VideoUpdate{Error: &reason}
	handedOff := v.Stage == StageTranscode && v.TranscoderJobID != ""
	if handedOff {
		noJob := ""
		upd.TranscoderJobID = &noJob
	}
	moved, err := l.transition(ctx, move, v, upd, "", failure, false)
	if err != nil {
		return nil, err
	}
	Logger(ctx).Info("video failed", slog.Int64("video_id", v.ID), slog.String("stage", string(v.Stage)),
		slog.String("move", string(move)), slog.String("class", string(failure)), slog.String("reason", reason))
	if handedOff && move == MoveCancel {
		// The job would run (and bill) on for a video nobody wants; a job
		// that reported its own cancel makes one call for nothing, and its
		// outputs are deleted all the same.
		l.cancelTranscode(ctx, v.ID, v.TranscoderJobID)
	}
	return moved, nil
}

// Retry runs v, FAILED after its upload, again from the step it failed at.
func (l *VideoLifecycle) Retry(ctx context.Context, v *Video) (*Video, error) {
	cleared := ""
	return l.transition(ctx, MoveRetry, v, VideoUpdate{Error: &cleared}, "", "", true)
}

// Remove deletes the outputs of v, a replaced video (a newer one of its
// lecture became READY, or its lecture is gone), and then its row.
// ECONFLICT for a video that is not replaced.
func (l *VideoLifecycle) Remove(ctx context.Context, v *Video) error {
	if v.ReplacedAt == nil {
		return Errorf(ECONFLICT, "video %d is not replaced and keeps its outputs", v.ID)
	}
	if v.Status == VideoUploaded || v.Status == VideoProcessing {
		// Its step may still run somewhere, and would write again.
		l.stopWork(ctx, v)
	}
	if v.UploadID != "" && v.Status == VideoAwaitingUpload {
		// An abandoned upload: its parts are not objects yet.
		if err := l.Blobs.AbortMultipartUpload(ctx, v.SourceKey(), v.UploadID); err != nil {
			return fmt.Errorf("abort the upload of video %d: %w", v.ID, err)
		}
	}
	if err := DeleteBlobPrefix(ctx, l.Blobs, VideoPrefix(v.ID)); err != nil {
		return err
	}
	if err := l.Videos.DeleteVideo(ctx, v.ID); err != nil {
		return err
	}
	l.publish(ctx, Event{Topic: ContentTopic, Content: &ContentChange{LectureID: v.LectureID, VideoID: v.ID}})
	return nil
}

// Requeue queues the step v's state calls for (see PendingStage), if any:
// what a move does after writing, and what a step that finds the video
// elsewhere than it expected does to heal a lost enqueue. Best effort: a
// failure is logged, and the reconciler enqueues what Redis lacks.
func (l *VideoLifecycle) Requeue(ctx context.Context, v *Video) {
	stage, ok := v.PendingStage()
	if !ok {
		return
	}
	if err := l.Jobs.EnqueueVideoStage(ctx, v, stage); err != nil {
		Logger(ctx).Warn("enqueue a video step; the reconciler will retry",
			slog.Int64("video_id", v.ID), slog.String("stage", string(stage)), slog.String("error", err.Error()))
	}
}

// announce publishes e, with the content change of its video when content
// (every move but progress).
func (l *VideoLifecycle) announce(ctx context.Context, e *EncodingEvent, content bool) {
	ev := Event{Topic: EncodingTopic(e.LectureID), Encoding: e}
	if content {
		ev.Content = &ContentChange{LectureID: e.LectureID, VideoID: e.VideoID}
	}
	l.publish(ctx, ev)
}

func (l *VideoLifecycle) publish(ctx context.Context, e Event) {
	if l.Events == nil {
		return
	}
	if err := l.Events.PublishEvent(ctx, e); err != nil {
		Logger(ctx).Warn("publish a video's move; subscribers catch up from the database, caches when their entries expire",
			slog.String("topic", e.Topic), slog.String("error", err.Error()))
	}
}

// DeleteBlobPrefix deletes every blob under prefix.
func DeleteBlobPrefix(ctx context.Context, blobs BlobStore, prefix string) error {
	list, err := blobs.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	if len(list) == 0 {
		return nil
	}
	keys := make([]string, len(list))
	for i, b := range list {
		keys[i] = b.Key
	}
	if err := blobs.Delete(ctx, keys...); err != nil {
		return fmt.Errorf("delete %s: %w", prefix, err)
	}
	return nil
}
