package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// CaptionService implements edustream.CaptionService.
//
// A put runs in one transaction that first locks the video's row, so the
// writes of one video's tracks queue (two uploads of one language cannot
// both insert), and a video being deleted takes its tracks with it.
type CaptionService struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.CaptionService = (*CaptionService)(nil)

// NewCaptionService returns a CaptionService on db that stamps times with
// now (nil: time.Now).
func NewCaptionService(db *DB, now edustream.Clock) *CaptionService {
	return &CaptionService{db: db, now: clockOrNow(now)}
}

const captionColumns = "id, video_id, lecture_id, language, label, kind, source, status, error, cue_count, version, created_by, created_at, updated_at"

func scanCaption(s scanner) (*edustream.Caption, error) {
	var c edustream.Caption
	var createdBy sql.NullInt64
	if err := s.Scan(&c.ID, &c.VideoID, &c.LectureID, &c.Language, &c.Label, &c.Kind, &c.Source, &c.Status, &c.Error,
		&c.CueCount, &c.Version, &createdBy, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedBy = createdBy.Int64
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

// FindCaptionByID returns a track. ENOTFOUND.
func (s *CaptionService) FindCaptionByID(ctx context.Context, id int64) (*edustream.Caption, error) {
	c, err := scanCaption(s.db.reader(ctx).queryRow(ctx, "SELECT "+captionColumns+" FROM captions WHERE id = ?", id))
	return c, dbError(err, "find", "caption", id)
}

// FindCaptionsByVideoIDs returns each video's tracks in language order,
// with one query.
func (s *CaptionService) FindCaptionsByVideoIDs(ctx context.Context, videoIDs []int64) (map[int64][]*edustream.Caption, error) {
	out := make(map[int64][]*edustream.Caption, len(videoIDs))
	if len(videoIDs) == 0 {
		return out, nil
	}
	in, args := inList(videoIDs)
	list, err := queryAll(ctx, s.db.reader(ctx), scanCaption,
		"SELECT "+captionColumns+" FROM captions WHERE video_id IN ("+in+") ORDER BY video_id, language", args...)
	if err != nil {
		return nil, dbError(err, "find", "captions", 0)
	}
	for _, c := range list {
		out[c.VideoID] = append(out[c.VideoID], c)
	}
	return out, nil
}

// FindCaptionCues returns a track's cues in order. ENOTFOUND for a
// missing track.
func (s *CaptionService) FindCaptionCues(ctx context.Context, captionID int64) ([]edustream.CaptionCue, error) {
	h := s.db.reader(ctx)
	var one int
	if err := h.queryRow(ctx, "SELECT 1 FROM captions WHERE id = ?", captionID).Scan(&one); err != nil {
		return nil, dbError(err, "find", "caption", captionID)
	}
	cues, err := queryAll(ctx, h, func(sc scanner) (edustream.CaptionCue, error) {
		var c edustream.CaptionCue
		var start, end int64
		err := sc.Scan(&start, &end, &c.Text)
		c.Start, c.End = time.Duration(start)*time.Millisecond, time.Duration(end)*time.Millisecond
		return c, err
	}, "SELECT start_ms, end_ms, text FROM caption_cues WHERE caption_id = ? ORDER BY seq", captionID)
	return cues, dbError(err, "find cues of", "caption", captionID)
}

// PutCaption stores c and its cues as the track of its video's language;
// see edustream.CaptionService. ENOTFOUND for a missing video.
func (s *CaptionService) PutCaption(ctx context.Context, c *edustream.Caption, cues []edustream.CaptionCue, keep func(*edustream.Caption) bool, write func(*edustream.Caption) error) (*edustream.Caption, error) {
	now := utcMicro(s.now())
	var replaced *edustream.Caption
	put := *c
	err := s.db.inTx(ctx, func(tx handle) error {
		var one int
		if err := tx.queryRow(ctx, "SELECT 1 FROM videos WHERE id = ?"+s.db.dialect.forUpdate, c.VideoID).Scan(&one); err != nil {
			return dbError(err, "lock", "video", c.VideoID)
		}
		existing, err := scanCaption(tx.queryRow(ctx, "SELECT "+captionColumns+" FROM captions WHERE video_id = ? AND language = ?", c.VideoID, c.Language))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			existing = nil
		case err != nil:
			return err
		case keep != nil && keep(existing):
			replaced = existing
			return edustream.Errorf(edustream.ECONFLICT, "video %d keeps its %s track %d", c.VideoID, existing.Source, existing.ID)
		}
		put.UpdatedAt = now
		if existing == nil {
			put.Version, put.CreatedAt = 1, now
			res, err := tx.exec(ctx, `INSERT INTO captions (video_id, lecture_id, language, label, kind, source, status, error, cue_count, version, created_by, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				put.VideoID, put.LectureID, put.Language, put.Label, put.Kind, put.Source, put.Status, put.Error, len(cues), put.Version, nullID(put.CreatedBy), now, now)
			if err != nil {
				return err
			}
			if put.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		} else {
			put.ID, put.Version, put.CreatedAt = existing.ID, existing.Version+1, existing.CreatedAt
			if _, err := tx.exec(ctx, `UPDATE captions SET lecture_id = ?, label = ?, kind = ?, source = ?, status = ?, error = ?, cue_count = ?, version = ?, created_by = ?, updated_at = ?
WHERE id = ?`, put.LectureID, put.Label, put.Kind, put.Source, put.Status, put.Error, len(cues), put.Version, nullID(put.CreatedBy), now, put.ID); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, "DELETE FROM caption_cues WHERE caption_id = ?", put.ID); err != nil {
				return err
			}
		}
		put.CueCount = len(cues)
		if err := insertCues(ctx, tx, &put, cues); err != nil {
			return err
		}
		if err := indexCaption(ctx, tx, put.ID); err != nil {
			return err
		}
		if write != nil {
			if err := write(&put); err != nil {
				return err
			}
		}
		replaced = existing
		return nil
	})
	if err != nil {
		if ce := (*edustream.Error)(nil); errors.As(err, &ce) && ce.Code == edustream.ECONFLICT && replaced != nil {
			return replaced, err
		}
		return nil, dbError(err, "put", "caption of video", c.VideoID)
	}
	*c = put
	return replaced, nil
}

// cueBatch bounds the rows of one INSERT: 6 parameters each, well under
// either engine's limit on a statement's parameters.
const cueBatch = 500

func insertCues(ctx context.Context, tx handle, c *edustream.Caption, cues []edustream.CaptionCue) error {
	for first := 0; first < len(cues); first += cueBatch {
		batch := cues[first:min(first+cueBatch, len(cues))]
		args := make([]any, 0, 6*len(batch))
		for i, cue := range batch {
			args = append(args, c.ID, first+i+1, c.LectureID, cue.Start.Milliseconds(), cue.End.Milliseconds(), cue.Text)
		}
		rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", len(batch)), ", ")
		if _, err := tx.exec(ctx, "INSERT INTO caption_cues (caption_id, seq, lecture_id, start_ms, end_ms, text) VALUES "+rows, args...); err != nil {
			return err
		}
	}
	return nil
}

// DeleteCaption removes a track and its cues and returns it. ENOTFOUND.
func (s *CaptionService) DeleteCaption(ctx context.Context, id int64) (*edustream.Caption, error) {
	var c *edustream.Caption
	err := s.db.inTx(ctx, func(tx handle) error {
		var err error
		if c, err = scanCaption(tx.queryRow(ctx, "SELECT "+captionColumns+" FROM captions WHERE id = ?"+s.db.dialect.forUpdate, id)); err != nil {
			return err
		}
		return deleteCaptionRows(ctx, tx, "id = ?", id)
	})
	if err != nil {
		return nil, dbError(err, "delete", "caption", id)
	}
	return c, nil
}

// deleteCaptionRows deletes the tracks where says (a condition on
// captions' own columns), their cues and the cues' search documents.
func deleteCaptionRows(ctx context.Context, tx handle, where string, args ...any) error {
	if err := replaceSearchDocs(ctx, tx, nil, "caption_id IN (SELECT id FROM captions WHERE "+where+")", args...); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, "DELETE FROM caption_cues WHERE caption_id IN (SELECT id FROM captions WHERE "+where+")", args...); err != nil {
		return err
	}
	_, err := tx.exec(ctx, "DELETE FROM captions WHERE "+where, args...)
	return err
}

// nullID stores 0 (nobody: the chain) as NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }
