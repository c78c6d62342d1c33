package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/cloudfront"
	"github.com/edustream/edustream/mediaconvert"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/sns"
	"github.com/edustream/edustream/storage/redis"
	"github.com/edustream/edustream/tracing"
)

// The AWS side of the wiring: MediaConvert as the transcoder, the SNS
// endpoint, CloudFront for playback. Each is off unless configured.

// outboundClientKey carries, in run's context, the http.Client the SNS
// endpoint fetches signing certificates and confirms subscriptions with.
// Tests put one there that reaches their fake SNS host; which hosts may be
// asked is the sns package's rule either way.
type outboundClientKey struct{}

// outboundClient returns the context's client, or a plain one.
func outboundClient(ctx context.Context) *http.Client {
	if c, ok := ctx.Value(outboundClientKey{}).(*http.Client); ok {
		return c
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// newTranscoder returns MediaConvert when EDUSTREAM_TRANSCODER says so,
// and nil for ffmpeg (the workers' own). pm measures its calls, tr traces
// them (nil: off).
func newTranscoder(ctx context.Context, cfg config, log *slog.Logger, pm *processMetrics, tr *tracing.Provider) (edustream.TranscodeService, error) {
	if cfg.Transcoder != "mediaconvert" {
		return nil, nil
	}
	c, err := mediaconvert.New(ctx, mediaconvert.Config{
		Region:   cfg.S3Region,
		Endpoint: cfg.MediaConvertEndpoint,
		RoleARN:  cfg.MediaConvertRoleARN,
		Queue:    cfg.MediaConvertQueue,
		Bucket:   cfg.S3Bucket,
		// The S3 store's credentials: the same identity reads and writes
		// the bucket and submits its jobs.
		AccessKeyID:     cfg.AWSAccessKeyID,
		SecretAccessKey: cfg.AWSSecretAccessKey,
		HTTPClient:      pm.awsHTTPClient("mediaconvert"),
		APIOptions:      awsAPIOptions(tr),
	})
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_TRANSCODER=mediaconvert: %w", err)
	}
	log.Info("transcoder", "kind", "mediaconvert", "region", cfg.S3Region, "queue", cfg.MediaConvertQueue, "endpoint", cfg.MediaConvertEndpoint)
	return c, nil
}

// newSNSHandler returns the /sns handler, or nil when no topic is
// configured. S3 events of the bucket start chains through uploads;
// MediaConvert's job events move videos through jobs. pm measures its
// calls to SNS (nil: off).
func newSNSHandler(ctx context.Context, cfg config, log *slog.Logger, rdb goredis.UniversalClient, uploads *edustream.Uploads, jobs *edustream.TranscodeJobs, pm *processMetrics) (http.Handler, error) {
	if len(cfg.SNSTopicARNs) == 0 {
		return nil, nil
	}
	client := pm.httpClient("sns", outboundClient(ctx), nil)
	h, err := sns.NewHandler(sns.Config{
		TopicARNs: cfg.SNSTopicARNs,
		Verifier:  sns.NewVerifier(client, nil),
		Log:       redis.NewMessageLog(rdb),
		Client:    client,
		Bucket:    cfg.S3Bucket,
		Uploads:   uploads,
		EventSources: map[string]sns.EventHandler{
			"aws.mediaconvert": &mediaconvert.Events{Jobs: jobs},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_SNS_TOPIC_ARNS: %w", err)
	}
	log.Info("sns endpoint", "path", "/sns", "topics", cfg.SNSTopicARNs)
	return h, nil
}

// newCDN returns CloudFront for playback, or nil when it is not configured.
func newCDN(cfg config, log *slog.Logger) (server.CDN, error) {
	if cfg.CloudFrontDomain == "" {
		return nil, nil
	}
	s, err := cloudfront.New(cloudfront.Config{
		Domain:     cfg.CloudFrontDomain,
		KeyID:      cfg.CloudFrontKeyID,
		PrivateKey: []byte(cfg.CloudFrontPrivateKey),
	})
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_CLOUDFRONT_*: %w", err)
	}
	log.Info("playback", "cdn", "cloudfront", "domain", cfg.CloudFrontDomain, "key_id", cfg.CloudFrontKeyID)
	return s, nil
}
