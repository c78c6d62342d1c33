package graph

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
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
// hours) and cache only for that operation. Each loader is built on first
// use: an operation needs two or three of the seven kinds, and building the
// rest cost every request a few dozen allocations.
type loaders struct {
	r      *Resolver
	viewer *edustream.User

	users   lazyLoader[*edustream.User]
	courses lazyLoader[*edustream.Course]
	// lectures may hold outlines (edustream.Lecture.Outline), which
	// serve access checks; lecture upgrades them, through wholeLectures,
	// for a field that selects the description.
	lectures      lazyLoader[*edustream.Lecture]
	wholeLectures lazyLoader[*edustream.Lecture]
	// lecturesByCourse are each course's lectures, by course id, whole;
	// lectureOutlinesByCourse the same without descriptions, for lists
	// that do not select them (a whole list serves there too).
	lecturesByCourse        lazyLoader[[]*edustream.Lecture]
	lectureOutlinesByCourse lazyLoader[[]*edustream.Lecture]
	// enrollments are the caller's, by course id; a missing one is nil.
	enrollments lazyLoader[*edustream.Enrollment]
	videos      lazyLoader[*edustream.Video]
	// latestVideos are each lecture's newest video, by lecture id; nil for
	// a lecture without one.
	latestVideos lazyLoader[*edustream.Video]
	// captions are each video's caption tracks, by video id.
	captions lazyLoader[[]*edustream.Caption]
	// live are the courses' live sessions, per filter.
	live *liveLoaders
	// progress are the caller's progress (progress.go).
	progress progressLoaders
	// videoMemo is what the video fields decide once (video.go).
	videoMemo videoMemo
}

func newLoaders(r *Resolver, viewer *edustream.User) *loaders {
	return &loaders{r: r, viewer: viewer, live: newLiveLoaders(r)}
}

// lazyLoader holds a loader built on first use. Resolvers of one operation
// run on many goroutines, so the first use is a race that the mutex
// settles; every later use is one atomic load.
type lazyLoader[V any] struct {
	mu     sync.Mutex
	loader atomic.Pointer[dataloadgen.Loader[int64, V]]
}

func (z *lazyLoader[V]) get(build func() *dataloadgen.Loader[int64, V]) *dataloadgen.Loader[int64, V] {
	if l := z.loader.Load(); l != nil {
		return l
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if l := z.loader.Load(); l != nil {
		return l
	}
	l := build()
	z.loader.Store(l)
	return l
}

var wait = dataloadgen.WithWait(batchWait)

func (l *loaders) userLoader() *dataloadgen.Loader[int64, *edustream.User] {
	return l.users.get(func() *dataloadgen.Loader[int64, *edustream.User] {
		return dataloadgen.NewMappedLoader(l.r.UserService.FindUsersByIDs, wait)
	})
}

func (l *loaders) courseLoader() *dataloadgen.Loader[int64, *edustream.Course] {
	return l.courses.get(func() *dataloadgen.Loader[int64, *edustream.Course] {
		return dataloadgen.NewMappedLoader(l.r.CourseService.FindCoursesByIDs, wait)
	})
}

func (l *loaders) lectureLoader() *dataloadgen.Loader[int64, *edustream.Lecture] {
	return l.lectures.get(func() *dataloadgen.Loader[int64, *edustream.Lecture] {
		return dataloadgen.NewMappedLoader(l.r.LectureService.FindLecturesByIDs, wait)
	})
}

func (l *loaders) wholeLectureLoader() *dataloadgen.Loader[int64, *edustream.Lecture] {
	return l.wholeLectures.get(func() *dataloadgen.Loader[int64, *edustream.Lecture] {
		return dataloadgen.NewMappedLoader(l.r.LectureService.FindLecturesByIDs, wait)
	})
}

func (l *loaders) lecturesByCourseLoader() *dataloadgen.Loader[int64, []*edustream.Lecture] {
	return l.lecturesByCourse.get(func() *dataloadgen.Loader[int64, []*edustream.Lecture] {
		return dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]*edustream.Lecture, []error) {
			m, err := l.r.LectureService.FindLecturesByCourseIDs(ctx, ids)
			if err == nil {
				l.primeLectureLists(ids, m, false)
			}
			return fill(ids, m, err)
		}, wait)
	})
}

