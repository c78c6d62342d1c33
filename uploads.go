package edustream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// DefaultUploadTTL is how long an upload's part URLs stay valid, and after
// which an upload that was never completed is aborted.
const DefaultUploadTTL = 24 * time.Hour

// Uploads is the upload flow, shared by every way in: the GraphQL mutations
// and, on AWS, the S3 event saying an upload's object exists. Callers decide
// who may upload (CanEditCourse); Uploads does the rest. It only uses the
// domain's interfaces, so it lives here rather than in one adapter.
//
// Every step is safe to repeat and to race: one conditional update wins each
// move of the video, and the chain's task ids collapse repeated enqueues, so
// however many completions arrive (a client retrying, an S3 event, both),
// there is one chain.
type Uploads struct {
	// Life makes every move of the videos; its Videos are read here too.
	Life   *VideoLifecycle
	Blobs  BlobStore
	Limits VideoLimits
	// TTL is how long an upload stays open (0: DefaultUploadTTL).
	TTL time.Duration
}

// Upload is an open upload: where to PUT each part.
type Upload struct {
	Video    *Video
	PartSize int64
	// PartURLs[i] takes part i+1.
	PartURLs  []string
	ExpiresAt time.Time
}

func (u *Uploads) now() time.Time { return u.Life.now() }

func (u *Uploads) videos() VideoService { return u.Life.Videos }

func (u *Uploads) limits() VideoLimits { return u.Limits.WithDefaults() }

// Create opens an upload of a new video for the lecture by uploader. The
// lecture's open upload, if any, is cancelled first (see replaceOpenUpload):
// a lecture has one at a time. Each part URL takes exactly its part's
// bytes. A video of the lecture being processed is stopped
// (VideoLifecycle.Create). EINVALID for a file the limits refuse.
func (u *Uploads) Create(ctx context.Context, uploaderID, lectureID int64, fileName, contentType string, size int64) (*Upload, error) {
	if err := u.limits().ValidateUpload(fileName, contentType, size); err != nil {
		return nil, err
	}
	if size > MaxMultipartSize {
		return nil, Errorf(EINVALID, "the file is %s; an upload holds at most %s", FormatBytes(size), FormatBytes(MaxMultipartSize))
	}
	if err := u.replaceOpenUpload(ctx, lectureID); err != nil {
		return nil, err
	}
	ttl := u.ttl()
	v := &Video{
		LectureID:       lectureID,
		UploaderID:      uploaderID,
		FileName:        fileName,
		ContentType:     contentType,
		SizeBytes:       size,
		UploadExpiresAt: u.now().Add(ttl),
	}
	if err := u.Life.Create(ctx, v); err != nil {
		return nil, err
	}
	uploadID, err := u.Blobs.CreateMultipartUpload(ctx, v.SourceKey(), contentType)
	if err != nil {
		// The row stays AWAITING_UPLOAD without an upload; the expiry
		// reconciler marks it failed. The caller may simply try again.
		return nil, fmt.Errorf("start the upload of video %d: %w", v.ID, err)
	}
	if v, err = u.Life.OpenUpload(ctx, v, uploadID); err != nil {
		return nil, err
	}
	up := &Upload{Video: v, PartSize: PartSize(size), ExpiresAt: v.UploadExpiresAt}
	for n := 1; n <= PartCount(size, up.PartSize); n++ {
		url, err := u.Blobs.PresignUploadPart(ctx, v.SourceKey(), uploadID, n, PartLength(size, up.PartSize, n), ttl)
		if err != nil {
			return nil, fmt.Errorf("presign part %d of video %d: %w", n, v.ID, err)
		}
		up.PartURLs = append(up.PartURLs, url)
	}
	return up, nil
}

