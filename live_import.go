package edustream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// RecordingFormatMP4 is the one recording format the video pipeline reads;
// Webex's ARF needs Webex's own player.
const RecordingFormatMP4 = "MP4"

// recordingUploadPrefix marks the video of an imported recording: its
// "upload" is the import, not a multipart upload of the blob store (whose
// abort ignores an id it does not know).
const recordingUploadPrefix = "webex-recording:"

// RecordingLectureTitle is the title of the lecture made from a session's
// recording.
func RecordingLectureTitle(sessionTitle string) string { return sessionTitle + " (recording)" }

// ImportRecording turns a Webex recording of a session's meeting into a
// lecture of the session's course: it creates the lecture "<title>
// (recording)", stores the recording's file as the lecture's video source
// as if it had been uploaded (downloaded as a stream, within the upload
// limit) and starts the video pipeline, then links the session to the
// lecture.
//
// Every step records its outcome, so a repeated or resumed import (a
// duplicate delivery, a retried task) creates one lecture and one chain.
// A recording of a meeting no session owns is ignored. EINVALID for a
// recording that cannot become a lecture (not MP4, too large); ENOTFOUND
// when it was deleted in Webex or the course is gone.
func (l *LiveClasses) ImportRecording(ctx context.Context, recordingID string) error {
	if !l.Enabled() {
		return fmt.Errorf("import recording %s: live classes are not configured", recordingID)
	}
	log := Logger(ctx).With(slog.String("recording_id", recordingID))
	ctx = NewContextWithLogger(ctx, log)
	rec, err := l.Meetings.GetRecording(ctx, recordingID)
	if err != nil {
		return fmt.Errorf("get recording %s: %w", recordingID, err)
	}
	s, err := l.Sessions.FindLiveSessionByMeeting(ctx, rec.SeriesID, "")
	if ErrorCode(err) == ENOTFOUND {
		log.Info("recording of a meeting no live session owns")
		return nil
	} else if err != nil {
		return err
	}
	if !strings.EqualFold(rec.Format, RecordingFormatMP4) {
		return Errorf(EINVALID, "recording %s is in %s format; only MP4 recordings can become lectures", rec.ID, rec.Format)
	}
	claim, err := l.Sessions.ClaimLiveRecording(ctx, &LiveRecording{RecordingID: rec.ID, SessionID: s.ID}, &Lecture{
		CourseID:    s.CourseID,
		Title:       RecordingLectureTitle(s.Title),
		Description: "The recording of the live class of " + s.StartsAt.UTC().Format("2 January 2006, 15:04 MST") + ".",
	})
	if err != nil {
		return fmt.Errorf("claim recording %s for live session %d: %w", rec.ID, s.ID, err)
	}
	if claim.ImportedAt == nil {
		// The claim made the lecture (or a repeat found it unfinished):
		// shared reads of the course show it.
		l.publish(ctx, Event{Topic: ContentTopic, Content: &ContentChange{CourseID: s.CourseID, LectureID: claim.LectureID}})
		if err := l.storeRecording(ctx, s, claim, rec); err != nil {
			return err
		}
	}
	linked, changed, err := l.Sessions.SetRecordingLecture(ctx, s.ID, claim.LectureID)
	if err != nil {
		return fmt.Errorf("link live session %d to lecture %d: %w", s.ID, claim.LectureID, err)
	}
	if changed {
		l.announce(ctx, linked)
	}
	return nil
}

// storeRecording makes the claim's video, fills its source with the
// recording and starts the chain.
func (l *LiveClasses) storeRecording(ctx context.Context, s *LiveSession, claim *LiveRecording, rec *MeetingRecording) error {
	up := l.Uploads
	limit := up.limits().MaxUploadBytes
	if rec.SizeBytes > limit {
		return Errorf(EINVALID, "recording %s is %s; uploads may be at most %s", rec.ID, FormatBytes(rec.SizeBytes), FormatBytes(limit))
	}
	videoID := claim.VideoID
	if videoID == 0 {
		ttl := up.TTL
		if ttl <= 0 {
			ttl = DefaultUploadTTL
		}
		v := &Video{
			LectureID:       claim.LectureID,
			UploaderID:      s.CreatorID,
			FileName:        "webex-recording-" + rec.ID + ".mp4",
			ContentType:     "video/mp4",
			SizeBytes:       max(rec.SizeBytes, 0),
			UploadID:        recordingUploadPrefix + rec.ID,
			UploadExpiresAt: up.now().Add(ttl),
		}
		if err := up.Life.Create(ctx, v); err != nil {
			return fmt.Errorf("create the video of recording %s: %w", rec.ID, err)
		}
		if err := l.Sessions.SetLiveRecordingVideo(ctx, rec.ID, v.ID); err != nil {
			return fmt.Errorf("record the video of recording %s: %w", rec.ID, err)
		}
		videoID = v.ID
	}
	v, err := up.videos().FindVideoByID(ctx, videoID)
	if err != nil {
		return err
	}
	if v.Status == VideoAwaitingUpload {
		if err := l.download(ctx, rec.ID, v, limit); err != nil {
			return err
		}
	}
	if _, err := up.Stored(ctx, v.ID); err != nil {
		return fmt.Errorf("start the chain of recording %s: %w", rec.ID, err)
	}
	return l.Sessions.MarkLiveRecordingImported(ctx, rec.ID)
}

// download streams the recording into v's source key. A body of unknown
// length is spooled to a temporary file first, since the blob store needs
// the size up front; either way no more than limit bytes are read.
func (l *LiveClasses) download(ctx context.Context, recordingID string, v *Video, limit int64) error {
	body, size, err := l.Meetings.OpenRecording(ctx, recordingID)
	if err != nil {
		return fmt.Errorf("download recording %s: %w", recordingID, err)
	}
	defer body.Close()
	tooLarge := Errorf(EINVALID, "recording %s is larger than the %s upload limit", recordingID, FormatBytes(limit))
	var src io.Reader = io.LimitReader(body, size+1)
	if size > limit {
		return tooLarge
	}
	if size < 0 {
		f, err := os.CreateTemp(l.TempDir, "recording-*.mp4")
		if err != nil {
			return fmt.Errorf("spool recording %s: %w", recordingID, err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if size, err = io.Copy(f, io.LimitReader(body, limit+1)); err != nil {
			return fmt.Errorf("download recording %s: %w", recordingID, err)
		}
		if size > limit {
			return tooLarge
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("spool recording %s: %w", recordingID, err)
		}
		src = f
	}
	meta := BlobMeta{ContentType: "video/mp4"}
	if err := l.Uploads.Blobs.Put(ctx, v.SourceKey(), src, size, meta); err != nil {
		return fmt.Errorf("store recording %s as video %d: %w", recordingID, v.ID, err)
	}
	Logger(ctx).Info("stored a recording as a lecture video", slog.Int64("video_id", v.ID), slog.Int64("bytes", size))
	return nil
}
