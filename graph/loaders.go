package graph

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/vikstrous/dataloadgen"

	"github.com/edustream/edustream"
)

// batchWait is how long a loader collects keys before it queries. gqlgen runs
// sibling field resolvers in their own goroutines, and they all reach the
// loader well within this; longer only adds latency.
const batchWait = 500 * time.Microsecond

// loaders batch the lookups of one GraphQL operation, so a list of N courses
// costs one query per kind of related row instead of N. They are built per
// operation (never per connection: a websocket would keep a stale cache for
// hours) and cache only for that operation.
type loaders struct {
	r *Resolver

	users            *dataloadgen.Loader[int64, *edustream.User]
	courses          *dataloadgen.Loader[int64, *edustream.Course]
	lectures         *dataloadgen.Loader[int64, *edustream.Lecture]
	lecturesByCourse *dataloadgen.Loader[int64, []*edustream.Lecture]
	// enrollments are the caller's, by course id; a missing one is nil.
	enrollments *dataloadgen.Loader[int64, *edustream.Enrollment]
	videos      *dataloadgen.Loader[int64, *edustream.Video]
	// latestVideos are each lecture's newest video, by lecture id; nil for
	// a lecture without one.
	latestVideos *dataloadgen.Loader[int64, *edustream.Video]
}

func newLoaders(r *Resolver, viewer *edustream.User) *loaders {
	wait := dataloadgen.WithWait(batchWait)
	l := &loaders{
		r:        r,
		users:    dataloadgen.NewMappedLoader(r.UserService.FindUsersByIDs, wait),
		courses:  dataloadgen.NewMappedLoader(r.CourseService.FindCoursesByIDs, wait),
		lectures: dataloadgen.NewMappedLoader(r.LectureService.FindLecturesByIDs, wait),
		lecturesByCourse: dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]*edustream.Lecture, []error) {
			m, err := r.LectureService.FindLecturesByCourseIDs(ctx, ids)
			return fill(ids, m, err)
		}, wait),
		enrollments: dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*edustream.Enrollment, []error) {
			if viewer == nil {
				return make([]*edustream.Enrollment, len(ids)), nil
			}
			m, err := r.EnrollmentService.FindEnrollments(ctx, viewer.ID, ids)
			return fill(ids, m, err)
		}, wait),
	}
	if r.VideoService != nil {
		l.videos = dataloadgen.NewMappedLoader(r.VideoService.FindVideosByIDs, wait)
		l.latestVideos = dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*edustream.Video, []error) {
			m, err := r.VideoService.FindLatestVideosByLectureIDs(ctx, ids)
			return fill(ids, m, err)
		}, wait)
	}
	return l
}

// fill orders a keyed result by keys, with the zero value where a key has no
// row: a course without lectures, a course the caller is not enrolled in.
func fill[V any](keys []int64, m map[int64]V, err error) ([]V, []error) {
	values := make([]V, len(keys))
	if err != nil {
		errs := make([]error, len(keys))
		for i := range errs {
			errs[i] = err
		}
		return values, errs
	}
	for i, k := range keys {
		values[i] = m[k]
	}
	return values, nil
}

// course returns a course, hidden ones included in neither path. A root field
// has no siblings to batch with, so it queries at once rather than wait out
// batchWait, and primes the loader for the fields nested under it; nested
// fields go through the loader.
func (l *loaders) course(ctx context.Context, id int64) (*edustream.Course, error) {
	if !isRootField(ctx) {
		c, err := l.courses.Load(ctx, id)
		return c, notFoundAs(err, errCourseNotFound(id))
	}
	c, err := l.r.CourseService.FindCourseByID(ctx, id)
	if err == nil {
		l.courses.Prime(id, c)
	}
	return c, err
}

// lecture is course's counterpart for lectures.
func (l *loaders) lecture(ctx context.Context, id int64) (*edustream.Lecture, error) {
	if !isRootField(ctx) {
		lecture, err := l.lectures.Load(ctx, id)
		return lecture, notFoundAs(err, errLectureNotFound(id))
	}
	lecture, err := l.r.LectureService.FindLectureByID(ctx, id)
	if err == nil {
		l.lectures.Prime(id, lecture)
	}
	return lecture, err
}

// isRootField reports whether ctx is a field of Query or Mutation.
func isRootField(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	return fc != nil && (fc.Object == "Query" || fc.Object == "Mutation")
}

// notFoundAs turns the loaders' "no row for this key" into the domain's
// ENOTFOUND.
func notFoundAs(err error, notFound error) error {
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return notFound
	}
	return err
}

type loadersContextKey struct{}

func withLoaders(ctx context.Context, l *loaders) context.Context {
	return context.WithValue(ctx, loadersContextKey{}, l)
}

// loaderFactory stands in for the loaders of a subscription: an operation
// that lives for hours must not keep what its start loaded (nor the memory
// to hold it), so each use gets fresh loaders, and each event's fields get
// their own (see aroundOperation).
type loaderFactory struct {
	r      *Resolver
	viewer *edustream.User
}

func withLoaderFactory(ctx context.Context, r *Resolver, viewer *edustream.User) context.Context {
	return context.WithValue(ctx, loadersContextKey{}, loaderFactory{r, viewer})
}

// loadersFrom returns the operation's loaders (fresh ones in a
// subscription's context).
func loadersFrom(ctx context.Context) *loaders {
	switch v := ctx.Value(loadersContextKey{}).(type) {
	case *loaders:
		return v
	case loaderFactory:
		return newLoaders(v.r, v.viewer)
	}
	panic("graph: no loaders in the context")
}
