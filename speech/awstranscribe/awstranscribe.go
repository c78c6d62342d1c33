// Package awstranscribe is a speech-to-text engine (edustream.SpeechToText)
// on Amazon Transcribe, through aws-sdk-go-v2: the audio goes to the
// bucket, StartTranscriptionJob asks for WebVTT subtitles written back to
// the bucket, GetTranscriptionJob is polled until the job ends, and the
// subtitle file named by its SubtitleFileUris is read back. The job and
// its files are deleted afterwards.
//
// A job's name is derived from the audio and the language, so a retried
// step finds the job it started (Transcribe refuses a second job of a name
// with ConflictException) instead of paying for another.
package awstranscribe

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/transcribe"
	"github.com/aws/aws-sdk-go-v2/service/transcribe/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/awsconf"
)

// Defaults of Config.
const (
	DefaultPrefix       = "transcribe/"
	DefaultPollInterval = 10 * time.Second
	// maxSubtitleBytes bounds the WebVTT read back.
	maxSubtitleBytes = 16 << 20
)

// Config configures a Client.
type Config struct {
	// Region is where jobs run: the bucket's (Transcribe reads and writes
	// it).
	Region string
	// Endpoint overrides the regional endpoint (a fake in tests).
	Endpoint string
	// Bucket is Blobs' bucket: the audio is put there for the job to read,
	// and the job writes its outputs there (required).
	Bucket string
	Blobs  edustream.BlobStore
	// Prefix is where in the bucket the jobs' files live (empty:
	// DefaultPrefix).
	Prefix string
	// PollInterval is the wait between GetTranscriptionJob calls (0:
	// DefaultPollInterval).
	PollInterval time.Duration
	// AccessKeyID and SecretAccessKey are static credentials; empty means
	// the default chain (environment, shared files, IAM role).
	AccessKeyID     string
	SecretAccessKey string
	HTTPClient      aws.HTTPClient
	APIOptions      []func(*middleware.Stack) error
}

// Client transcribes with Amazon Transcribe. It is safe for concurrent use.
type Client struct {
	api *transcribe.Client
	cfg Config
}

var _ edustream.SpeechToText = (*Client)(nil)

// New returns a Client. It checks the configuration but calls nothing.
func New(ctx context.Context, cfg Config) (*Client, error) {
	switch {
	case cfg.Bucket == "" || cfg.Blobs == nil:
		return nil, errors.New("transcribe: no bucket (Transcribe reads the audio from S3 and writes the subtitles there)")
	case cfg.Region == "":
		return nil, errors.New("transcribe: no region")
	}
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("transcribe: endpoint %q must be an absolute http(s) URL", cfg.Endpoint)
		}
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	awsCfg, err := awsconf.Load(ctx, awsconf.Settings{Region: cfg.Region, AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, HTTPClient: cfg.HTTPClient, APIOptions: cfg.APIOptions})
	if err != nil {
		return nil, fmt.Errorf("transcribe: load AWS configuration: %w", err)
	}
	api := transcribe.NewFromConfig(awsCfg, func(o *transcribe.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &Client{api: api, cfg: cfg}, nil
}

// Name implements edustream.SpeechToText.
func (c *Client) Name() string { return "AWS Transcribe" }

// Transcribe implements edustream.SpeechToText.
func (c *Client) Transcribe(ctx context.Context, path, language string) ([]byte, error) {
	audio, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transcribe: %w", err)
	}
	code := languageCode(language)
	sum := sha256.Sum256(append([]byte(code+"\n"), audio...))
	name := "edustream-" + hex.EncodeToString(sum[:16]) + "-" + code
	dir := c.cfg.Prefix + name + "/"
	defer c.cleanup(ctx, name, dir)

	audioKey := dir + edustream.SpeechAudioName
	if err := c.cfg.Blobs.Put(ctx, audioKey, bytes.NewReader(audio), int64(len(audio)), edustream.BlobMeta{ContentType: "audio/flac"}); err != nil {
		return nil, fmt.Errorf("transcribe: store the audio: %w", err)
	}
	_, err = c.api.StartTranscriptionJob(ctx, &transcribe.StartTranscriptionJobInput{
		TranscriptionJobName: aws.String(name),
		LanguageCode:         types.LanguageCode(code),
		Media:                &types.Media{MediaFileUri: aws.String("s3://" + c.cfg.Bucket + "/" + audioKey)},
		MediaFormat:          types.MediaFormatFlac,
		MediaSampleRateHertz: aws.Int32(edustream.SpeechAudioRate),
		OutputBucketName:     aws.String(c.cfg.Bucket),
		OutputKey:            aws.String(dir),
		Subtitles:            &types.Subtitles{Formats: []types.SubtitleFormat{types.SubtitleFormatVtt}, OutputStartIndex: aws.Int32(1)},
	})
	var conflict *types.ConflictException
	if err != nil && !errors.As(err, &conflict) {
		return nil, apiError("StartTranscriptionJob", err)
	}
	job, err := c.wait(ctx, name)
	if err != nil {
		return nil, err
	}
	key, err := c.subtitleKey(job)
	if err != nil {
		return nil, err
	}
	r, err := c.cfg.Blobs.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("transcribe: read the subtitles %s: %w", key, err)
	}
	defer r.Close()
	vtt, err := io.ReadAll(io.LimitReader(r, maxSubtitleBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("transcribe: read the subtitles %s: %w", key, err)
	case len(vtt) > maxSubtitleBytes:
		return nil, edustream.Errorf(edustream.EINVALID, "AWS Transcribe wrote more than %s of subtitles", edustream.FormatBytes(maxSubtitleBytes))
	case !bytes.HasPrefix(bytes.TrimPrefix(vtt, []byte("\uFEFF")), []byte("WEBVTT")):
		return nil, edustream.Errorf(edustream.EINVALID, "AWS Transcribe wrote subtitles that are not WebVTT")
	}
	return vtt, nil
}

