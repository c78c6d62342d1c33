package edustream

import (
	"context"
	"fmt"
	"log/slog"
	"math"
)

// An external transcoder (AWS Elemental MediaConvert) works on its own: the
// transcode step submits a job and returns, and the transcoder reports the
// job's state later, through events (EventBridge → SNS → /sns) and to the
// reconciler's questions (GetJob). TranscodeJobs turns either report into a
// move of the video, so both paths agree and either alone is enough.

// TranscodeJobStatus is where an external transcoder's job is.
type TranscodeJobStatus string

// Job statuses, MediaConvert's words. Progress reports of a running job
// (STATUS_UPDATE, INPUT_INFORMATION, ...) are TranscodeJobProgressing.
const (
	TranscodeJobSubmitted   TranscodeJobStatus = "SUBMITTED"
	TranscodeJobProgressing TranscodeJobStatus = "PROGRESSING"
	TranscodeJobComplete    TranscodeJobStatus = "COMPLETE"
	TranscodeJobError       TranscodeJobStatus = "ERROR"
	TranscodeJobCanceled    TranscodeJobStatus = "CANCELED"
)

// Done reports whether the job will not change any more.
func (s TranscodeJobStatus) Done() bool {
	return s == TranscodeJobComplete || s == TranscodeJobError || s == TranscodeJobCanceled
}

// TranscodeJob is what an external transcoder says about one of its jobs.
type TranscodeJob struct {
	// Service names the transcoder in messages people read ("MediaConvert").
	Service string
	ID      string
	// VideoID is the video the job was submitted for, from the metadata
	// the job carries; 0 for a job EduStream did not submit.
	VideoID int64
	Status  TranscodeJobStatus
	// Progress is the job's percent complete, 0..100, or negative while
	// the transcoder has not said.
	Progress float64
	// ErrorCode and ErrorMessage are the transcoder's reason for an ERROR.
	ErrorCode    string
	ErrorMessage string
}

// TranscodeService is an external transcoder.
type TranscodeService interface {
	// SubmitTranscode starts a job that makes ladder from v's source: the
	// HLS stream under v.WorkPrefix() (MasterPlaylistName and the
	// renditions' playlists and segments), and frame captures under
	// v.CapturePrefix() (see PosterCaptureName). token names the attempt:
	// a second submission with the same token within the transcoder's
	// window returns the first job. EINVALID when the transcoder refuses
	// the job for what it is; other errors may be retried.
	SubmitTranscode(ctx context.Context, v *Video, ladder []Rendition, token string) (jobID string, err error)
	// FindTranscodeJob returns a job's state. ENOTFOUND.
	FindTranscodeJob(ctx context.Context, jobID string) (*TranscodeJob, error)
	// CancelTranscode cancels a job that has not ended, so that it stops
	// running (and billing); the transcoder then reports it CANCELED.
	// ENOTFOUND for a job the transcoder does not know, ECONFLICT for one
	// that has ended; other errors may be retried.
	CancelTranscode(ctx context.Context, jobID string) error
}

// CapturePrefix is where an external transcoder leaves the frame captures
// the thumbnails step makes the poster and storyboard from.
func (v *Video) CapturePrefix() string { return VideoPrefix(v.ID) + "captures/" }

// The frame captures under CapturePrefix, named <name>.<7-digit number>.jpg
// as MediaConvert numbers them: the last PosterCaptureName capture is the
// poster; the StoryboardCaptureName captures are the storyboard's tiles in
// time order, one every StoryboardFor(...).Interval seconds.
const (
	PosterCaptureName     = "poster"
	StoryboardCaptureName = "storyboard"
)

// TranscodeToken is the ClientRequestToken of v's transcode: the same for
// every attempt of one run of the step, and new after a retry of the video
// (which moves its version), so a lost answer is asked again without a
// second job and a retried video gets a fresh one.
func TranscodeToken(v *Video) string {
	return fmt.Sprintf("edustream-video-%d-v%d", v.ID, v.Version)
}

