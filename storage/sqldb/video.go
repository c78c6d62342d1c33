package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edustream/edustream"
)

// VideoService implements edustream.VideoService.
//
// Every change of a video's state is a conditional UPDATE on (status,
// stage), so two attempts of a step cannot both move it: the second matches
// no row and gets ECONFLICT. Changes that touch the lecture too (creating a
// video, completing one) lock the lecture row first, which serialises them
// per lecture.
type VideoService struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.VideoService = (*VideoService)(nil)

// NewVideoService returns a VideoService on db that stamps times with now
// (nil: time.Now).
func NewVideoService(db *DB, now edustream.Clock) *VideoService {
	return &VideoService{db: db, now: clockOrNow(now)}
}

const videoColumns = "v.id, v.lecture_id, v.uploader_id, v.status, v.stage, v.progress, v.error, v.version, " +
	"v.file_name, v.content_type, v.size_bytes, v.upload_id, v.upload_expires_at, v.media, v.renditions, " +
	"v.transcoder_job_id, v.created_at, v.updated_at, v.ready_at, v.replaced_at"

func scanVideo(s scanner) (*edustream.Video, error) {
	var v edustream.Video
	var media, renditions sql.NullString
	var ready, replaced sql.Null[time.Time]
	if err := s.Scan(&v.ID, &v.LectureID, &v.UploaderID, &v.Status, &v.Stage, &v.Progress, &v.Error, &v.Version,
		&v.FileName, &v.ContentType, &v.SizeBytes, &v.UploadID, &v.UploadExpiresAt, &media, &renditions,
		&v.TranscoderJobID, &v.CreatedAt, &v.UpdatedAt, &ready, &replaced); err != nil {
		return nil, err
	}
	if media.Valid && media.String != "" {
		v.Media = &edustream.MediaInfo{}
		if err := json.Unmarshal([]byte(media.String), v.Media); err != nil {
			return nil, fmt.Errorf("video %d media: %w", v.ID, err)
		}
	}
	if renditions.Valid && renditions.String != "" {
		if err := json.Unmarshal([]byte(renditions.String), &v.Renditions); err != nil {
			return nil, fmt.Errorf("video %d renditions: %w", v.ID, err)
		}
	}
	v.UploadExpiresAt, v.CreatedAt, v.UpdatedAt = v.UploadExpiresAt.UTC(), v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	v.ReadyAt, v.ReplacedAt = timePtr(ready), timePtr(replaced)
	return &v, nil
}

// jsonOrNull encodes v for a TEXT column; nil stays NULL.
func jsonOrNull(v any, isNil bool) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// lockLecture locks a lecture of a visible course for the rest of tx and
// returns its current video id. sql.ErrNoRows if there is none.
func (s *VideoService) lockLecture(ctx context.Context, tx handle, lectureID int64) (current sql.NullInt64, err error) {
	err = tx.queryRow(ctx, "SELECT l.video_id FROM lectures l JOIN courses c ON c.id = l.course_id AND c.deleted_at IS NULL WHERE l.id = ?"+
		s.db.dialect.forUpdate, lectureID).Scan(&current)
	return current, err
}

