package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// The captions step: the video's audio, extracted from its smallest
// published rendition, goes to the speech-to-text engine (Deps.Speech), and
// what it heard becomes the video's automatic track. The step never fails
// the video: a video whose engine is absent, failing, slow or refusing
// goes READY all the same, and the reason is recorded on a FAILED track for
// the instructor to see. Replays write the same track again; an uploaded
// track of the language is never replaced (PutAutomaticCaption keeps it).

// DefaultCaptionsTimeout bounds the engine's work on one video: the local
// engine needs about half a CPU second per second of speech (see
// docs/benchmarks-captions.md), so a 4-hour lecture on a busy core fits.
const DefaultCaptionsTimeout = 4 * time.Hour

// AutomaticCaptions stores what the captions step made. edustream.Captions
// implements it.
type AutomaticCaptions interface {
	// PutAutomaticCaption stores vtt as v's automatic track of language,
	// or keeps (and returns) an uploaded one. EINVALID when vtt does not
	// pass validation.
	PutAutomaticCaption(ctx context.Context, v *edustream.Video, language string, vtt []byte) (*edustream.Caption, error)
	// RecordAutomaticCaptionFailure records a FAILED automatic track of
	// language with reason, unless a READY one is there.
	RecordAutomaticCaptionFailure(ctx context.Context, v *edustream.Video, language, reason string) error
}

func (c *chain) captions(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	log := edustream.Logger(ctx)
	if c.d.Speech == nil || c.d.Captions == nil {
		return edustream.VideoUpdate{}, nil // no engine configured
	}
	if v.Media == nil || !v.Media.HasAudio() {
		log.Info("the video has no audio; no automatic captions")
		return edustream.VideoUpdate{}, nil
	}
	lang := cmp.Or(c.d.CaptionsLanguage, "en")
	vtt, err := c.transcribe(ctx, run, lang)
	var refused *captionRefusal
	switch {
	case errors.As(err, &refused):
		return edustream.VideoUpdate{}, c.recordCaptionFailure(ctx, v, lang, refused.reason)
	case err != nil:
		return edustream.VideoUpdate{}, err
	}
	track, err := c.d.Captions.PutAutomaticCaption(ctx, v, lang, vtt)
	switch {
	case edustream.ErrorCode(err) == edustream.EINVALID:
		return edustream.VideoUpdate{}, c.recordCaptionFailure(ctx, v, lang,
			fmt.Sprintf("%s made captions that do not pass validation: %s", c.d.Speech.Name(), edustream.ErrorMessage(err)))
	case err != nil:
		return edustream.VideoUpdate{}, fmt.Errorf("store the automatic captions: %w", err)
	case track.Source == edustream.CaptionUploaded:
		log.Info("an uploaded track of the language is kept", slog.String("language", track.Language))
	default:
		log.Info("stored the automatic captions", slog.String("language", track.Language), slog.Int("cues", track.CueCount))
	}
	return edustream.VideoUpdate{}, nil
}

// captionRefusal is a failure of the engine that ends the step with a
// FAILED track: retrying cannot help, or the retries are spent.
type captionRefusal struct{ reason string }

func (r *captionRefusal) Error() string { return r.reason }

// transcribe extracts v's audio and runs the engine on it, within
// Deps.CaptionsTimeout. A plain error is retried (the step's context
// ended, the store failed, or the engine failed and attempts are left); a
// *captionRefusal is recorded.
func (c *chain) transcribe(ctx context.Context, run *stepRun, lang string) ([]byte, error) {
	v := run.video
	engine := c.d.Speech.Name()
	if c.d.Media == nil {
		return nil, &captionRefusal{edustream.ErrNoMediaTools.Error() + "; the audio could not be read for " + engine}
	}
	timeout := cmp.Or(c.d.CaptionsTimeout, DefaultCaptionsTimeout)
	bounded, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	src, stop, err := c.audioSource(bounded, v)
	if err != nil {
		return nil, err
	}
	audio := filepath.Join(run.dir, edustream.SpeechAudioName)
	err = c.d.Media.ExtractAudio(bounded, src, v.Media, audio)
	stop()
	if err == nil {
		started := time.Now()
		var vtt []byte
		vtt, err = c.d.Speech.Transcribe(bounded, audio, lang)
		if err == nil {
			edustream.Logger(ctx).Info("transcribed the audio", slog.String("engine", engine),
				slog.Duration("took", time.Since(started)), slog.Float64("media_seconds", v.Media.DurationSeconds))
			return vtt, nil
		}
	}
	switch {
	case ctx.Err() != nil:
		return nil, err // stopped, or the worker shuts down: not the engine's failure
	case bounded.Err() != nil:
		return nil, &captionRefusal{fmt.Sprintf("%s took longer than %s, the limit for one video", engine, edustream.FormatDuration(timeout.Seconds()))}
	case edustream.ErrorCode(err) == edustream.EINVALID:
		return nil, &captionRefusal{engine + ": " + edustream.ErrorMessage(err)}
	case !lastAttempt(ctx):
		edustream.Logger(ctx).Warn("the speech-to-text engine failed; retrying", slog.String("engine", engine), slog.String("error", err.Error()))
		return nil, err
	}
	// The detail (hosts, request ids) is for the operators' logs.
	edustream.Logger(ctx).Error("the speech-to-text engine failed on every attempt", slog.String("engine", engine), slog.String("error", err.Error()))
	return nil, &captionRefusal{engine + " failed on every attempt; an administrator can see why in the workers' logs"}
}

// audioSource serves the smallest published rendition on the worker's
// loopback (its audio is the source's; reading it spares downloading the
// source), or the source for a video an external transcoder made, whose
// renditions ffmpeg does not name as the ladder does. stop ends the
// serving.
func (c *chain) audioSource(ctx context.Context, v *edustream.Video) (url string, stop func(), err error) {
	if v.TranscoderJobID != "" || len(v.Renditions) == 0 {
		srv, err := serveBlobs(ctx, c.d.Blobs, v.SourceKey())
		if err != nil {
			return "", nil, err
		}
		return srv.URL(), srv.close, nil
	}
	smallest := slices.MinFunc(v.Renditions, func(a, b edustream.Rendition) int { return cmp.Compare(a.Bitrate, b.Bitrate) })
	srv, err := serveBlobs(ctx, c.d.Blobs, v.HLSPrefix())
	if err != nil {
		return "", nil, err
	}
	return srv.URL() + smallest.Name + "/index.m3u8", srv.close, nil
}

// recordCaptionFailure records the failed track; the video goes on. Only
// a failure to record it is returned (retried).
func (c *chain) recordCaptionFailure(ctx context.Context, v *edustream.Video, lang, reason string) error {
	edustream.Logger(ctx).Warn("no automatic captions", slog.String("reason", reason))
	if err := c.d.Captions.RecordAutomaticCaptionFailure(ctx, v, lang, reason); err != nil {
		return fmt.Errorf("record the automatic captions' failure: %w", err)
	}
	return nil
}

// lastAttempt reports whether the running task has no retry left.
func lastAttempt(ctx context.Context) bool {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	return ok && retried >= maxRetry
}
