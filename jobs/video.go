package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// The transcoding chain: probe → transcode → publish → thumbnails →
// captions → metadata → complete, one task per step.
//
// Every step is idempotent. It reads the video from the database, and runs
// only if the video is at its stage; it writes to keys derived from the
// video's id; and it moves the video on with a conditional update
// (TransitionVideo), so of two attempts that race, one moves the video and
// the other finds it moved. A step that finds the video past its stage
// makes sure the current stage's task is queued and returns: a lost enqueue
// heals itself on any replay, and the reconciler replays what Redis lost.

// Throttles of the progress a running step reports. Subscribers want a bar
// that moves about twice a second; the database keeps a coarser copy, for
// the first event of a subscriber who arrives mid-transcode.
const (
	progressEventEvery = 500 * time.Millisecond
	progressStoreEvery = 5 * time.Second
)

// chain runs the video tasks.
type chain struct {
	d *Deps
}

// stepFunc does the work of one stage for v and returns what to record
// when the video moves on. Returning an *edustream.Error with EINVALID
// fails the video for good with that error's message.
type stepFunc func(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error)

// stepRun is one attempt of one step.
type stepRun struct {
	video *edustream.Video
	// dir is the attempt's own temporary directory, removed afterwards.
	dir string
	// What the attempt did, for the metrics: the seconds of video ffmpeg
	// transcoded here and the wall time it took, the bytes published.
	transcoded    float64
	transcodeTime time.Duration
	published     int64
}

func (c *chain) steps() map[edustream.VideoStage]stepFunc {
	return map[edustream.VideoStage]stepFunc{
		edustream.StageProbe:      c.probe,
		edustream.StageTranscode:  c.transcode,
		edustream.StagePublish:    c.publishStream,
		edustream.StageThumbnails: c.thumbnails,
		edustream.StageCaptions:   c.captions,
		edustream.StageMetadata:   c.metadata,
	}
}

// runStage runs stage for the video, if the video is there.
func (c *chain) runStage(ctx context.Context, stage edustream.VideoStage, videoID int64) error {
	log := edustream.Logger(ctx).With(slog.Int64("video_id", videoID), slog.String("stage", string(stage)))
	ctx = edustream.NewContextWithLogger(ctx, log)
	noteStep(ctx, stage, videoID)
	v, err := c.d.Videos.FindVideoByID(ctx, videoID)
	if err != nil {
		return fmt.Errorf("find video %d: %w", videoID, err)
	}
	switch {
	case v.ReplacedAt != nil:
		// A newer upload replaced it, or its lecture is gone: the cleanup
		// owns it now.
		log.Info("video is replaced; not running its step")
		return nil
	case v.Status == edustream.VideoAwaitingUpload, v.Status.Terminal():
		// Not uploaded yet (a stray task), or done or failed: a retry or a
		// new upload enqueues again.
		log.Info("video is not waiting for this step", slog.String("status", string(v.Status)))
		return nil
	case v.Stage != stage:
		// Another attempt moved it on, or this task is early: make sure the
		// stage it is at has its task.
		log.Info("video is at another stage", slog.String("video_stage", string(v.Stage)))
		c.d.Life.Requeue(ctx, v)
		return nil
	}
	if q, _ := asynq.GetQueueName(ctx); slices.Contains(videoQueues, q) {
		release, err := c.takeUploaderSlot(ctx, v)
		if err != nil {
			return err
		}
		defer release()
		// The video queue moved: those waiting in it see their position change.
		c.announceQueueMoved(ctx)
	}
	if v.Status == edustream.VideoUploaded {
		if v, err = c.d.Life.Start(ctx, v); edustream.ErrorCode(err) == edustream.ECONFLICT {
			return nil // another attempt took it
		} else if err != nil {
			return err
		}
	}
	if stage == edustream.StageComplete {
		step := c.d.Metrics.startStep(stage)
		done, err := c.d.Life.Complete(ctx, v)
		if err != nil && edustream.ErrorCode(err) != edustream.ECONFLICT {
			step.end(outcomeRetry, nil)
			return err
		}
		step.end(outcomeOK, nil)
		noteMoved(ctx, done)
		return nil
	}

	if c.d.Media == nil && c.needsMedia(stage, v) {
		return c.fail(ctx, v, edustream.ErrNoMediaTools)
	}
	dir, err := os.MkdirTemp(c.d.WorkDir, fmt.Sprintf("video-%d-%s-", v.ID, strings.ToLower(string(stage))))
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(dir)

	run := &stepRun{video: v, dir: dir}
	step := c.d.Metrics.startStep(stage)
	outcome := outcomeRetry // unless it gets further, a panic included
	defer func() { step.end(outcome, run) }()
	results, err := c.steps()[stage](ctx, run)
	if errors.Is(err, errHandedOff) {
		outcome = outcomeHandedOff
		return nil // an external transcoder's reports move the video on
	} else if err != nil {
		if ctx.Err() != nil {
			c.dropStopped(ctx, v)
		}
		err = c.fail(ctx, v, err)
		outcome = stepOutcome(err)
		return err
	}
	moved, err := c.d.Life.Advance(ctx, v, results)
	if edustream.ErrorCode(err) == edustream.ECONFLICT {
		log.Info("another attempt finished this step first")
	} else if err != nil {
		return err
	}
	outcome = outcomeOK
	noteMoved(ctx, moved)
	return nil
}

