package graph

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph/model"
)

// DefaultUploadTTL is how long an upload's part URLs stay valid, and after
// which an upload that was never completed is aborted.
const DefaultUploadTTL = 24 * time.Hour

// The helpers of the video resolvers. Access follows the lecture: whoever
// sees the lecture sees that it has a video and where it is in the chain;
// playing it (and following its encoding) needs CanWatchLecture; the
// uploader's details (file name, failure reason) are for those who may edit.

// lectureAccess is what the caller may do with a lecture's videos.
type lectureAccess struct {
	lecture *edustream.Lecture
	course  *edustream.Course
	watch   bool
	edit    bool
}

// accessToLecture loads the lecture (NOT_FOUND if the caller may not see it)
// and decides what the caller may do with its videos.
func (r *Resolver) accessToLecture(ctx context.Context, lectureID int64) (*lectureAccess, error) {
	l, err := r.visibleLecture(ctx, lectureID)
	if err != nil {
		return nil, err
	}
	c, err := r.visibleCourse(ctx, l.CourseID)
	if err != nil {
		return nil, err
	}
	u := edustream.UserFromContext(ctx)
	a := &lectureAccess{lecture: l, course: c, edit: edustream.CanEditCourse(u, c)}
	a.watch = a.edit
	if !a.watch && u != nil {
		e, err := loadersFrom(ctx).enrollments.Load(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		a.watch = edustream.CanWatchLecture(u, c, e != nil)
	}
	return a, nil
}

// playbackURL returns one of a READY video's URLs for a caller who may watch
// it, and nil for everyone else: no error, since the rest of the video is
// theirs to see.
func (r *Resolver) playbackURL(ctx context.Context, v *edustream.Video, url func(edustream.PlaybackURLs, context.Context, *edustream.Video) (string, error)) (*string, error) {
	if v.Status != edustream.VideoReady || r.Playback == nil {
		return nil, nil
	}
	a, err := r.accessToLecture(ctx, v.LectureID)
	if err != nil || !a.watch {
		return nil, err
	}
	s, err := url(r.Playback, ctx, v)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// editorsOnly returns s for a caller who may edit the video's lecture.
func (r *Resolver) editorsOnly(ctx context.Context, v *edustream.Video, s string) (*string, error) {
	a, err := r.accessToLecture(ctx, v.LectureID)
	if err != nil || !a.edit || s == "" {
		return nil, err
	}
	return &s, nil
}

// currentVideo is Lecture.video: the one that plays, or else the newest.
func (r *Resolver) currentVideo(ctx context.Context, l *edustream.Lecture) (*edustream.Video, error) {
	if l.VideoID != nil {
		v, err := loadersFrom(ctx).videos.Load(ctx, *l.VideoID)
		return v, notFoundAs(err, nil)
	}
	return loadersFrom(ctx).latestVideos.Load(ctx, l.ID)
}

// nextVideo is Lecture.nextVideo: a newer upload than the one that plays.
func (r *Resolver) nextVideo(ctx context.Context, l *edustream.Lecture) (*edustream.Video, error) {
	if l.VideoID == nil {
		return nil, nil
	}
	v, err := loadersFrom(ctx).latestVideos.Load(ctx, l.ID)
	if err != nil || v == nil || v.ID == *l.VideoID {
		return nil, err
	}
	return v, nil
}

// createVideoUpload opens an upload of a new video for the lecture.
func (r *Resolver) createVideoUpload(ctx context.Context, input model.CreateVideoUploadInput) (*model.VideoUpload, error) {
	if edustream.UserFromContext(ctx) == nil {
		return nil, errUnauthenticated()
	}
	l, err := r.editableLecture(ctx, input.LectureID)
	if err != nil {
		return nil, err
	}
	if err := r.videoLimits().ValidateUpload(input.FileName, input.ContentType, input.SizeBytes); err != nil {
		return nil, err
	}
	ttl := r.UploadTTL
	if ttl <= 0 {
		ttl = DefaultUploadTTL
	}
	v := &edustream.Video{
		LectureID:       l.ID,
		UploaderID:      edustream.UserFromContext(ctx).ID,
		FileName:        input.FileName,
		ContentType:     input.ContentType,
		SizeBytes:       input.SizeBytes,
		UploadExpiresAt: time.Now().Add(ttl),
	}
	if err := r.VideoService.CreateVideo(ctx, v); err != nil {
		return nil, err
	}
	uploadID, err := r.BlobStore.CreateMultipartUpload(ctx, v.SourceKey(), input.ContentType)
	if err != nil {
		// The row stays AWAITING_UPLOAD without an upload; the expiry
		// reconciler marks it failed. The caller may simply try again.
		return nil, fmt.Errorf("start the upload of video %d: %w", v.ID, err)
	}
	if v, err = r.VideoService.TransitionVideo(ctx, v.ID, edustream.VideoAwaitingUpload, edustream.StageUpload,
		edustream.VideoUpdate{UploadID: &uploadID}); err != nil {
		return nil, err
	}
	partSize := edustream.PartSize(v.SizeBytes)
	up := &model.VideoUpload{ID: v.ID, PartSize: partSize, ExpiresAt: v.UploadExpiresAt, Video: v}
	for n := 1; n <= edustream.PartCount(v.SizeBytes, partSize); n++ {
		url, err := r.BlobStore.PresignUploadPart(ctx, v.SourceKey(), uploadID, n, ttl)
		if err != nil {
			return nil, fmt.Errorf("presign part %d of video %d: %w", n, v.ID, err)
		}
		up.Parts = append(up.Parts, &model.UploadPart{PartNumber: n, URL: url})
	}
	return up, nil
}

// completeVideoUpload finishes an upload and starts the chain. It is safe to
// call any number of times, concurrently: the blob store completes the
// upload, one conditional update wins the move to UPLOADED, and the probe
// task's fixed id collapses the enqueues.
func (r *Resolver) completeVideoUpload(ctx context.Context, input model.CompleteVideoUploadInput) (*edustream.Video, error) {
	if edustream.UserFromContext(ctx) == nil {
		return nil, errUnauthenticated()
	}
	v, err := r.VideoService.FindVideoByID(ctx, input.UploadID)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "upload %d not found", input.UploadID)
	} else if err != nil {
		return nil, err
	}
	if _, err := r.editableLecture(ctx, v.LectureID); err != nil {
		if edustream.ErrorCode(err) == edustream.ENOTFOUND {
			return nil, edustream.Errorf(edustream.ENOTFOUND, "upload %d not found", input.UploadID)
		}
		return nil, err
	}
	if done, err := r.alreadyCompleted(ctx, v); done || err != nil {
		return v, err
	}
	parts, err := checkParts(v, input.Parts)
	if err != nil {
		return nil, err
	}
	if err := r.BlobStore.CompleteMultipartUpload(ctx, v.SourceKey(), v.UploadID, parts); err != nil {
		switch edustream.ErrorCode(err) {
		case edustream.ENOTFOUND:
			// A concurrent call completed it a moment ago, or it was
			// aborted; the row says which.
			if v, err = r.VideoService.FindVideoByID(ctx, v.ID); err != nil {
				return nil, err
			}
			if done, err := r.alreadyCompleted(ctx, v); done || err != nil {
				return v, err
			}
			return nil, edustream.Errorf(edustream.ECONFLICT, "upload %d is no longer open; start a new upload", v.ID)
		case edustream.EINVALID:
			// The parts are not what was uploaded: the bytes cannot be
			// trusted, so the upload ends here.
			reason := "the upload did not complete: " + edustream.ErrorMessage(err)
			r.failUpload(ctx, v, reason)
			return nil, edustream.Errorf(edustream.EINVALID, "%s", reason)
		}
		return nil, fmt.Errorf("complete the upload of video %d: %w", v.ID, err)
	}
	info, err := r.BlobStore.Head(ctx, v.SourceKey())
	if err != nil {
		return nil, fmt.Errorf("check the upload of video %d: %w", v.ID, err)
	}
	if limit := r.videoLimits().MaxUploadBytes; info.Size > limit {
		reason := fmt.Sprintf("the file is %s; uploads may be at most %s", edustream.FormatBytes(info.Size), edustream.FormatBytes(limit))
		r.failUpload(ctx, v, reason)
		return nil, edustream.Errorf(edustream.EINVALID, "%s", reason)
	}
	uploaded, probe := edustream.VideoUploaded, edustream.StageProbe
	moved, err := r.VideoService.TransitionVideo(ctx, v.ID, edustream.VideoAwaitingUpload, edustream.StageUpload,
		edustream.VideoUpdate{Status: &uploaded, Stage: &probe})
	if edustream.ErrorCode(err) == edustream.ECONFLICT {
		// A concurrent call won the move.
		if v, err = r.VideoService.FindVideoByID(ctx, v.ID); err != nil {
			return nil, err
		}
		done, err := r.alreadyCompleted(ctx, v)
		if !done && err == nil {
			err = edustream.Errorf(edustream.ECONFLICT, "upload %d is no longer open; start a new upload", v.ID)
		}
		return v, err
	} else if err != nil {
		return nil, err
	}
	r.announce(ctx, moved)
	r.enqueueStage(ctx, moved)
	return moved, nil
}

