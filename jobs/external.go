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
		log.Warn("the video moved while its transcode was submitted; the job's reports will be ignored", slog.String("transcode_job", jobID))
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