// takeUploaderSlot takes one of the slots of v's uploader (uploaderslots.go)
// for the task; errUploaderBusy when the uploader has none left, which
// puts the task back in its queue.
func (c *chain) takeUploaderSlot(ctx context.Context, v *edustream.Video) (release func(), err error) {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, last := asynq.GetMaxRetry(ctx)
	if c.d.slots == nil || v.UploaderID == 0 || (last && retried >= maxRetry) {
		// asynq archives a task at its last attempt whatever it returns,
		// so that one runs now rather than be put back for good.
		return func() {}, nil
	}
	id, _ := asynq.GetTaskID(ctx)
	release, ok, err := c.d.slots.take(ctx, v.UploaderID, id)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errUploaderBusy
	}
	return release, nil
}

// dropStopped deletes what a step whose context was cancelled had stored
// of its outputs, if its video no longer wants the step: someone stopped
// it (StopProcessing), or its lecture is gone. A step stopped for another
// reason (its timeout, a worker shutting down) keeps them for the next
// attempt.
func (c *chain) dropStopped(ctx context.Context, v *edustream.Video) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	now, err := c.d.Videos.FindVideoByID(ctx, v.ID)
	switch {
	case err == nil && now.ReplacedAt == nil && now.Status == edustream.VideoProcessing && now.Stage == v.Stage:
		return // still wanted
	case err != nil && edustream.ErrorCode(err) != edustream.ENOTFOUND:
		return // unknown: the next attempt, or the removal, decides
	}
	switch v.Stage {
	case edustream.StageTranscode:
		err = edustream.DeleteBlobPrefix(ctx, c.d.Blobs, v.WorkPrefix())
	case edustream.StageThumbnails:
		err = c.d.Blobs.Delete(ctx, v.PosterKey(), v.StoryboardSpriteKey(), v.StoryboardVTTKey())
	default:
		return
	}
	log := edustream.Logger(ctx)
	if err != nil {
		log.Warn("delete the outputs of a stopped step", slog.String("error", err.Error()))
		return
	}
	log.Info("the step was stopped; its outputs were deleted")
}