// alreadyCompleted reports whether v's upload is past completion, in which
// case completing again returns v (after making sure its step is queued),
// or refuses with the reason it cannot be.
func (r *Resolver) alreadyCompleted(ctx context.Context, v *edustream.Video) (bool, error) {
	switch {
	case v.ReplacedAt != nil:
		return true, edustream.Errorf(edustream.ECONFLICT, "upload %d was replaced by a newer upload", v.ID)
	case v.Status == edustream.VideoAwaitingUpload:
		if v.UploadID == "" {
			return true, edustream.Errorf(edustream.ECONFLICT, "upload %d was never opened; start a new upload", v.ID)
		}
		return false, nil
	case v.Status == edustream.VideoFailed && v.Stage == edustream.StageUpload:
		return true, edustream.Errorf(edustream.ECONFLICT, "upload %d failed: %s", v.ID, v.Error)
	}
	r.enqueueStage(ctx, v)
	return true, nil
}

// checkParts validates the part list against the upload's size before the
// blob store sees it: every part once, in order, none missing.
func checkParts(v *edustream.Video, in []*model.CompletedPart) ([]edustream.UploadPart, error) {
	want := edustream.PartCount(v.SizeBytes, edustream.PartSize(v.SizeBytes))
	if len(in) != want {
		return nil, edustream.Errorf(edustream.EINVALID, "upload %d has %d parts; %d were listed", v.ID, want, len(in))
	}
	parts := make([]edustream.UploadPart, len(in))
	for i, p := range in {
		switch {
		case p.PartNumber != i+1:
			return nil, edustream.Errorf(edustream.EINVALID, "parts must be listed in order 1..%d; got part %d at place %d", want, p.PartNumber, i+1)
		case p.Etag == "" || len(p.Etag) > 200:
			return nil, edustream.Errorf(edustream.EINVALID, "part %d needs the ETag its upload answered with", p.PartNumber)
		}
		parts[i] = edustream.UploadPart{PartNumber: p.PartNumber, ETag: p.Etag}
	}
	return parts, nil
}