// replaceOpenUpload cancels the lecture's open upload, if it has one,
// before a new video of the lecture is created: the video ends FAILED
// (the table's cancel move) with a reason its uploader sees on their next
// completion, its storage upload is aborted, so its part URLs stop taking
// bytes at once, and an object a racing completion assembled is deleted.
// An upload that completes first is being processed instead, and the
// new one stops it (VideoLifecycle.Create).
func (u *Uploads) replaceOpenUpload(ctx context.Context, lectureID int64) error {
	latest, err := u.videos().FindLatestVideosByLectureIDs(ctx, []int64{lectureID})
	if err != nil {
		return err
	}
	old := latest[lectureID]
	if old == nil || old.Status != VideoAwaitingUpload || old.ReplacedAt != nil {
		return nil
	}
	if _, err := u.Life.Cancel(ctx, old, "a newer upload of the lecture was started; this one was cancelled"); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil // it moved on (completed, expired, replaced): nothing open to cancel
		}
		return fmt.Errorf("cancel the open upload %d: %w", old.ID, err)
	}
	if old.UploadID != "" {
		if err := u.Blobs.AbortMultipartUpload(ctx, old.SourceKey(), old.UploadID); err != nil {
			return fmt.Errorf("abort the upload of video %d: %w", old.ID, err)
		}
	}
	if err := u.Blobs.Delete(ctx, old.SourceKey()); err != nil {
		return fmt.Errorf("delete the source of cancelled upload %d: %w", old.ID, err)
	}
	return nil
}

// Complete finishes v's upload from the parts the client PUT and starts the
// chain. A part list that does not match what was uploaded ends the upload
// FAILED (EINVALID with the reason); a malformed list is EINVALID and leaves
// the upload open.
func (u *Uploads) Complete(ctx context.Context, v *Video, parts []UploadPart) (*Video, error) {
	if done, err := u.pastCompletion(ctx, v); done || err != nil {
		return v, err
	}
	if v.UploadID == "" {
		return nil, Errorf(ECONFLICT, "upload %d was never opened; start a new upload", v.ID)
	}
	if err := checkParts(v, parts); err != nil {
		return nil, err
	}
	if err := u.Blobs.CompleteMultipartUpload(ctx, v.SourceKey(), v.UploadID, parts); err != nil {
		switch ErrorCode(err) {
		case ENOTFOUND:
			// A concurrent call is completing it, or it was aborted.
			return u.awaitCompletion(ctx, v.ID)
		case EINVALID:
			// The parts are not what was uploaded: the bytes cannot be
			// trusted, so the upload ends here.
			reason := "the upload did not complete: " + ErrorMessage(err)
			u.fail(ctx, v, reason)
			return nil, Errorf(EINVALID, "%s", reason)
		}
		return nil, fmt.Errorf("complete the upload of video %d: %w", v.ID, err)
	}
	return u.stored(ctx, v)
}

// Stored moves a video whose source object exists to UPLOADED and starts
// the chain: what an S3 ObjectCreated event for the source key does, and
// the end of a recording's import. A video past that point is returned as
// it is (after making sure its step is queued). A source that is empty,
// over the limit, or of another size than the upload declared ends the
// video FAILED with the reason (EINVALID).
func (u *Uploads) Stored(ctx context.Context, videoID int64) (*Video, error) {
	v, err := u.videos().FindVideoByID(ctx, videoID)
	if err != nil {
		return nil, err
	}
	return u.stored(ctx, v)
}

// stored is Stored of v as the caller found it.
func (u *Uploads) stored(ctx context.Context, v *Video) (*Video, error) {
	if done, err := u.pastCompletion(ctx, v); done || err != nil {
		return v, err
	}
	info, err := u.Blobs.Head(ctx, v.SourceKey())
	if err != nil {
		return nil, fmt.Errorf("check the upload of video %d: %w", v.ID, err)
	}
	reason := ""
	switch limit := u.limits().MaxUploadBytes; {
	case info.Size == 0:
		reason = "the file is empty"
	case info.Size > limit:
		reason = fmt.Sprintf("the file is %s; uploads may be at most %s", FormatBytes(info.Size), FormatBytes(limit))
	case v.declaresSize() && info.Size != v.SizeBytes:
		reason = fmt.Sprintf("the uploaded file is %d bytes, but the upload declared %d bytes", info.Size, v.SizeBytes)
	}
	if reason != "" {
		u.fail(ctx, v, reason)
		return nil, Errorf(EINVALID, "%s", reason)
	}
	moved, err := u.Life.Stored(ctx, v)
	if ErrorCode(err) == ECONFLICT {
		return u.completedElsewhere(ctx, v.ID)
	}
	return moved, err
}