// fail decides what a step's error means. A permanent one (the input's
// fault, or retries spent) ends the video FAILED with a reason a person can
// act on, and the task is archived; anything else is retried.
func (c *chain) fail(ctx context.Context, v *edustream.Video, stepErr error) error {
	if ctx.Err() != nil {
		// Shutting down or timed out: asynq hands the task back.
		return stepErr
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	code := edustream.ErrorCode(stepErr)
	permanent := code == edustream.EINVALID || code == edustream.ENOTFOUND
	exhausted := ok && retried >= maxRetry
	if !permanent && !exhausted {
		return stepErr
	}
	cause := stepErr
	if !permanent {
		cause = edustream.Errorf(edustream.EINTERNAL, "the %s step failed %d times; retry the video to run it again", strings.ToLower(string(v.Stage)), retried+1)
	}
	_, err := c.d.Life.Fail(ctx, v, cause)
	switch {
	case edustream.ErrorCode(err) == edustream.ECONFLICT:
		return fmt.Errorf("%w (the video had moved on): %w", stepErr, asynq.SkipRetry)
	case err != nil:
		// Not recorded: let asynq retry, the step will fail again and
		// record it then. %v, so the step's code (EINVALID) does not make
		// the middleware skip the retry.
		return fmt.Errorf("record the failure (%v): %w", stepErr, err)
	}
	return fmt.Errorf("%w: %w", stepErr, asynq.SkipRetry)
}

// probe checks that the source is a video within the limits. ffprobe
// reads it through a loopback server (blobServer), so only the bytes it
// needs leave the store: the headers and the last seconds, not all of a
// file that may be 10 GiB.
func (c *chain) probe(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	if _, err := c.d.Blobs.Head(ctx, v.SourceKey()); edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return edustream.VideoUpdate{}, errSourceMissing
	} else if err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("find the source: %w", err)
	}
	if info, err := c.probed(ctx, v); err != nil || info != nil {
		return edustream.VideoUpdate{Media: info}, err
	}
	srv, err := serveBlobs(ctx, c.d.Blobs, v.SourceKey())
	if err != nil {
		return edustream.VideoUpdate{}, err
	}
	defer srv.close()
	info, err := c.d.Media.Probe(ctx, srv.URL())
	if err != nil {
		return edustream.VideoUpdate{}, err
	}
	if err := c.d.Limits.CheckMedia(info); err != nil {
		return edustream.VideoUpdate{}, err
	}
	// Kept until the probe's results are in the database, so a retry
	// after the database failed does not probe again.
	body, err := json.Marshal(info)
	if err != nil {
		return edustream.VideoUpdate{}, err
	}
	if err := c.d.Blobs.Put(ctx, probeKey(v), strings.NewReader(string(body)), int64(len(body)), blobMeta("probe.json")); err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("keep the probe's results: %w", err)
	}
	return edustream.VideoUpdate{Media: info}, nil
}

// probeKey is where the probe keeps its results for a retry of its step.
func probeKey(v *edustream.Video) string { return edustream.VideoPrefix(v.ID) + "probe.json" }

// probed returns the results an earlier attempt of the probe kept, if it
// kept any that still pass the limits; nil otherwise.
func (c *chain) probed(ctx context.Context, v *edustream.Video) (*edustream.MediaInfo, error) {
	r, err := c.d.Blobs.Get(ctx, probeKey(v), 0, -1)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("look for an earlier probe: %w", err)
	}
	defer r.Close()
	var info edustream.MediaInfo
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&info); err != nil || c.d.Limits.CheckMedia(&info) != nil {
		return nil, nil // not ours to trust: probe again
	}
	edustream.Logger(ctx).Info("an earlier attempt probed the video; keeping its results")
	return &info, nil
}

// errSourceMissing fails a video whose source is not in storage.
var errSourceMissing = edustream.Errorf(edustream.EINVALID, "the uploaded file is missing from storage; upload it again")

// transcode makes the HLS ladder and leaves it under the video's work
// prefix for publish. The source is downloaded (the one step that reads
// it whole), and the outputs are stored with the master playlist last, so
// a master in the work prefix means an attempt finished: a step retried
// after that (the database failed as it moved the video on) finds it and
// does not transcode again.
func (c *chain) transcode(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	if v.Media == nil {
		return edustream.VideoUpdate{}, fmt.Errorf("video %d reached transcode without probe results", v.ID)
	}
	if c.d.Transcoder != nil {
		return c.submitTranscode(ctx, run)
	}
	ladder := edustream.Ladder(v.Media)
	if done, err := c.transcoded(ctx, v, ladder); err != nil || done {
		if done {
			edustream.Logger(ctx).Info("an earlier attempt transcoded the video; keeping its outputs")
		}
		return edustream.VideoUpdate{Renditions: ladder}, err
	}
	src, err := c.fetchSource(ctx, run)
	if err != nil {
		return edustream.VideoUpdate{}, err
	}
	out := filepath.Join(run.dir, "hls")
	if err := os.Mkdir(out, 0o700); err != nil {
		return edustream.VideoUpdate{}, err
	}
	// What an earlier attempt wrote as the time it still needed is
	// stale; until this one reports, the queue expects the whole step.
	if err := writeStepETA(ctx, 0, time.Now()); err != nil {
		edustream.Logger(ctx).Warn("clear the transcode's ETA", slog.String("error", err.Error()))
	}
	report := c.progressReporter(ctx, v, ladder)
	started := time.Now()
	if err := c.d.Media.Transcode(ctx, src, v.Media, ladder, out, report); err != nil {
		return edustream.VideoUpdate{}, err
	}
	run.transcoded, run.transcodeTime = v.Media.DurationSeconds, time.Since(started)
	noteTranscode(ctx, v, ladder, run.transcodeTime)
	// A retry may follow an attempt that stored part of its outputs; the
	// work prefix holds exactly this attempt's.
	if err := edustream.DeleteBlobPrefix(ctx, c.d.Blobs, v.WorkPrefix()); err != nil {
		return edustream.VideoUpdate{}, err
	}
	if err := c.putDir(ctx, out, v.WorkPrefix(), edustream.MasterPlaylistName); err != nil {
		return edustream.VideoUpdate{}, err
	}
	return edustream.VideoUpdate{Renditions: ladder}, nil
}

