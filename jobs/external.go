package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// The chain with an external transcoder (Deps.Transcoder, MediaConvert):
// the transcode step submits a job and ends without moving the video; the
// job's reports (events through /sns, or the reconciler's questions) move
// it on to publish, and the thumbnails step makes the poster and the
// storyboard from the job's frame captures, without ffmpeg.

// DefaultTranscoderSilentAfter is how long an external job may go without
// a report before the reconciler asks about it. MediaConvert reports about
// once a minute while a job runs; a job waiting in a busy queue reports
// nothing, and asking costs one GetJob.
const DefaultTranscoderSilentAfter = 10 * time.Minute

// errHandedOff ends a step that handed the video to an external
// transcoder: nothing failed, and the video stays where it is.
var errHandedOff = errors.New("handed to the external transcoder")

// needsMedia reports whether stage needs ffmpeg or ffprobe for v.
func (c *chain) needsMedia(stage edustream.VideoStage, v *edustream.Video) bool {
	switch stage {
	case edustream.StageProbe:
		return true
	case edustream.StageTranscode:
		return c.d.Transcoder == nil
	case edustream.StageThumbnails:
		return v.TranscoderJobID == ""
	}
	return false
}

// submitTranscode submits v's ladder to the external transcoder, once: the
// job id is stored before anything else happens, so a retried step finds it
// and submits nothing. An attempt that dies between the submission and the
// store repeats the submission with the same token, which the transcoder
// answers with the same job.
func (c *chain) submitTranscode(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	log := edustream.Logger(ctx)
	if v.TranscoderJobID != "" {
		log.Info("the transcode job was submitted before; waiting for its reports", slog.String("transcode_job", v.TranscoderJobID))
		return edustream.VideoUpdate{}, errHandedOff
	}
	jobID, err := c.d.Transcoder.SubmitTranscode(ctx, v, edustream.Ladder(v.Media), edustream.TranscodeToken(v))
	if err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("submit the transcode of video %d: %w", v.ID, err)
	}
	_, err = c.d.Life.HandOff(ctx, v, jobID)
	switch {
	case edustream.ErrorCode(err) == edustream.ECONFLICT:
		log.Warn("the video moved while its transcode was submitted; HandOff cancels the job unless the video holds it", slog.String("transcode_job", jobID))
		return edustream.VideoUpdate{}, errHandedOff
	case err != nil:
		// Retried: the same token finds the same job for about a minute.
		return edustream.VideoUpdate{}, fmt.Errorf("store transcode job %s of video %d: %w", jobID, v.ID, err)
	}
	log.Info("submitted the transcode job", slog.String("transcode_job", jobID))
	return edustream.VideoUpdate{}, errHandedOff
}

// Bounds on the frame captures read back, against a job that made more
// (or larger) than it was asked for.
const (
	maxCaptureBytes = 1 << 20
	spriteQuality   = 75
)

// thumbnailsFromCaptures makes the poster and the storyboard from the
// external transcoder's frame captures: the poster is the last poster
// capture, copied in the store; the storyboard's sprite is drawn from the
// tile captures (small JPEGs, decoded and tiled in Go) with the WebVTT
// track of the same layout as ffmpeg's. Without tile captures, or with one
// that does not decode, the storyboard is skipped with a warning: players
// work without it, and a poster and a stream are worth more than a retry.
// The captures stay until the video's outputs are deleted, so a retried
// step finds them again.
func (c *chain) thumbnailsFromCaptures(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	blobs, err := c.d.Blobs.List(ctx, v.CapturePrefix())
	if err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("list frame captures: %w", err)
	}
	var posters, tiles []string
	for _, b := range blobs {
		name := path.Base(b.Key)
		switch {
		case !strings.HasSuffix(name, ".jpg"):
		case strings.HasPrefix(name, edustream.PosterCaptureName+"."):
			posters = append(posters, b.Key)
		case strings.HasPrefix(name, edustream.StoryboardCaptureName+"."):
			tiles = append(tiles, b.Key)
		}
	}
	// MediaConvert numbers captures with seven digits: key order is time
	// order.
	slices.Sort(posters)
	slices.Sort(tiles)
	if len(posters) == 0 {
		return edustream.VideoUpdate{}, edustream.Errorf(edustream.EINVALID, "the transcoder made no poster frame; upload the file again")
	}
	if err := c.d.Blobs.Copy(ctx, posters[len(posters)-1], v.PosterKey(), blobMeta(v.PosterKey())); err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("publish the poster: %w", err)
	}
	log := edustream.Logger(ctx)
	if len(tiles) == 0 {
		log.Warn("no storyboard: the transcoder made no storyboard frames")
		return edustream.VideoUpdate{}, nil
	}
	sb := edustream.StoryboardFor(v.Media.DurationSeconds, v.Media.Width, v.Media.Height)
	if len(tiles) > sb.Count {
		tiles = tiles[:sb.Count]
	}
	sb = sb.WithCount(len(tiles))
	sprite, err := c.drawSprite(ctx, sb, tiles)
	var bad *badCaptureError
	if errors.As(err, &bad) {
		log.Warn("no storyboard: a frame capture does not decode", slog.String("capture", bad.key), slog.String("error", bad.err.Error()))
		return edustream.VideoUpdate{}, nil
	} else if err != nil {
		return edustream.VideoUpdate{}, err
	}
	if err := c.d.Blobs.Put(ctx, v.StoryboardSpriteKey(), bytes.NewReader(sprite), int64(len(sprite)), blobMeta(v.StoryboardSpriteKey())); err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("store the storyboard sprite: %w", err)
	}
	vtt := sb.VTT(edustream.StoryboardSpriteFileName, v.Media.DurationSeconds)
	if err := c.d.Blobs.Put(ctx, v.StoryboardVTTKey(), strings.NewReader(vtt), int64(len(vtt)), blobMeta(v.StoryboardVTTKey())); err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("store the storyboard track: %w", err)
	}
	return edustream.VideoUpdate{}, nil
}