// declaresSize reports whether v's SizeBytes is a promise its source must
// keep: true for what a client or the server itself uploaded, false for
// an imported recording, whose size is the meeting service's report.
func (v *Video) declaresSize() bool {
	return v.SizeBytes > 0 && !strings.HasPrefix(v.UploadID, recordingUploadPrefix)
}

// Ingest stores a file the server itself fetched (a demo clip, a meeting's
// recording) as a new video of the lecture and starts the chain, as if it
// had been uploaded. The reader is consumed; size must be its length.
func (u *Uploads) Ingest(ctx context.Context, uploaderID, lectureID int64, fileName, contentType string, body io.Reader, size int64) (*Video, error) {
	if err := u.limits().ValidateUpload(fileName, contentType, size); err != nil {
		return nil, err
	}
	if err := u.replaceOpenUpload(ctx, lectureID); err != nil {
		return nil, err
	}
	v := &Video{
		LectureID:       lectureID,
		UploaderID:      uploaderID,
		FileName:        fileName,
		ContentType:     contentType,
		SizeBytes:       size,
		UploadExpiresAt: u.now().Add(u.ttl()),
	}
	if err := u.Life.Create(ctx, v); err != nil {
		return nil, err
	}
	if err := u.Blobs.Put(ctx, v.SourceKey(), body, size, BlobMeta{ContentType: contentType}); err != nil {
		// The row expires like an abandoned upload.
		return nil, fmt.Errorf("store the source of video %d: %w", v.ID, err)
	}
	return u.stored(ctx, v)
}

func (u *Uploads) ttl() time.Duration {
	if u.TTL <= 0 {
		return DefaultUploadTTL
	}
	return u.TTL
}

// completionWait bounds how long a completion that lost the race waits
// for the winner to finish assembling the object.
const completionWait = 30 * time.Second