// CreateVideo inserts v as AWAITING_UPLOAD at StageUpload and sets its ID,
// version and timestamps. ENOTFOUND for a missing lecture (or one of a
// hidden course); ECONFLICT when the lecture's newest video is still being
// processed, since two chains for one lecture would race to replace each
// other. An older upload that was never completed is abandoned: it is
// marked replaced, and the cleanup aborts it.
func (s *VideoService) CreateVideo(ctx context.Context, v *edustream.Video) error {
	now := utcMicro(s.now())
	var id int64
	err := s.db.inTx(ctx, func(tx handle) error {
		if _, err := s.lockLecture(ctx, tx, v.LectureID); err != nil {
			return dbError(err, "lock", "lecture", v.LectureID)
		}
		var busy int
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM videos WHERE lecture_id = ? AND replaced_at IS NULL AND status IN (?, ?)",
			v.LectureID, edustream.VideoUploaded, edustream.VideoProcessing).Scan(&busy); err != nil {
			return err
		}
		if busy > 0 {
			return edustream.Errorf(edustream.ECONFLICT, "lecture %d has a video being processed; wait until it is ready or failed", v.LectureID)
		}
		if _, err := tx.exec(ctx, "UPDATE videos SET replaced_at = ?, updated_at = ? WHERE lecture_id = ? AND status = ? AND replaced_at IS NULL",
			now, now, v.LectureID, edustream.VideoAwaitingUpload); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `INSERT INTO videos (lecture_id, uploader_id, status, stage, progress, error, version,
  file_name, content_type, size_bytes, upload_id, upload_expires_at, transcoder_job_id, created_at, updated_at)
VALUES (?, ?, ?, ?, 0, '', 1, ?, ?, ?, ?, ?, '', ?, ?)`,
			v.LectureID, v.UploaderID, edustream.VideoAwaitingUpload, edustream.StageUpload,
			v.FileName, v.ContentType, v.SizeBytes, v.UploadID, utcMicro(v.UploadExpiresAt), now, now)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return dbError(err, "create video of", "lecture", v.LectureID)
	}
	v.ID, v.Status, v.Stage, v.Progress, v.Error, v.Version = id, edustream.VideoAwaitingUpload, edustream.StageUpload, 0, "", 1
	v.UploadExpiresAt, v.CreatedAt, v.UpdatedAt = utcMicro(v.UploadExpiresAt), now, now
	return nil
}

// FindVideoByID returns a video, read from the primary: the chain's steps
// decide on what they read, and a replica's lag would replay a step. ENOTFOUND.
func (s *VideoService) FindVideoByID(ctx context.Context, id int64) (*edustream.Video, error) {
	v, err := scanVideo(s.db.reader(edustream.NewContextReadingPrimary(ctx)).queryRow(ctx,
		"SELECT "+videoColumns+" FROM videos v WHERE v.id = ?", id))
	if err != nil {
		return nil, dbError(err, "find", "video", id)
	}
	return v, nil
}