// badCaptureError is a frame capture that is not a usable JPEG.
type badCaptureError struct {
	key string
	err error
}

func (e *badCaptureError) Error() string { return fmt.Sprintf("frame capture %s: %v", e.key, e.err) }

// drawSprite tiles the captures into one JPEG in sb's layout. A capture of
// another size than the tile is cropped to it (or leaves black), so the
// track's coordinates always hold.
func (c *chain) drawSprite(ctx context.Context, sb edustream.Storyboard, keys []string) ([]byte, error) {
	sprite := image.NewRGBA(image.Rect(0, 0, sb.Cols*sb.TileWidth, sb.Rows*sb.TileHeight))
	for i, key := range keys {
		img, err := c.readCapture(ctx, key)
		if err != nil {
			return nil, err
		}
		x, y := sb.TileAt(i)
		cell := image.Rect(x, y, x+sb.TileWidth, y+sb.TileHeight)
		draw.Draw(sprite, cell, img, img.Bounds().Min, draw.Src)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, sprite, &jpeg.Options{Quality: spriteQuality}); err != nil {
		return nil, fmt.Errorf("encode the storyboard sprite: %w", err)
	}
	return b.Bytes(), nil
}

func (c *chain) readCapture(ctx context.Context, key string) (image.Image, error) {
	r, err := c.d.Blobs.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("read frame capture %s: %w", key, err)
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, maxCaptureBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read frame capture %s: %w", key, err)
	}
	if len(body) > maxCaptureBytes {
		return nil, &badCaptureError{key, fmt.Errorf("larger than %d bytes", maxCaptureBytes)}
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, &badCaptureError{key, err}
	}
	return img, nil
}

// reconcileTranscoderJobs asks the external transcoder about the jobs of
// videos that have heard nothing for TranscoderSilentAfter, and applies the
// answer as an event would have been: SNS gives up on a delivery after its
// retries, and EventBridge on its own. It returns how many of those jobs
// had ended unreported.
func (w *Worker) reconcileTranscoderJobs(ctx context.Context) (int, error) {
	if w.deps.Transcoder == nil || w.deps.Videos == nil {
		return 0, nil
	}
	videos, err := w.deps.Videos.FindUnfinishedVideos(ctx, w.deps.Now().Add(-w.cfg.TranscoderSilentAfter))
	if err != nil {
		return 0, fmt.Errorf("find unfinished videos: %w", err)
	}
	ended := 0
	for _, v := range videos {
		if v.Status != edustream.VideoProcessing || v.Stage != edustream.StageTranscode || v.TranscoderJobID == "" {
			continue
		}
		job, err := w.deps.Transcoder.FindTranscodeJob(ctx, v.TranscoderJobID)
		if edustream.ErrorCode(err) == edustream.ENOTFOUND {
			// Jobs are kept for months; a missing one was deleted, or the
			// account or region changed under the video.
			job = &edustream.TranscodeJob{ID: v.TranscoderJobID, Status: edustream.TranscodeJobError,
				ErrorMessage: "its job " + v.TranscoderJobID + " no longer exists; retry the video"}
		} else if err != nil {
			return ended, fmt.Errorf("ask about transcode job %s of video %d: %w", v.TranscoderJobID, v.ID, err)
		}
		// The job is this video's by the id stored on it.
		job.VideoID = v.ID
		if err := w.transcodes.Apply(ctx, job); err != nil {
			return ended, fmt.Errorf("apply transcode job %s of video %d: %w", v.TranscoderJobID, v.ID, err)
		}
		if job.Status.Done() {
			ended++
		}
	}
	return ended, nil
}

