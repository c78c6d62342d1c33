package mediaconvert

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"

	"github.com/edustream/edustream"
)

// DetailType is the detail-type of MediaConvert's job state events.
const DetailType = "MediaConvert Job State Change"

// JobReports applies a job's state to its video: edustream.TranscodeJobs.
type JobReports interface {
	Apply(ctx context.Context, job *edustream.TranscodeJob) error
}

// Events reads MediaConvert's job state events, as EventBridge delivers
// them (source aws.mediaconvert), and hands them to Jobs. It is the SNS
// endpoint's handler for that source.
type Events struct {
	Jobs JobReports
}

// eventDetail is the detail of a job state event.
type eventDetail struct {
	JobID        string            `json:"jobId"`
	Status       string            `json:"status"`
	UserMetadata map[string]string `json:"userMetadata"`
	// ErrorCode is a number in MediaConvert's examples; json.Number also
	// takes a string.
	ErrorCode    json.Number `json:"errorCode"`
	ErrorMessage string      `json:"errorMessage"`
	JobProgress  *struct {
		// JobPercentComplete is GetJob's field name; the events' own is
		// not documented for certain, so phaseProgress backs it up.
		JobPercentComplete *float64 `json:"jobPercentComplete"`
		CurrentPhase       string   `json:"currentPhase"`
		PhaseProgress      map[string]struct {
			Status          string   `json:"status"`
			PercentComplete *float64 `json:"percentComplete"`
		} `json:"phaseProgress"`
	} `json:"jobProgress"`
}

// phaseWeights is each phase's share of a job, for progress from phases
// alone: probing and uploading are short next to transcoding.
var phaseWeights = []struct {
	phase  string
	weight float64
}{{"PROBING", 5}, {"TRANSCODING", 85}, {"UPLOADING", 10}}

// HandleEvent reads one event. Events of other detail types, of jobs not
// submitted by EduStream, and statuses that say nothing new are ignored.
// EINVALID for a detail that is not a job state; the rest is Jobs'.
func (e *Events) HandleEvent(ctx context.Context, detailType string, detail json.RawMessage) error {
	if detailType != DetailType {
		edustream.Logger(ctx).Info("ignoring a MediaConvert event of another type", slog.String("detail_type", detailType))
		return nil
	}
	job, err := ParseEvent(detail)
	if err != nil {
		return err
	}
	if job == nil {
		return nil
	}
	return e.Jobs.Apply(ctx, job)
}

// ParseEvent reads a job state event's detail. It returns nil for a status
// that needs no action. EINVALID.
func ParseEvent(detail json.RawMessage) (*edustream.TranscodeJob, error) {
	var d eventDetail
	if err := json.Unmarshal(detail, &d); err != nil {
		return nil, edustream.Errorf(edustream.EINVALID, "the MediaConvert event's detail is malformed: %v", err)
	}
	if d.JobID == "" || d.Status == "" {
		return nil, edustream.Errorf(edustream.EINVALID, "the MediaConvert event names no job or status")
	}
	job := &edustream.TranscodeJob{
		Service:      Service,
		ID:           d.JobID,
		VideoID:      videoIDOf(d.UserMetadata),
		Progress:     -1,
		ErrorCode:    d.ErrorCode.String(),
		ErrorMessage: d.ErrorMessage,
	}
	switch d.Status {
	case "COMPLETE":
		job.Status, job.Progress = edustream.TranscodeJobComplete, 100
	case "ERROR":
		job.Status = edustream.TranscodeJobError
	case "CANCELED":
		job.Status = edustream.TranscodeJobCanceled
	case "PROGRESSING", "STATUS_UPDATE", "INPUT_INFORMATION", "NEW_WARNING", "QUEUE_HOP":
		job.Status = edustream.TranscodeJobProgressing
	default:
		// A status added after this was written: the next known one, or
		// the reconciler, will say where the job is.
		return nil, nil
	}
	if p := d.JobProgress; p != nil && job.Status == edustream.TranscodeJobProgressing {
		if p.JobPercentComplete != nil {
			job.Progress = *p.JobPercentComplete
		} else if len(p.PhaseProgress) > 0 {
			job.Progress = 0
			for _, w := range phaseWeights {
				ph, ok := p.PhaseProgress[w.phase]
				switch {
				case ok && ph.Status == "COMPLETE":
					job.Progress += w.weight
				case ok && ph.PercentComplete != nil:
					job.Progress += w.weight * min(max(*ph.PercentComplete, 0), 100) / 100
				}
			}
		}
	}
	return job, nil
}

// errorCodeString formats GetJob's error code as events carry it.
func errorCodeString(code *int32) string {
	if code == nil {
		return ""
	}
	return strconv.Itoa(int(*code))
}
