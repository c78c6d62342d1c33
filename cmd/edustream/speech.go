package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/speech/awstranscribe"
	"github.com/edustream/edustream/speech/openai"
	"github.com/edustream/edustream/tracing"
)

// newSpeech returns the captions step's speech-to-text engine as
// EDUSTREAM_CAPTIONS_ENGINE says, or nil when automatic captions are off.
// auto (dev's default) takes the local engine when it can run here and
// says once why not otherwise; local, asked for by name, must run.
func newSpeech(ctx context.Context, cfg config, log *slog.Logger, media edustream.MediaTools, blobs edustream.BlobStore, pm *processMetrics, tr *tracing.Provider) (edustream.SpeechToText, error) {
	var engine edustream.SpeechToText
	switch cfg.CaptionsEngine {
	case "off":
		return nil, nil
	case "auto", "local":
		tools, ok := media.(*ffmpeg.Tools)
		if !ok {
			if cfg.CaptionsEngine == "auto" {
				// The missing ffmpeg was said once already (dev says it once).
				log.Info("automatic captions are off: the local engine runs in ffmpeg, which this worker lacks")
				return nil, nil
			}
			return nil, fmt.Errorf("EDUSTREAM_CAPTIONS_ENGINE=local needs ffmpeg on the worker")
		}
		local := tools.Speech(ffmpeg.DebianEnglishModel())
		if err := local.Check(ctx); err != nil {
			if cfg.CaptionsEngine == "auto" {
				log.Info("automatic captions are off: the local engine cannot run (install Debian's pocketsphinx-en-us, or set EDUSTREAM_CAPTIONS_ENGINE)", "reason", err.Error())
				return nil, nil
			}
			return nil, fmt.Errorf("EDUSTREAM_CAPTIONS_ENGINE=local: %w", err)
		}
		engine = local
	case "aws":
		c, err := awstranscribe.New(ctx, awstranscribe.Config{
			Region:   cfg.S3Region,
			Endpoint: cfg.TranscribeEndpoint,
			Bucket:   cfg.S3Bucket,
			Blobs:    blobs,
			// The S3 store's identity reads and writes the bucket and runs
			// the jobs, as for MediaConvert.
			AccessKeyID:     cfg.AWSAccessKeyID,
			SecretAccessKey: cfg.AWSSecretAccessKey,
			HTTPClient:      pm.awsHTTPClient("transcribe"),
			APIOptions:      awsAPIOptions(tr),
		})
		if err != nil {
			return nil, fmt.Errorf("EDUSTREAM_CAPTIONS_ENGINE=aws: %w", err)
		}
		engine = c
	case "openai":
		c, err := openai.New(openai.Config{BaseURL: cfg.OpenAITranscribeURL, APIKey: cfg.OpenAITranscribeAPIKey, Model: cfg.OpenAITranscribeModel})
		if err != nil {
			return nil, fmt.Errorf("EDUSTREAM_CAPTIONS_ENGINE=openai: %w", err)
		}
		engine = c
	}
	log.Info("automatic captions", "engine", engine.Name(), "language", cfg.CaptionsLanguage, "timeout", cfg.CaptionsTimeout)
	return engine, nil
}