// TypeTranscodeCancel cancels the external transcoder's job of a video
// whose transcode was stopped, and deletes what the job wrote once it has
// ended (TranscodeCancelPayload).
const TypeTranscodeCancel = "video:cancel-transcode:v1"

// TranscodeCancelPayload is the payload of TypeTranscodeCancel. The job id
// is carried because the stopped video no longer names its job (a retry
// must submit a new one).
type TranscodeCancelPayload struct {
	VideoID int64  `json:"video_id"`
	JobID   string `json:"job_id"`
}

// maxTranscodeJobIDLength bounds the job ids a task carries (MediaConvert's
// are about 20 characters; the database's column is 191).
const maxTranscodeJobIDLength = 191

// TranscodeCancelTaskID is the id of the cancel task of a job, so the
// stop, a repeated stop and the job's own CANCELED report make one task.
func TranscodeCancelTaskID(jobID string) string { return "video:cancel-transcode:" + jobID }

// transcodeCancel retries like the Webex deletes (1 s, doubling, capped at
// 10 minutes), for about a day: MediaConvert outages are short, and the
// job bills while it runs.
var transcodeCancel = taskType[TranscodeCancelPayload]{
	name: TypeTranscodeCancel, queue: QueueDefault, maxRetry: 150, timeout: 2 * time.Minute,
	id: func(p TranscodeCancelPayload) string { return TranscodeCancelTaskID(p.JobID) },
	check: func(p TranscodeCancelPayload) error {
		if err := positiveID("video", p.VideoID); err != nil {
			return err
		}
		if p.JobID == "" || len(p.JobID) > maxTranscodeJobIDLength {
			return edustream.Errorf(edustream.EINVALID, "transcode job id must be 1 to %d characters", maxTranscodeJobIDLength)
		}
		for _, r := range p.JobID {
			// It ends up in a task id and in the API's path.
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
				return edustream.Errorf(edustream.EINVALID, "transcode job id %q has a character job ids do not", p.JobID)
			}
		}
		return nil
	},
}

// EnqueueTranscodeCancel schedules the cancel of a stopped video's
// transcode job. A cancel already queued is not an error.
func (q *Queue) EnqueueTranscodeCancel(ctx context.Context, videoID int64, jobID string) error {
	_, err := enqueue(ctx, q.enq, transcodeCancel, TranscodeCancelPayload{VideoID: videoID, JobID: jobID})
	return err
}

// cancelTranscode cancels a stopped video's job and, once the transcoder
// says it has ended, deletes what it wrote (VideoLifecycle.
// DropStoppedTranscode). A job that ended before its cancel (COMPLETE,
// ERROR, or unknown to the transcoder) is not cancelled again: its
// outputs are deleted all the same. Everything else is retried: the
// transcoder being down, and a job still running after its cancel was
// accepted (it may still be uploading).
func (c *chain) cancelTranscode(ctx context.Context, p TranscodeCancelPayload) error {
	if c.d.Transcoder == nil {
		return fmt.Errorf("cancel transcode job %s of video %d: this worker has no external transcoder", p.JobID, p.VideoID)
	}
	log := edustream.Logger(ctx).With(slog.String("transcode_job", p.JobID), slog.Int64("video_id", p.VideoID))
	err := c.d.Transcoder.CancelTranscode(ctx, p.JobID)
	switch edustream.ErrorCode(err) {
	case "":
		log.Info("cancelled the transcode job of a stopped video")
	case edustream.ENOTFOUND, edustream.ECONFLICT, edustream.EINVALID:
		log.Info("the transcode job of a stopped video had ended; nothing to cancel", slog.String("error", err.Error()))
	default:
		return fmt.Errorf("cancel transcode job %s of video %d: %w", p.JobID, p.VideoID, err)
	}
	job, err := c.d.Transcoder.FindTranscodeJob(ctx, p.JobID)
	switch {
	case edustream.ErrorCode(err) == edustream.ENOTFOUND:
	case err != nil:
		return fmt.Errorf("ask about cancelled transcode job %s of video %d: %w", p.JobID, p.VideoID, err)
	case !job.Status.Done():
		return fmt.Errorf("transcode job %s of video %d is still %s after its cancel; its outputs are deleted once it ends", p.JobID, p.VideoID, job.Status)
	}
	dropped, err := c.d.Life.DropStoppedTranscode(ctx, p.VideoID)
	if err != nil {
		return fmt.Errorf("delete the outputs of cancelled transcode job %s: %w", p.JobID, err)
	}
	if !dropped {
		log.Info("the video was retried since its stop; its outputs are its new job's")
	}
	return nil
}