// wait polls the job until it ends. A FAILED job is EINVALID with
// Transcribe's reason: the same audio fails the same way.
func (c *Client) wait(ctx context.Context, name string) (*types.TranscriptionJob, error) {
	for {
		out, err := c.api.GetTranscriptionJob(ctx, &transcribe.GetTranscriptionJobInput{TranscriptionJobName: aws.String(name)})
		if err != nil {
			return nil, apiError("GetTranscriptionJob", err)
		}
		job := out.TranscriptionJob
		if job == nil {
			return nil, fmt.Errorf("transcribe: GetTranscriptionJob %s answered no job", name)
		}
		switch job.TranscriptionJobStatus {
		case types.TranscriptionJobStatusCompleted:
			return job, nil
		case types.TranscriptionJobStatusFailed:
			return nil, edustream.Errorf(edustream.EINVALID, "the job failed: %s", aws.ToString(job.FailureReason))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transcribe: waiting for job %s: %w", name, context.Cause(ctx))
		case <-time.After(c.cfg.PollInterval):
		}
	}
}

// subtitleKey is the key in the bucket of the job's WebVTT file, from its
// SubtitleFileUris: https://s3.REGION.amazonaws.com/BUCKET/KEY (or the
// virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/KEY, or s3://).
func (c *Client) subtitleKey(job *types.TranscriptionJob) (string, error) {
	if job.Subtitles != nil {
		for _, uri := range job.Subtitles.SubtitleFileUris {
			u, err := url.Parse(uri)
			if err != nil || !strings.HasSuffix(u.Path, ".vtt") {
				continue
			}
			p := strings.TrimPrefix(u.Path, "/")
			switch {
			case u.Scheme == "s3" && u.Host == c.cfg.Bucket:
				return p, nil
			case strings.HasPrefix(u.Host, c.cfg.Bucket+"."):
				return p, nil
			case strings.HasPrefix(p, c.cfg.Bucket+"/"):
				return strings.TrimPrefix(p, c.cfg.Bucket+"/"), nil
			}
		}
	}
	return "", edustream.Errorf(edustream.EINVALID, "the job finished without WebVTT subtitles in the bucket")
}

// cleanup deletes the job and its files, whatever the outcome: a retry
// starts again from the audio. Best effort, with a context of its own so
// a cancelled step still cleans up.
func (c *Client) cleanup(ctx context.Context, name, dir string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	log := edustream.Logger(ctx)
	_, err := c.api.DeleteTranscriptionJob(ctx, &transcribe.DeleteTranscriptionJobInput{TranscriptionJobName: aws.String(name)})
	var notFound *types.NotFoundException
	if err != nil && !errors.As(err, &notFound) {
		log.Warn("delete a transcription job", slog.String("job", name), slog.String("error", err.Error()))
	}
	if err := edustream.DeleteBlobPrefix(ctx, c.cfg.Blobs, dir); err != nil {
		log.Warn("delete a transcription job's files", slog.String("prefix", dir), slog.String("error", err.Error()))
	}
}

// apiError turns Transcribe's errors into the domain's: a request it
// refuses (BadRequestException: a language it lacks, a file it cannot
// read) and credentials it refuses are EINVALID, since sending the same
// again cannot succeed; throttling (LimitExceededException, which the SDK
// already retried) and its own faults stay plain errors, retried by the
// step.
func apiError(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "BadRequestException":
			return edustream.Errorf(edustream.EINVALID, "%s refused: %s", op, ae.ErrorMessage())
		case "UnrecognizedClientException", "AccessDeniedException", "InvalidSignatureException", "IncompleteSignature", "MissingAuthenticationToken":
			return edustream.Errorf(edustream.EINVALID, "AWS refused EduStream's credentials (%s: %s)", ae.ErrorCode(), ae.ErrorMessage())
		}
	}
	return fmt.Errorf("transcribe: %s: %w", op, err)
}

// languageCode is Transcribe's code for a BCP 47 tag: it wants a region
// ("en-US"), so a bare language gets the region most of its speakers'
// recordings are transcribed in.
func languageCode(tag string) string {
	base, region, ok := strings.Cut(tag, "-")
	base = strings.ToLower(base)
	if ok && len(region) == 2 {
		return base + "-" + strings.ToUpper(region)
	}
	if r, ok := defaultRegions[base]; ok {
		return base + "-" + r
	}
	return base + "-" + strings.ToUpper(base)
}

var defaultRegions = map[string]string{
	"en": "US", "es": "US", "pt": "BR", "zh": "CN", "ko": "KR", "ja": "JP", "ar": "SA",
	"hi": "IN", "sv": "SE", "da": "DK", "he": "IL", "ms": "MY", "ta": "IN", "te": "IN", "fa": "IR",
}
