// Package mediaconvert hands EduStream's transcoding to AWS Elemental
// MediaConvert, through aws-sdk-go-v2: Client implements
// edustream.TranscodeService (CreateJob with a job equivalent to the ffmpeg
// ladder, GetJob for the reconciler, CancelJob for a stopped video), and Events reads MediaConvert's job
// state events (EventBridge → SNS → /sns) into the domain's TranscodeJob.
//
// The job reads the source from the bucket and writes where the ffmpeg
// transcoder's outputs go: the HLS stream under the video's work prefix (for
// the publish step) and frame captures under its capture prefix (for the
// thumbnails step). Its UserMetadata carries the video and lecture ids, so
// every event names the video it is about.
//
// MediaConvert's API errors become domain codes in one place, apiError.
package mediaconvert

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	mc "github.com/aws/aws-sdk-go-v2/service/mediaconvert"
	"github.com/aws/aws-sdk-go-v2/service/mediaconvert/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/awsconf"
)

// Service is MediaConvert's name in messages people read.
const Service = "MediaConvert"

// The UserMetadata keys of a job: application marks EduStream's jobs
// (other jobs of the account are ignored), the ids say whose job it is.
const (
	MetaApplication = "application"
	MetaVideoID     = "videoId"
	MetaLectureID   = "lectureId"
	// ApplicationName is MetaApplication's value; the EventBridge rule in
	// docs/aws.md filters on it.
	ApplicationName = "edustream"
)

// Config configures a Client.
type Config struct {
	// Region is where jobs run; the bucket's region (MediaConvert reads
	// and writes the bucket).
	Region string
	// Endpoint overrides the regional endpoint (an account's own endpoint,
	// or a fake in tests); empty means the SDK's.
	Endpoint string
	// RoleARN is the IAM role MediaConvert assumes to read the source and
	// write the outputs (required).
	RoleARN string
	// Queue is the queue's ARN; empty means the account's Default queue.
	Queue string
	// Bucket holds the sources and the outputs (required).
	Bucket string
	// SegmentSeconds is the HLS segment length and keyframe interval
	// (0: edustream.DefaultSegmentSeconds).
	SegmentSeconds int
	// AccessKeyID and SecretAccessKey are static credentials; empty means
	// the default chain (environment, shared files, IAM role).
	AccessKeyID     string
	SecretAccessKey string
	// HTTPClient sends the API's requests (nil: the SDK's own), e.g. one
	// whose transport counts them.
	HTTPClient aws.HTTPClient
	// APIOptions are added to the stack of every call (the process's
	// tracing).
	APIOptions []func(*middleware.Stack) error
}

// Client is an edustream.TranscodeService on MediaConvert.
type Client struct {
	api *mc.Client
	cfg Config
}

var _ edustream.TranscodeService = (*Client)(nil)