func (l *loaders) lectureOutlinesByCourseLoader() *dataloadgen.Loader[int64, []*edustream.Lecture] {
	return l.lectureOutlinesByCourse.get(func() *dataloadgen.Loader[int64, []*edustream.Lecture] {
		return dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]*edustream.Lecture, []error) {
			m, err := l.r.LectureService.FindLectureOutlinesByCourseIDs(ctx, ids)
			return fill(ids, m, err)
		}, wait)
	})
}

// primeLectureLists primes the lists of courses' lectures read for ids:
// whole lists serve both loaders, outlines only theirs.
func (l *loaders) primeLectureLists(ids []int64, lectures map[int64][]*edustream.Lecture, outlines bool) {
	for _, id := range ids {
		if !outlines {
			l.lecturesByCourseLoader().Prime(id, lectures[id])
		}
		l.lectureOutlinesByCourseLoader().Prime(id, lectures[id])
	}
}

// lecturesOf is Course.lectures: outlines unless the field selects the
// description, so the catalog does not read what it does not show.
func (l *loaders) lecturesOf(ctx context.Context, courseID int64) ([]*edustream.Lecture, error) {
	if selectsDescription(ctx) {
		return l.lecturesByCourseLoader().Load(ctx, courseID)
	}
	return l.lectureOutlinesByCourseLoader().Load(ctx, courseID)
}

// selectsDescription reports whether the field being resolved, a lecture
// or a list of them, selects the description.
func selectsDescription(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	return fc == nil || selectsHere(fc.Field.Selections, "description")
}

// selectsHere reports whether set selects the field name itself (through
// fragments, not in sub-selections).
func selectsHere(set ast.SelectionSet, name string) bool {
	found := false
	directFields(set, func(f *ast.Field) { found = found || f.Name == name })
	return found
}

func (l *loaders) enrollmentLoader() *dataloadgen.Loader[int64, *edustream.Enrollment] {
	return l.enrollments.get(func() *dataloadgen.Loader[int64, *edustream.Enrollment] {
		return dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*edustream.Enrollment, []error) {
			if l.viewer == nil {
				return make([]*edustream.Enrollment, len(ids)), nil
			}
			m, err := l.r.EnrollmentService.FindEnrollments(ctx, l.viewer.ID, ids)
			return fill(ids, m, err)
		}, wait)
	})
}

// videoLoader and latestVideoLoader need the resolver's VideoService.
func (l *loaders) videoLoader() *dataloadgen.Loader[int64, *edustream.Video] {
	return l.videos.get(func() *dataloadgen.Loader[int64, *edustream.Video] {
		return dataloadgen.NewMappedLoader(l.r.VideoService.FindVideosByIDs, wait)
	})
}

func (l *loaders) latestVideoLoader() *dataloadgen.Loader[int64, *edustream.Video] {
	return l.latestVideos.get(func() *dataloadgen.Loader[int64, *edustream.Video] {
		return dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*edustream.Video, []error) {
			m, err := l.r.VideoService.FindLatestVideosByLectureIDs(ctx, ids)
			return fill(ids, m, err)
		}, wait)
	})
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
		c, err := l.courseLoader().Load(ctx, id)
		return c, notFoundAs(err, errCourseNotFound(id))
	}
	c, err := l.r.CourseService.FindCourseByID(ctx, id)
	if err == nil {
		l.courseLoader().Prime(id, c)
	}
	return c, err
}

// lecture is course's counterpart for lectures. The loader may hold an
// outline, which serves an access check; the field being resolved gets
// the whole lecture if it selects the description.
func (l *loaders) lecture(ctx context.Context, id int64) (*edustream.Lecture, error) {
	if !isRootField(ctx) {
		lecture, err := l.lectureLoader().Load(ctx, id)
		if err == nil && lecture.Outline && selectsDescription(ctx) {
			lecture, err = l.wholeLectureLoader().Load(ctx, id)
		}
		return lecture, notFoundAs(err, errLectureNotFound(id))
	}
	lecture, err := l.r.LectureService.FindLectureByID(ctx, id)
	if err == nil {
		l.lectureLoader().Prime(id, lecture)
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

// withFreshLoaders returns ctx with loaders of its own, for the checks a
// subscription makes: an operation that lives for hours must not keep what
// its start loaded, nor the memory to hold it. (Each event's fields get
// their own loaders too, see aroundOperation.)
func withFreshLoaders(ctx context.Context, r *Resolver) context.Context {
	return withLoaders(ctx, newLoaders(r, edustream.UserFromContext(ctx)))
}

// loadersFrom returns the operation's loaders.
func loadersFrom(ctx context.Context) *loaders {
	return ctx.Value(loadersContextKey{}).(*loaders)
}
