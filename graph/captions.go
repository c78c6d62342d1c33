package graph

import (
	"context"

	"github.com/vikstrous/dataloadgen"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph/generated"
	"github.com/edustream/edustream/graph/model"
)

// The caption resolvers. A video's tracks are seen by whoever sees the
// video (its lecture); their URLs need the right to watch it; why an
// automatic track failed is for those who may edit the course.

// captionsEstimate is what the complexity limit charges per video for its
// tracks: a few languages.
const captionsEstimate = 3

func captionsComplexity(c *generated.ComplexityRoot) {
	c.Video.Captions = func(child int) int { return gqlhttp.ListCost(captionsEstimate, child) }
}

// captionLoader loads each video's tracks, by video id, so a course page's
// tracks are one query.
func (l *loaders) captionLoader() *dataloadgen.Loader[int64, []*edustream.Caption] {
	return l.captions.get(func() *dataloadgen.Loader[int64, []*edustream.Caption] {
		return dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]*edustream.Caption, []error) {
			m, err := l.r.Captions.Store.FindCaptionsByVideoIDs(ctx, ids)
			return fill(ids, m, err)
		}, wait)
	})
}

func errCaptionsOff() error {
	return edustream.Errorf(edustream.ECONFLICT, "captions are not configured on this server")
}

// videoCaptions is Video.captions.
func (r *Resolver) videoCaptions(ctx context.Context, v *edustream.Video) ([]*edustream.Caption, error) {
	if r.Captions == nil {
		return []*edustream.Caption{}, nil
	}
	// Queued before the access check, so the tracks of a page's videos
	// go in one batch rather than as each check ends.
	load := loadersFrom(ctx).captionLoader().LoadThunk(ctx, v.ID)
	if _, err := r.accessToLecture(ctx, v.LectureID); err != nil {
		return nil, err
	}
	list, err := load()
	if list == nil && err == nil {
		list = []*edustream.Caption{}
	}
	return list, err
}

// captionURL is Caption.url: the track's signed WebVTT for a caller who
// may watch its READY video, nil for everyone else.
func (r *Resolver) captionURL(ctx context.Context, c *edustream.Caption) (*string, error) {
	signer, ok := r.Playback.(edustream.CaptionURLs)
	if c.Status != edustream.CaptionReady || !ok {
		return nil, nil
	}
	v, err := loadersFrom(ctx).videoLoader().Load(ctx, c.VideoID)
	if err != nil {
		return nil, notFoundAs(err, nil)
	}
	return r.playbackURL(ctx, v, func(edustream.SignedVideo) (string, error) { return signer.CaptionURL(ctx, v, c) })
}

// captionError is Caption.error, for the course's instructor and admins.
func (r *Resolver) captionError(ctx context.Context, c *edustream.Caption) (*string, error) {
	return r.editorsOnly(ctx, &edustream.Video{ID: c.VideoID, LectureID: c.LectureID}, c.Error)
}

// addCaption is the addCaption mutation.
func (r *Resolver) addCaption(ctx context.Context, in model.AddCaptionInput) (*edustream.Caption, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	if r.Captions == nil {
		return nil, errCaptionsOff()
	}
	return r.Captions.Add(ctx, u, edustream.CaptionInput{LectureID: in.LectureID, Language: in.Language,
		Label: deref(in.Label), Kind: deref(in.Kind), Content: in.Content})
}

// removeCaption is the removeCaption mutation.
func (r *Resolver) removeCaption(ctx context.Context, id int64) (int64, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return 0, errUnauthenticated()
	}
	if r.Captions == nil {
		return 0, errCaptionsOff()
	}
	if _, err := r.Captions.Remove(ctx, u, id); err != nil {
		return 0, err
	}
	return id, nil
}