// transcoded reports whether the work prefix holds a finished transcode of
// ladder: its master playlist, stored last, naming every rendition.
func (c *chain) transcoded(ctx context.Context, v *edustream.Video, ladder []edustream.Rendition) (bool, error) {
	r, err := c.d.Blobs.Get(ctx, v.WorkPrefix()+edustream.MasterPlaylistName, 0, -1)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("look for an earlier transcode: %w", err)
	}
	defer r.Close()
	master, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return false, fmt.Errorf("look for an earlier transcode: %w", err)
	}
	for _, rd := range ladder {
		if !strings.Contains(string(master), rd.Name+"/") {
			return false, nil
		}
	}
	return true, nil
}

// publishStream moves the stream from the work prefix to its published place,
// with the content types and cache headers players and CDNs need. The
// master playlist goes last, so a published master never names a missing
// playlist.
func (c *chain) publishStream(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	work, err := c.d.Blobs.List(ctx, v.WorkPrefix())
	if err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("list transcoded files: %w", err)
	}
	if len(work) == 0 {
		if _, err := c.d.Blobs.Head(ctx, v.MasterPlaylistKey()); err == nil {
			return edustream.VideoUpdate{}, nil // an earlier attempt published and cleared
		}
		// The work files are gone (a cleanup ran, or storage lost them):
		// transcode again.
		return edustream.VideoUpdate{}, fmt.Errorf("video %d has no transcoded files to publish", v.ID)
	}
	slices.SortFunc(work, func(a, b edustream.BlobInfo) int {
		// Media playlists after their segments, the master last.
		return rankForPublish(a.Key) - rankForPublish(b.Key)
	})
	// What an earlier attempt published already is not copied again.
	published, err := c.d.Blobs.List(ctx, v.HLSPrefix())
	if err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("list published files: %w", err)
	}
	sizes := make(map[string]int64, len(published))
	for _, b := range published {
		sizes[b.Key] = b.Size
	}
	for _, b := range work {
		rel := strings.TrimPrefix(b.Key, v.WorkPrefix())
		if size, ok := sizes[v.HLSPrefix()+rel]; ok && size == b.Size && rankForPublish(b.Key) == 0 {
			continue // a segment; playlists are copied again, they are small
		}
		if err := c.d.Blobs.Copy(ctx, b.Key, v.HLSPrefix()+rel, blobMeta(rel)); err != nil {
			return edustream.VideoUpdate{}, fmt.Errorf("publish %s: %w", rel, err)
		}
		run.published += b.Size
	}
	if err := edustream.DeleteBlobPrefix(ctx, c.d.Blobs, v.WorkPrefix()); err != nil {
		return edustream.VideoUpdate{}, err
	}
	return edustream.VideoUpdate{}, nil
}

func rankForPublish(key string) int {
	switch {
	case path.Base(key) == edustream.MasterPlaylistName:
		return 2
	case strings.HasSuffix(key, ".m3u8"):
		return 1
	}
	return 0
}

