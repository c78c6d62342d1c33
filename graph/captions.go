package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

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

// queueVideoCaptions queues the tracks of a list's playing videos when the
// selection asks for them, so the list's are one batch (see
// lecture_batch.go: its elements resolve one after another).
func (r *Resolver) queueVideoCaptions(ctx context.Context, videoIDs []int64) func() {
	fc := graphql.GetFieldContext(ctx)
	if r.Captions == nil || len(videoIDs) == 0 || (fc != nil && !selectsHere(fc.Field.Selections, "captions")) {
		return func() {}
	}
	return queued(loadersFrom(ctx).captionLoader().LoadAllThunk(ctx, videoIDs))
}

func errCaptionsOff() error {
	return edustream.Errorf(edustream.ECONFLICT, "captions are not configured on this server")
}

// videoCaptions is Video.captions. The video was handed out by a field
// that checked the caller may see it, and its tracks are seen with it, as
// its renditions are: no access check of its own, which would read the
// lecture again.
func (r *Resolver) videoCaptions(ctx context.Context, v *edustream.Video) ([]*edustream.Caption, error) {
	if r.Captions == nil {
		return []*edustream.Caption{}, nil
	}
	list, err := loadersFrom(ctx).captionLoader().Load(ctx, v.ID)
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