// New returns a Client. It checks the configuration but does not call
// MediaConvert: the role and queue are only checked by a job.
func New(ctx context.Context, cfg Config) (*Client, error) {
	switch {
	case cfg.RoleARN == "":
		return nil, errors.New("mediaconvert: no role ARN for jobs to run as")
	case cfg.Bucket == "":
		return nil, errors.New("mediaconvert: no bucket (MediaConvert reads and writes S3)")
	case cfg.Region == "":
		return nil, errors.New("mediaconvert: no region")
	}
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("mediaconvert: endpoint %q must be an absolute http(s) URL", cfg.Endpoint)
		}
	}
	if cfg.SegmentSeconds == 0 {
		cfg.SegmentSeconds = edustream.DefaultSegmentSeconds
	}
	awsCfg, err := awsconf.Load(ctx, awsconf.Settings{Region: cfg.Region, AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, HTTPClient: cfg.HTTPClient, APIOptions: cfg.APIOptions})
	if err != nil {
		return nil, fmt.Errorf("mediaconvert: load AWS configuration: %w", err)
	}
	api := mc.NewFromConfig(awsCfg, func(o *mc.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &Client{api: api, cfg: cfg}, nil
}

// SubmitTranscode creates the job for v's ladder. The SDK retries a lost
// answer with the same ClientRequestToken, which MediaConvert answers with
// the same job.
func (c *Client) SubmitTranscode(ctx context.Context, v *edustream.Video, ladder []edustream.Rendition, token string) (string, error) {
	settings, err := jobSettings(v, ladder, c.cfg.Bucket, c.cfg.SegmentSeconds)
	if err != nil {
		return "", err
	}
	in := &mc.CreateJobInput{
		Role:                 aws.String(c.cfg.RoleARN),
		Settings:             settings,
		ClientRequestToken:   aws.String(token),
		StatusUpdateInterval: types.StatusUpdateIntervalSeconds60,
		UserMetadata: map[string]string{
			MetaApplication: ApplicationName,
			MetaVideoID:     strconv.FormatInt(v.ID, 10),
			MetaLectureID:   strconv.FormatInt(v.LectureID, 10),
		},
	}
	if c.cfg.Queue != "" {
		in.Queue = aws.String(c.cfg.Queue)
	}
	out, err := c.api.CreateJob(ctx, in)
	if err != nil {
		return "", apiError(err, fmt.Sprintf("create the job of video %d", v.ID))
	}
	if out.Job == nil || aws.ToString(out.Job.Id) == "" {
		return "", fmt.Errorf("mediaconvert: CreateJob of video %d answered without a job id", v.ID)
	}
	return aws.ToString(out.Job.Id), nil
}

// FindTranscodeJob asks GetJob about a job. ENOTFOUND.
func (c *Client) FindTranscodeJob(ctx context.Context, jobID string) (*edustream.TranscodeJob, error) {
	out, err := c.api.GetJob(ctx, &mc.GetJobInput{Id: aws.String(jobID)})
	if err != nil {
		return nil, apiError(err, "get job "+jobID)
	}
	if out.Job == nil {
		return nil, fmt.Errorf("mediaconvert: GetJob %s answered without a job", jobID)
	}
	j := out.Job
	job := &edustream.TranscodeJob{
		Service:      Service,
		ID:           aws.ToString(j.Id),
		VideoID:      videoIDOf(j.UserMetadata),
		Status:       edustream.TranscodeJobStatus(j.Status),
		Progress:     -1,
		ErrorCode:    errorCodeString(j.ErrorCode),
		ErrorMessage: aws.ToString(j.ErrorMessage),
	}
	if j.JobPercentComplete != nil {
		job.Progress = float64(*j.JobPercentComplete)
	}
	if job.Status == edustream.TranscodeJobComplete {
		job.Progress = 100
	}
	return job, nil
}

// CancelTranscode asks CancelJob (DELETE /2017-08-29/jobs/{id}) to stop a
// job that has not ended; MediaConvert then reports it CANCELED.
// ENOTFOUND for a job MediaConvert does not know, ECONFLICT for one that
// has ended (ConflictException).
func (c *Client) CancelTranscode(ctx context.Context, jobID string) error {
	if _, err := c.api.CancelJob(ctx, &mc.CancelJobInput{Id: aws.String(jobID)}); err != nil {
		return apiError(err, "cancel job "+jobID)
	}
	return nil
}

// videoIDOf reads the video id of an EduStream job's metadata; 0 for
// anyone else's job.
func videoIDOf(meta map[string]string) int64 {
	if meta[MetaApplication] != ApplicationName {
		return 0
	}
	id, err := strconv.ParseInt(meta[MetaVideoID], 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// apiError is the one place MediaConvert's errors become domain codes: a
// job refused for what it is (BadRequestException) is EINVALID, so the
// video fails with MediaConvert's reason instead of retrying; a missing job
// is ENOTFOUND; a job in a state that refuses the call (a cancel of an
// ended job: ConflictException) is ECONFLICT; the rest (throttling,
// outages, the role not allowed yet) may pass and is retried.
func apiError(err error, doing string) error {
	var bad *types.BadRequestException
	var missing *types.NotFoundException
	var conflict *types.ConflictException
	switch {
	case errors.As(err, &bad):
		return edustream.Errorf(edustream.EINVALID, "%s refused the job: %s", Service, aws.ToString(bad.Message))
	case errors.As(err, &missing):
		return edustream.Errorf(edustream.ENOTFOUND, "%s: %s", doing, aws.ToString(missing.Message))
	case errors.As(err, &conflict):
		return edustream.Errorf(edustream.ECONFLICT, "%s: %s", doing, aws.ToString(conflict.Message))
	}
	return fmt.Errorf("mediaconvert: %s: %w", doing, err)
}