// thumbnails makes the poster and the storyboard from a published
// rendition (never the source: the transcode was the one step to read
// it), read through a loopback server: the smallest rendition as wide as
// the poster, or the largest. Outputs found complete (the track is stored
// last) are kept.
func (c *chain) thumbnails(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	if v.TranscoderJobID != "" {
		return c.thumbnailsFromCaptures(ctx, run)
	}
	if _, err := c.d.Blobs.Head(ctx, v.StoryboardVTTKey()); err == nil {
		edustream.Logger(ctx).Info("an earlier attempt made the thumbnails; keeping them")
		return edustream.VideoUpdate{}, nil
	} else if edustream.ErrorCode(err) != edustream.ENOTFOUND {
		return edustream.VideoUpdate{}, fmt.Errorf("look for earlier thumbnails: %w", err)
	}
	rendition, ok := thumbnailRendition(v)
	if !ok {
		return edustream.VideoUpdate{}, fmt.Errorf("video %d has no rendition to make thumbnails from", v.ID)
	}
	noteRendition(ctx, rendition)
	srv, err := serveBlobs(ctx, c.d.Blobs, v.HLSPrefix())
	if err != nil {
		return edustream.VideoUpdate{}, err
	}
	defer srv.close()
	out := filepath.Join(run.dir, "thumbs")
	if err := os.Mkdir(out, 0o700); err != nil {
		return edustream.VideoUpdate{}, err
	}
	if err := c.d.Media.Thumbnails(ctx, srv.URL()+rendition.Name+"/index.m3u8", v.Media, out); err != nil {
		return edustream.VideoUpdate{}, err
	}
	// The track last: it says the others are there.
	for _, f := range []struct{ name, key string }{
		{edustream.PosterFileName, v.PosterKey()},
		{edustream.StoryboardSpriteFileName, v.StoryboardSpriteKey()},
		{edustream.StoryboardVTTFileName, v.StoryboardVTTKey()},
	} {
		if err := c.putFile(ctx, filepath.Join(out, f.name), f.key); err != nil {
			return edustream.VideoUpdate{}, err
		}
	}
	return edustream.VideoUpdate{}, nil
}

// thumbnailRendition picks the rendition the thumbnails are made from:
// the smallest at least as wide as the poster, or else the largest.
func thumbnailRendition(v *edustream.Video) (edustream.Rendition, bool) {
	if len(v.Renditions) == 0 || v.Media == nil {
		return edustream.Rendition{}, false
	}
	posterWidth, _ := edustream.PosterSize(v.Media.Width, v.Media.Height)
	var wide, largest *edustream.Rendition
	for i := range v.Renditions {
		r := &v.Renditions[i]
		if r.Width >= posterWidth && (wide == nil || r.Width < wide.Width) {
			wide = r
		}
		if largest == nil || r.Width > largest.Width {
			largest = r
		}
	}
	best := cmp.Or(wide, largest)
	return *best, true
}

// Metadata is the JSON sidecar published next to a video's outputs, for
// tools that read the bucket without the database.
type Metadata struct {
	VideoID    int64                 `json:"videoId"`
	LectureID  int64                 `json:"lectureId"`
	FileName   string                `json:"fileName"`
	Source     *edustream.MediaInfo  `json:"source"`
	Renditions []edustream.Rendition `json:"renditions"`
	Master     string                `json:"master"`
	Poster     string                `json:"poster"`
	Storyboard struct {
		Sprite string `json:"sprite"`
		VTT    string `json:"vtt"`
	} `json:"storyboard"`
	CreatedAt time.Time `json:"createdAt"`
}

// metadata writes the sidecar, unless an earlier attempt did.
func (c *chain) metadata(ctx context.Context, run *stepRun) (edustream.VideoUpdate, error) {
	v := run.video
	if _, err := c.d.Blobs.Head(ctx, v.MetadataKey()); err == nil {
		edustream.Logger(ctx).Info("an earlier attempt wrote the metadata; keeping it")
		return edustream.VideoUpdate{}, nil
	} else if edustream.ErrorCode(err) != edustream.ENOTFOUND {
		return edustream.VideoUpdate{}, fmt.Errorf("look for earlier metadata: %w", err)
	}
	m := Metadata{
		VideoID:    v.ID,
		LectureID:  v.LectureID,
		FileName:   v.FileName,
		Source:     v.Media,
		Renditions: v.Renditions,
		Master:     v.MasterPlaylistKey(),
		Poster:     v.PosterKey(),
		CreatedAt:  v.CreatedAt,
	}
	m.Storyboard.Sprite, m.Storyboard.VTT = v.StoryboardSpriteKey(), v.StoryboardVTTKey()
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return edustream.VideoUpdate{}, err
	}
	if err := c.d.Blobs.Put(ctx, v.MetadataKey(), strings.NewReader(string(body)), int64(len(body)), blobMeta("metadata.json")); err != nil {
		return edustream.VideoUpdate{}, fmt.Errorf("write metadata: %w", err)
	}
	return edustream.VideoUpdate{}, nil
}

// cleanup deletes a replaced video's outputs, then its row.
func (c *chain) cleanup(ctx context.Context, p VideoPayload) error {
	v, err := c.d.Videos.FindVideoByID(ctx, p.VideoID)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	return c.d.Life.Remove(ctx, v)
}

