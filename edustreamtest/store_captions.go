package edustreamtest

import (
	"cmp"
	"context"
	"slices"

	"github.com/edustream/edustream"
)

var _ edustream.CaptionService = (*Store)(nil)

// storedCaption is a caption track's row and its cues.
type storedCaption struct {
	caption edustream.Caption
	cues    []edustream.CaptionCue
}

// FindCaptionByID returns a track. ENOTFOUND.
func (s *Store) FindCaptionByID(_ context.Context, id int64) (*edustream.Caption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.captions[id]
	if !ok {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "caption %d not found", id)
	}
	c := sc.caption
	return &c, nil
}

// FindCaptionsByVideoIDs returns each video's tracks in language order.
func (s *Store) FindCaptionsByVideoIDs(_ context.Context, videoIDs []int64) (map[int64][]*edustream.Caption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64][]*edustream.Caption, len(videoIDs))
	for _, sc := range s.captions {
		if slices.Contains(videoIDs, sc.caption.VideoID) {
			c := sc.caption
			out[c.VideoID] = append(out[c.VideoID], &c)
		}
	}
	for _, list := range out {
		slices.SortFunc(list, func(a, b *edustream.Caption) int { return cmp.Compare(a.Language, b.Language) })
	}
	return out, nil
}

// FindCaptionCues returns a track's cues in order. ENOTFOUND.
func (s *Store) FindCaptionCues(_ context.Context, captionID int64) ([]edustream.CaptionCue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.captions[captionID]
	if !ok {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "caption %d not found", captionID)
	}
	return slices.Clone(sc.cues), nil
}

// PutCaption stores c and its cues as the track of its video's language,
// with write run under the store's lock as sqldb runs it in its
// transaction. ENOTFOUND for a missing video.
func (s *Store) PutCaption(_ context.Context, c *edustream.Caption, cues []edustream.CaptionCue, keep func(*edustream.Caption) bool, write func(*edustream.Caption) error) (*edustream.Caption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.videos[c.VideoID]; !ok {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "video %d not found", c.VideoID)
	}
	var existing *edustream.Caption
	for _, sc := range s.captions {
		if sc.caption.VideoID == c.VideoID && sc.caption.Language == c.Language {
			e := sc.caption
			existing = &e
		}
	}
	if existing != nil && keep != nil && keep(existing) {
		return existing, edustream.Errorf(edustream.ECONFLICT, "video %d keeps its %s track %d", c.VideoID, existing.Source, existing.ID)
	}
	put := *c
	now := utcMicro(s.now())
	put.UpdatedAt, put.CueCount = now, len(cues)
	if existing == nil {
		put.ID, put.Version, put.CreatedAt = s.nextID("captions"), 1, now
	} else {
		put.ID, put.Version, put.CreatedAt = existing.ID, existing.Version+1, existing.CreatedAt
	}
	if write != nil {
		if err := write(&put); err != nil {
			return nil, err
		}
	}
	if s.captions == nil {
		s.captions = map[int64]*storedCaption{}
	}
	s.captions[put.ID] = &storedCaption{caption: put, cues: slices.Clone(cues)}
	*c = put
	return existing, nil
}

// DeleteCaption removes a track and its cues and returns it. ENOTFOUND.
func (s *Store) DeleteCaption(_ context.Context, id int64) (*edustream.Caption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.captions[id]
	if !ok {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "caption %d not found", id)
	}
	delete(s.captions, id)
	c := sc.caption
	return &c, nil
}

// deleteCaptionsOf deletes a deleted video's tracks. Callers hold mu.
func (s *Store) deleteCaptionsOf(videoID int64) {
	for id, sc := range s.captions {
		if sc.caption.VideoID == videoID {
			delete(s.captions, id)
		}
	}
}
