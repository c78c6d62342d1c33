package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/internal/testenv"
)

// TestNewSpeech: the engine EDUSTREAM_CAPTIONS_ENGINE names, auto falling
// back to none (and saying so) where the local engine cannot run, and
// local refusing to start there.
func TestNewSpeech(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		engine, want string
	}{
		{"off", ""},
		{"openai", "the transcription service at whisper:8000"},
	} {
		cfg := defaultsFor("serve")
		cfg.CaptionsEngine, cfg.OpenAITranscribeURL, cfg.S3Bucket = tc.engine, "http://whisper:8000/v1", "b"
		engine, err := newSpeech(ctx, cfg, quiet, nil, nil, nil, nil)
		switch {
		case err != nil:
			t.Errorf("%s: %v", tc.engine, err)
		case tc.want == "" && engine != nil, tc.want != "" && (engine == nil || engine.Name() != tc.want):
			t.Errorf("%s: engine %v, want %q", tc.engine, engine, tc.want)
		}
	}

	// Without ffmpeg: auto is off and says why, local refuses to start.
	var logs bytes.Buffer
	cfg := defaultsFor("dev")
	engine, err := newSpeech(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), nil, nil, nil, nil)
	if err != nil || engine != nil || !strings.Contains(logs.String(), "automatic captions are off") {
		t.Errorf("auto without ffmpeg = %v, %v (log %q); want none, said once", engine, err, logs.String())
	}
	cfg.CaptionsEngine = "local"
	if _, err := newSpeech(ctx, cfg, quiet, nil, nil, nil, nil); err == nil {
		t.Error("local without ffmpeg started")
	}

	// With ffmpeg, the filter and the model, auto is the local engine.
	testenv.ASR(t)
	bins := testenv.FFmpeg(t)
	cfg.CaptionsEngine = "auto"
	tools := ffmpeg.New(ffmpeg.Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe})
	if engine, err = newSpeech(ctx, cfg, quiet, tools, nil, nil, nil); err != nil || engine == nil || !strings.Contains(engine.Name(), "asr") {
		t.Errorf("auto with ffmpeg and the model = %v, %v; want the local engine", engine, err)
	}
}