// progressReporter returns the transcoder's progress callback: events at
// most every progressEventEvery, the database every progressStoreEvery.
func (c *chain) progressReporter(ctx context.Context, v *edustream.Video, ladder []edustream.Rendition) func(edustream.TranscodeProgress) {
	names := make([]string, len(ladder))
	for i, r := range ladder {
		names[i] = r.Name
	}
	what := strings.Join(names, "/")
	var lastEvent, lastStore time.Time
	var lastFraction float64
	return func(p edustream.TranscodeProgress) {
		now := c.d.Now()
		if p.Fraction <= lastFraction || now.Sub(lastEvent) < progressEventEvery {
			return
		}
		lastEvent, lastFraction = now, p.Fraction
		store := now.Sub(lastStore) >= progressStoreEvery
		if store {
			lastStore = now
		}
		err := c.d.Life.Progress(ctx, v, edustream.StepProgress{
			Fraction: p.Fraction,
			Message:  fmt.Sprintf("transcoding %s: %.0f %%", what, p.Fraction*100),
			ETA:      p.ETA,
			Store:    store,
		})
		if err != nil {
			edustream.Logger(ctx).Warn("report transcode progress", slog.String("error", err.Error()))
		}
		// For the wait of the videos queued behind this one
		// (VideoQueueWait).
		if err := writeStepETA(ctx, p.ETA, time.Now()); err != nil {
			edustream.Logger(ctx).Warn("record the transcode's ETA", slog.String("error", err.Error()))
		}
		if store {
			// The waiting videos' subscribers read their wait again
			// (at most once a second each): every few seconds is
			// enough for an ETA that falls as this one runs.
			c.announceQueueMoved(ctx)
		}
	}
}

func (c *chain) announceQueueMoved(ctx context.Context) {
	if c.d.Events == nil {
		return
	}
	if err := c.d.Events.PublishEvent(ctx, edustream.Event{Topic: edustream.VideoQueueTopic, QueueMoved: &struct{}{}}); err != nil {
		edustream.Logger(ctx).Warn("publish queue event", slog.String("error", err.Error()))
	}
}

// fetchSource downloads the video's source into the attempt's directory.
func (c *chain) fetchSource(ctx context.Context, run *stepRun) (string, error) {
	dst := filepath.Join(run.dir, "source")
	r, err := c.d.Blobs.Get(ctx, run.video.SourceKey(), 0, -1)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return "", errSourceMissing
	} else if err != nil {
		return "", fmt.Errorf("fetch source: %w", err)
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	// One byte past the limit is enough to know it is too big.
	limit := c.d.Limits.MaxUploadBytes
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fetch source: %w", err)
	}
	if n > limit {
		return "", edustream.Errorf(edustream.EINVALID, "the file is larger than the %s limit", edustream.FormatBytes(limit))
	}
	return dst, nil
}

// putDir uploads every file under dir to prefix + its relative path, the
// file named last (if any) after all the others.
func (c *chain) putDir(ctx context.Context, dir, prefix, last string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || filepath.ToSlash(rel) == last {
			return err
		}
		return c.putFile(ctx, p, prefix+filepath.ToSlash(rel))
	})
	if err != nil || last == "" {
		return err
	}
	return c.putFile(ctx, filepath.Join(dir, filepath.FromSlash(last)), prefix+last)
}

func (c *chain) putFile(ctx context.Context, file, key string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := c.d.Blobs.Put(ctx, key, f, st.Size(), blobMeta(key)); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Published outputs are private: they never change, but only those who may
// watch the lecture get (signed) URLs to them. See edustream.CacheControlPrivate;
// the API rewrites playlists with signed URLs on every request, and those
// answers are not cached at all (see the server's playback handler).

// blobMeta returns the metadata a published file is served with, from its
// name.
func blobMeta(name string) edustream.BlobMeta {
	ct := map[string]string{
		".m3u8": "application/vnd.apple.mpegurl",
		".ts":   "video/mp2t",
		".m4s":  "video/iso.segment",
		".mp4":  "video/mp4",
		".aac":  "audio/aac",
		".jpg":  "image/jpeg",
		".vtt":  "text/vtt; charset=utf-8",
		".json": "application/json",
	}[path.Ext(name)]
	if ct == "" {
		ct = "application/octet-stream"
	}
	return edustream.BlobMeta{ContentType: ct, CacheControl: edustream.CacheControlPrivate}
}