// FindVideosByIDs returns the videos that exist among ids, keyed by id, with
// one query.
func (s *VideoService) FindVideosByIDs(ctx context.Context, ids []int64) (map[int64]*edustream.Video, error) {
	out := make(map[int64]*edustream.Video, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	videos, err := queryAll(ctx, s.db.reader(ctx), scanVideo, "SELECT "+videoColumns+" FROM videos v WHERE v.id IN ("+in+")", args...)
	if err != nil {
		return nil, dbError(err, "find", "videos", 0)
	}
	for _, v := range videos {
		out[v.ID] = v
	}
	return out, nil
}

// FindLatestVideosByLectureIDs returns each lecture's newest video, keyed
// by lecture id, with one query.
func (s *VideoService) FindLatestVideosByLectureIDs(ctx context.Context, lectureIDs []int64) (map[int64]*edustream.Video, error) {
	out := make(map[int64]*edustream.Video, len(lectureIDs))
	if len(lectureIDs) == 0 {
		return out, nil
	}
	in, args := inList(lectureIDs)
	videos, err := queryAll(ctx, s.db.reader(ctx), scanVideo,
		"SELECT "+videoColumns+" FROM videos v WHERE v.id IN (SELECT MAX(id) FROM videos WHERE lecture_id IN ("+in+") GROUP BY lecture_id)", args...)
	if err != nil {
		return nil, dbError(err, "find", "latest videos", 0)
	}
	for _, v := range videos {
		out[v.LectureID] = v
	}
	return out, nil
}

// TransitionVideo applies upd if the video is still at (status, stage).
// ECONFLICT when it is not, ENOTFOUND when it does not exist.
func (s *VideoService) TransitionVideo(ctx context.Context, id int64, status edustream.VideoStatus, stage edustream.VideoStage, upd edustream.VideoUpdate) (*edustream.Video, error) {
	now := utcMicro(s.now())
	media, err := jsonOrNull(upd.Media, upd.Media == nil)
	if err != nil {
		return nil, err
	}
	renditions, err := jsonOrNull(upd.Renditions, upd.Renditions == nil)
	if err != nil {
		return nil, err
	}
	if upd.Error != nil && utf8.RuneCountInString(*upd.Error) > edustream.MaxVideoErrorLength {
		cut := string([]rune(*upd.Error)[:edustream.MaxVideoErrorLength-1]) + "…"
		upd.Error = &cut
	}
	bump := 0
	if (upd.Status != nil && *upd.Status != status) || (upd.Stage != nil && *upd.Stage != stage) {
		bump = 1
	}
	var readyAt any
	if upd.Status != nil && *upd.Status == edustream.VideoReady {
		readyAt = now
	}
	var v *edustream.Video
	err = s.db.inTx(ctx, func(tx handle) error {
		n, err := rowsAffected(tx.exec(ctx, `UPDATE videos SET
  status = COALESCE(?, status),
  stage = COALESCE(?, stage),
  progress = COALESCE(?, progress),
  error = COALESCE(?, error),
  upload_id = COALESCE(?, upload_id),
  media = COALESCE(?, media),
  renditions = COALESCE(?, renditions),
  transcoder_job_id = COALESCE(?, transcoder_job_id),
  ready_at = COALESCE(?, ready_at),
  version = version + ?,
  updated_at = ?
WHERE id = ? AND status = ? AND stage = ?`,
			orNull(upd.Status), orNull(upd.Stage), orNull(upd.Progress), orNull(upd.Error), orNull(upd.UploadID),
			media, renditions, orNull(upd.TranscoderJobID), readyAt, bump, now, id, status, stage))
		if err != nil {
			return err
		}
		v, err = scanVideo(tx.queryRow(ctx, "SELECT "+videoColumns+" FROM videos v WHERE v.id = ?", id))
		if err != nil {
			return err
		}
		if n == 0 {
			return edustream.Errorf(edustream.ECONFLICT, "video %d is %s at %s, not %s at %s", id, v.Status, v.Stage, status, stage)
		}
		return nil
	})
	if err != nil {
		return nil, dbError(err, "move", "video", id)
	}
	return v, nil
}

// SetVideoProgress records progress within a running stage; a video that has
// moved on is left alone.
func (s *VideoService) SetVideoProgress(ctx context.Context, id int64, stage edustream.VideoStage, progress float64) error {
	_, err := s.db.writer().exec(ctx, "UPDATE videos SET progress = ?, updated_at = ? WHERE id = ? AND stage = ? AND status = ?",
		progress, utcMicro(s.now()), id, stage, edustream.VideoProcessing)
	return dbError(err, "record progress of", "video", id)
}

// CompleteVideo makes the video READY and its lecture's current video, in
// one transaction that first locks the lecture. Every older video of the
// lecture is marked replaced, so the cleanup deletes its outputs (the one
// that played until now, and failed or abandoned uploads).
func (s *VideoService) CompleteVideo(ctx context.Context, id int64) (video, replaced *edustream.Video, err error) {
	now := utcMicro(s.now())
	err = s.db.inTx(ctx, func(tx handle) error {
		var lectureID int64
		if err := tx.queryRow(ctx, "SELECT lecture_id FROM videos WHERE id = ?", id).Scan(&lectureID); err != nil {
			return err
		}
		current, err := s.lockLecture(ctx, tx, lectureID)
		if err != nil {
			return dbError(err, "complete video of", "lecture", lectureID)
		}
		n, err := rowsAffected(tx.exec(ctx, `UPDATE videos SET status = ?, progress = 100, error = '', version = version + 1,
  ready_at = ?, updated_at = ? WHERE id = ? AND status = ? AND stage = ? AND replaced_at IS NULL`,
			edustream.VideoReady, now, now, id, edustream.VideoProcessing, edustream.StageComplete))
		if err != nil {
			return err
		}
		if n == 0 {
			return edustream.Errorf(edustream.ECONFLICT, "video %d is not waiting to complete", id)
		}
		if _, err := tx.exec(ctx, "UPDATE videos SET replaced_at = ?, updated_at = ? WHERE lecture_id = ? AND id < ? AND replaced_at IS NULL",
			now, now, lectureID, id); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE lectures SET video_id = ?, updated_at = ? WHERE id = ?", id, now, lectureID); err != nil {
			return err
		}
		if video, err = scanVideo(tx.queryRow(ctx, "SELECT "+videoColumns+" FROM videos v WHERE v.id = ?", id)); err != nil {
			return err
		}
		if current.Valid && current.Int64 != id {
			replaced, err = scanVideo(tx.queryRow(ctx, "SELECT "+videoColumns+" FROM videos v WHERE v.id = ?", current.Int64))
		}
		return err
	})
	if err != nil {
		return nil, nil, dbError(err, "complete", "video", id)
	}
	return video, replaced, nil
}