// failUpload ends an upload that cannot complete: the parts are discarded
// and the video says why.
func (r *Resolver) failUpload(ctx context.Context, v *edustream.Video, reason string) {
	log := edustream.Logger(ctx).With(slog.Int64("video_id", v.ID))
	if err := r.BlobStore.AbortMultipartUpload(ctx, v.SourceKey(), v.UploadID); err != nil {
		log.Warn("abort a refused upload", slog.String("error", err.Error()))
	}
	if err := r.BlobStore.Delete(ctx, v.SourceKey()); err != nil {
		log.Warn("delete a refused upload", slog.String("error", err.Error()))
	}
	failed := edustream.VideoFailed
	moved, err := r.VideoService.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &failed, Error: &reason})
	if err != nil {
		log.Warn("record a refused upload", slog.String("error", err.Error()))
		return
	}
	r.announce(ctx, moved)
}

// retryVideo runs the lecture's newest video again from the step it failed
// at.
func (r *Resolver) retryVideo(ctx context.Context, lectureID int64) (*edustream.Video, error) {
	if _, err := r.editableLecture(ctx, lectureID); err != nil {
		return nil, err
	}
	latest, err := r.VideoService.FindLatestVideosByLectureIDs(ctx, []int64{lectureID})
	if err != nil {
		return nil, err
	}
	v := latest[lectureID]
	switch {
	case v == nil:
		return nil, edustream.Errorf(edustream.ENOTFOUND, "lecture %d has no video", lectureID)
	case v.Status != edustream.VideoFailed:
		return nil, edustream.Errorf(edustream.ECONFLICT, "only a failed video can be retried; the video is %s", v.Status)
	case v.Stage == edustream.StageUpload:
		return nil, edustream.Errorf(edustream.ECONFLICT, "the upload itself failed (%s); upload the file again", v.Error)
	}
	uploaded, cleared := edustream.VideoUploaded, ""
	moved, err := r.VideoService.TransitionVideo(ctx, v.ID, edustream.VideoFailed, v.Stage, edustream.VideoUpdate{Status: &uploaded, Error: &cleared})
	if err != nil {
		return nil, err
	}
	r.announce(ctx, moved)
	r.enqueueStage(ctx, moved)
	return moved, nil
}

// enqueueStage queues the video's step. Failing here loses nothing: the
// video is in the database, and the reconciler enqueues what Redis lacks.
func (r *Resolver) enqueueStage(ctx context.Context, v *edustream.Video) {
	if v.Status != edustream.VideoUploaded && v.Status != edustream.VideoProcessing {
		return
	}
	if err := r.JobQueue.EnqueueVideoStage(ctx, v.ID, v.Stage); err != nil {
		edustream.Logger(ctx).Warn("enqueue a video step; the reconciler will retry",
			slog.Int64("video_id", v.ID), slog.String("stage", string(v.Stage)), slog.String("error", err.Error()))
	}
}

// announce tells subscribers where v is. Best effort: a subscriber who
// misses it reads the database.
func (r *Resolver) announce(ctx context.Context, v *edustream.Video) {
	if r.Events == nil {
		return
	}
	e := edustream.Event{Topic: edustream.EncodingTopic(v.LectureID), Encoding: edustream.EncodingEventOf(v, time.Now())}
	if err := r.Events.PublishEvent(ctx, e); err != nil {
		edustream.Logger(ctx).Warn("publish encoding event", slog.String("error", err.Error()))
	}
}

func (r *Resolver) videoLimits() edustream.VideoLimits {
	if r.VideoLimits == (edustream.VideoLimits{}) {
		return edustream.DefaultVideoLimits()
	}
	return r.VideoLimits
}

func renditionsOf(v *edustream.Video) []*edustream.Rendition {
	out := make([]*edustream.Rendition, len(v.Renditions))
	for i := range v.Renditions {
		out[i] = &v.Renditions[i]
	}
	return out
}
