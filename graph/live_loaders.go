package graph

import (
	"context"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/edustream/edustream"
)

// liveLoaders batch Course.liveSessions per operation: one loader per
// combination of arguments, since each is a different query.
type liveLoaders struct {
	r *Resolver
	// now is the instant "upcoming" is measured against, one per
	// operation, so every course of a response is split alike.
	now time.Time

	mu       sync.Mutex
	byFilter map[liveFilterKey]*dataloadgen.Loader[int64, []*edustream.LiveSession]
}

type liveFilterKey struct {
	past  int // -1 false, 0 unset, 1 true
	limit int
}

func newLiveLoaders(r *Resolver) *liveLoaders {
	return &liveLoaders{r: r, now: time.Now(), byFilter: map[liveFilterKey]*dataloadgen.Loader[int64, []*edustream.LiveSession]{}}
}

// liveSessionsOf returns the loader of the courses' sessions for the
// arguments past and limit.
func (l *loaders) liveSessionsOf(past *bool, limit int) *dataloadgen.Loader[int64, []*edustream.LiveSession] {
	ll := l.live
	key := liveFilterKey{limit: limit}
	if past != nil {
		key.past = -1
		if *past {
			key.past = 1
		}
	}
	ll.mu.Lock()
	defer ll.mu.Unlock()
	if loader, ok := ll.byFilter[key]; ok {
		return loader
	}
	f := edustream.LiveSessionFilter{Past: past, Now: ll.now, Limit: limit}
	loader := dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]*edustream.LiveSession, []error) {
		m, err := ll.r.LiveSessionService.FindLiveSessionsByCourseIDs(ctx, ids, f)
		return fill(ids, m, err)
	}, dataloadgen.WithWait(batchWait))
	ll.byFilter[key] = loader
	return loader
}