// FindUnfinishedVideos returns UPLOADED and PROCESSING videos unchanged
// since before, oldest change first.
func (s *VideoService) FindUnfinishedVideos(ctx context.Context, before time.Time) ([]*edustream.Video, error) {
	videos, err := queryAll(ctx, s.db.writer(), scanVideo,
		"SELECT "+videoColumns+" FROM videos v WHERE v.status IN (?, ?) AND v.updated_at < ? AND v.replaced_at IS NULL ORDER BY v.updated_at",
		edustream.VideoUploaded, edustream.VideoProcessing, utcMicro(before))
	return videos, dbError(err, "find unfinished", "videos", 0)
}

// FindExpiredUploads returns AWAITING_UPLOAD videos whose upload expired
// before now.
func (s *VideoService) FindExpiredUploads(ctx context.Context, now time.Time) ([]*edustream.Video, error) {
	videos, err := queryAll(ctx, s.db.writer(), scanVideo,
		"SELECT "+videoColumns+" FROM videos v WHERE v.status = ? AND v.upload_expires_at < ? AND v.replaced_at IS NULL ORDER BY v.id",
		edustream.VideoAwaitingUpload, utcMicro(now))
	return videos, dbError(err, "find expired", "uploads", 0)
}

// FindReplacedVideos returns the videos whose outputs wait to be deleted.
func (s *VideoService) FindReplacedVideos(ctx context.Context) ([]*edustream.Video, error) {
	videos, err := queryAll(ctx, s.db.writer(), scanVideo,
		"SELECT "+videoColumns+" FROM videos v WHERE v.replaced_at IS NOT NULL ORDER BY v.id")
	return videos, dbError(err, "find replaced", "videos", 0)
}

// DeleteVideo removes a replaced video's row. A missing video is not an
// error; a video that is not replaced is ECONFLICT, so a stray task cannot
// delete what plays.
func (s *VideoService) DeleteVideo(ctx context.Context, id int64) error {
	err := s.db.inTx(ctx, func(tx handle) error {
		var replaced sql.Null[time.Time]
		err := tx.queryRow(ctx, "SELECT replaced_at FROM videos WHERE id = ?"+s.db.dialect.forUpdate, id).Scan(&replaced)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		case !replaced.Valid:
			return edustream.Errorf(edustream.ECONFLICT, "video %d is not replaced and cannot be deleted", id)
		}
		// Its caption tracks were the video's alone (their files went
		// with its blobs).
		if err := deleteCaptionRows(ctx, tx, "video_id = ?", id); err != nil {
			return err
		}
		_, err = tx.exec(ctx, "DELETE FROM videos WHERE id = ?", id)
		return err
	})
	return dbError(err, "delete", "video", id)
}

// replaceVideosOf marks the videos of lectures that are going away, so the
// cleanup deletes their blobs and rows. where selects the lectures: a
// condition on l (lectures) with its arguments.
func replaceVideosOf(ctx context.Context, tx handle, now time.Time, where string, args ...any) error {
	_, err := tx.exec(ctx, "UPDATE videos SET replaced_at = ?, updated_at = ? WHERE replaced_at IS NULL AND lecture_id IN (SELECT l.id FROM lectures l WHERE "+
		where+")", append([]any{now, now}, args...)...)
	if err != nil {
		return fmt.Errorf("mark videos of %s: %w", strings.TrimSpace(where), err)
	}
	return nil
}