// awaitCompletion answers a completion whose upload another call is
// completing: once the object exists, the video moves on (by whichever call
// gets there first) and the answer is the video; if the upload was aborted
// instead, the video never moves and the answer is ECONFLICT.
func (u *Uploads) awaitCompletion(ctx context.Context, videoID int64) (*Video, error) {
	ctx, cancel := context.WithTimeout(ctx, completionWait)
	defer cancel()
	for {
		v, err := u.videos().FindVideoByID(ctx, videoID)
		if err != nil {
			return nil, err
		}
		if v.Status != VideoAwaitingUpload {
			return u.completedElsewhere(ctx, videoID)
		}
		if _, err := u.Blobs.Head(ctx, v.SourceKey()); err == nil {
			return u.stored(ctx, v)
		} else if ErrorCode(err) != ENOTFOUND {
			return nil, fmt.Errorf("check the upload of video %d: %w", videoID, err)
		}
		select {
		case <-ctx.Done():
			return nil, Errorf(ECONFLICT, "upload %d is no longer open; start a new upload", videoID)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// completedElsewhere is the answer to a completion that lost a race: the
// video as the winner left it.
func (u *Uploads) completedElsewhere(ctx context.Context, videoID int64) (*Video, error) {
	v, err := u.videos().FindVideoByID(ctx, videoID)
	if err != nil {
		return nil, err
	}
	done, err := u.pastCompletion(ctx, v)
	if !done && err == nil {
		err = Errorf(ECONFLICT, "upload %d is no longer open; start a new upload", v.ID)
	}
	return v, err
}

// pastCompletion reports whether v's upload is past completion, in which
// case completing again returns v (after making sure its step is queued),
// or refuses with the reason it cannot be.
func (u *Uploads) pastCompletion(ctx context.Context, v *Video) (bool, error) {
	switch {
	case v.ReplacedAt != nil:
		return true, Errorf(ECONFLICT, "upload %d was replaced by a newer upload", v.ID)
	case v.Status == VideoAwaitingUpload:
		return false, nil
	case v.Status == VideoFailed && v.Stage == StageUpload:
		return true, Errorf(ECONFLICT, "upload %d failed: %s", v.ID, v.Error)
	}
	u.Life.Requeue(ctx, v)
	return true, nil
}

// checkParts validates the part list against the upload's size before the
// blob store sees it: every part once, in order, none missing.
func checkParts(v *Video, parts []UploadPart) error {
	want := PartCount(v.SizeBytes, PartSize(v.SizeBytes))
	if len(parts) != want {
		return Errorf(EINVALID, "upload %d has %d parts; %d were listed", v.ID, want, len(parts))
	}
	for i, p := range parts {
		switch {
		case p.PartNumber != i+1:
			return Errorf(EINVALID, "parts must be listed in order 1..%d; got part %d at place %d", want, p.PartNumber, i+1)
		case p.ETag == "" || len(p.ETag) > 200:
			return Errorf(EINVALID, "part %d needs the ETag its upload answered with", p.PartNumber)
		}
	}
	return nil
}

// fail ends an upload that cannot complete: the parts and any assembled
// object are discarded, and the video says why.
func (u *Uploads) fail(ctx context.Context, v *Video, reason string) {
	log := Logger(ctx).With(slog.Int64("video_id", v.ID))
	if err := u.Blobs.AbortMultipartUpload(ctx, v.SourceKey(), v.UploadID); err != nil {
		log.Warn("abort a refused upload", slog.String("error", err.Error()))
	}
	if err := u.Blobs.Delete(ctx, v.SourceKey()); err != nil {
		log.Warn("delete a refused upload", slog.String("error", err.Error()))
	}
	if _, err := u.Life.Fail(ctx, v, Errorf(EINVALID, "%s", reason)); err != nil {
		log.Warn("record a refused upload", slog.String("error", err.Error()))
	}
}

// Retry runs the lecture's newest video again from the step it failed at.
// ENOTFOUND without a video; ECONFLICT unless it FAILED after its upload.
func (u *Uploads) Retry(ctx context.Context, lectureID int64) (*Video, error) {
	latest, err := u.videos().FindLatestVideosByLectureIDs(ctx, []int64{lectureID})
	if err != nil {
		return nil, err
	}
	v := latest[lectureID]
	switch {
	case v == nil:
		return nil, Errorf(ENOTFOUND, "lecture %d has no video", lectureID)
	case v.Status != VideoFailed:
		return nil, Errorf(ECONFLICT, "only a failed video can be retried; the video is %s", v.Status)
	case v.Stage == StageUpload:
		return nil, Errorf(ECONFLICT, "the upload itself failed (%s); upload the file again", v.Error)
	}
	return u.Life.Retry(ctx, v)
}

// Expire ends an upload that was never completed: its parts are discarded,
// so they do not stay in storage, and the video says why. A video that is
// not an expired upload (completed at the last moment, or gone) is left
// alone.
func (u *Uploads) Expire(ctx context.Context, videoID int64) error {
	v, err := u.videos().FindVideoByID(ctx, videoID)
	if ErrorCode(err) == ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if v.Status != VideoAwaitingUpload || v.ReplacedAt != nil || u.now().Before(v.UploadExpiresAt) {
		return nil
	}
	if v.UploadID != "" {
		if err := u.Blobs.AbortMultipartUpload(ctx, v.SourceKey(), v.UploadID); err != nil {
			return fmt.Errorf("abort the upload of video %d: %w", v.ID, err)
		}
	}
	if _, err := u.Life.Expire(ctx, v); err != nil && ErrorCode(err) != ECONFLICT {
		return err
	}
	return nil
}