// TranscodeJobs applies external transcoders' reports to videos. It is
// shared by the SNS endpoint (events) and the reconciler (GetJob).
type TranscodeJobs struct {
	Life *VideoLifecycle
}

// Apply moves the video of job as the job's state says: progress while it
// runs, on to PUBLISH (with the renditions, and the publish step queued)
// when it is COMPLETE, FAILED with the transcoder's reason after an ERROR
// or a cancel. A report about a job that is not the video's current one,
// about a video that moved on, or about a job EduStream did not submit is
// stale or foreign: it is logged and nil is returned. Errors are the
// database's, worth retrying.
func (t *TranscodeJobs) Apply(ctx context.Context, job *TranscodeJob) error {
	log := Logger(ctx).With(slog.String("transcode_job", job.ID), slog.Int64("video_id", job.VideoID), slog.String("job_status", string(job.Status)))
	if job.VideoID <= 0 {
		log.Info("ignoring a transcode job EduStream did not submit")
		return nil
	}
	v, err := t.Life.Videos.FindVideoByID(ctx, job.VideoID)
	if ErrorCode(err) == ENOTFOUND {
		log.Info("ignoring a transcode job of a video that no longer exists")
		return nil
	} else if err != nil {
		return fmt.Errorf("transcode job %s: %w", job.ID, err)
	}
	switch {
	case v.TranscoderJobID == "" && v.Status == VideoProcessing && v.Stage == StageTranscode:
		// The transcode step has submitted the job but not stored its id
		// yet (a fast first event), or is about to: ask for the report
		// again later rather than lose it.
		return fmt.Errorf("transcode job %s reported before video %d recorded it", job.ID, v.ID)
	case v.TranscoderJobID != job.ID:
		// An older job of a retried video, or one a crash left behind.
		log.Info("ignoring a transcode job that is not the video's current one", slog.String("current_job", v.TranscoderJobID))
		return nil
	case v.Status != VideoProcessing || v.Stage != StageTranscode:
		// A repeated COMPLETE finds the video past transcoding; the first
		// moved it, but its enqueue may have been lost.
		t.Life.Requeue(ctx, v)
		log.Info("a report about a video past transcoding", slog.String("status", string(v.Status)), slog.String("stage", string(v.Stage)))
		return nil
	}
	service := job.Service
	if service == "" {
		service = "the transcoder"
	}
	switch job.Status {
	case TranscodeJobComplete:
		if v.Media == nil {
			return fmt.Errorf("video %d finished transcoding without probe results", v.ID)
		}
		// The renditions are the ladder the job was given.
		_, err = t.Life.Advance(ctx, v, VideoUpdate{Renditions: Ladder(v.Media)})
	case TranscodeJobError:
		_, err = t.Life.Fail(ctx, v, Errorf(EINTERNAL, "%s", failureReason(service, job)))
	case TranscodeJobCanceled:
		_, err = t.Life.Cancel(ctx, v, fmt.Sprintf("the %s job was canceled; retry the video to transcode it again", service))
	default:
		// Progress also touches the video, which is how the reconciler
		// knows the job is not silent.
		err = t.Life.Progress(ctx, v, StepProgress{Fraction: max(job.Progress, 0) / 100, Message: progressMessage(service, job), Store: true})
	}
	if ErrorCode(err) == ECONFLICT {
		return nil // a concurrent report of the same change won
	}
	return err
}

// progressMessage says how far a job running on service is.
func progressMessage(service string, job *TranscodeJob) string {
	switch {
	case job.Status == TranscodeJobSubmitted:
		return "waiting in the " + service + " queue"
	case job.Progress >= 0:
		return fmt.Sprintf("transcoding on %s: %.0f %%", service, math.Floor(job.Progress))
	}
	return "transcoding on " + service
}

// failureReason says why a job failed, in the transcoder's words and code.
func failureReason(service string, job *TranscodeJob) string {
	reason := service + " could not transcode the video"
	if job.ErrorMessage != "" {
		reason += ": " + job.ErrorMessage
	}
	if job.ErrorCode != "" {
		reason += " (error " + job.ErrorCode + ")"
	}
	return reason
}
