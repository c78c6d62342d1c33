package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"github.com/edustream/edustream"
)

// Lecture.video, nextVideo and myProgress are batch resolvers (gqlgen.yml):
// gqlgen hands them every lecture of a list at once. gqlgen resolves the
// elements of a list one after another (exec.worker_limit), so a field that
// asked its loader per lecture would wait out a batch window per lecture;
// these queue the whole list's keys into the loaders first, then resolve
// each lecture from what the loaders hold.

// forEachLecture queues what the field needs for all of lectures, then
// resolves it per lecture; a lecture's error is its own.
func forEachLecture[T any](ctx context.Context, lectures []*edustream.Lecture,
	queue func(context.Context, []*edustream.Lecture), resolve func(context.Context, *edustream.Lecture) (T, error)) ([]T, error) {
	queue(ctx, lectures)
	out := make([]T, len(lectures))
	var errs graphql.BatchErrorList
	for i, l := range lectures {
		v, err := resolve(ctx, l)
		if err != nil {
			if errs == nil {
				errs = make(graphql.BatchErrorList, len(lectures))
			}
			errs[i] = err
		}
		out[i] = v
	}
	if errs != nil {
		return out, errs
	}
	return out, nil
}

// queueVideos queues Lecture.video's reads: the videos that play, the
// newest of lectures with none playing, then what the videos' access
// checks read, if they will decide.
func (r *Resolver) queueVideos(ctx context.Context, lectures []*edustream.Lecture) {
	var playing, newest []int64
	for _, l := range lectures {
		if l.VideoID != nil {
			playing = append(playing, *l.VideoID)
		} else {
			newest = append(newest, l.ID)
		}
	}
	ls := loadersFrom(ctx)
	p, n := ls.videoLoader().LoadAllThunk(ctx, playing), ls.latestVideoLoader().LoadAllThunk(ctx, newest)
	a, _ := p()
	b, _ := n()
	r.queueVideoAccess(ctx, lectures, append(a, b...))
}

// queueNextVideos queues Lecture.nextVideo's: the newest videos of the
// lectures with one playing, then the access checks' reads, if any.
func (r *Resolver) queueNextVideos(ctx context.Context, lectures []*edustream.Lecture) {
	var ids []int64
	for _, l := range lectures {
		if l.VideoID != nil {
			ids = append(ids, l.ID)
		}
	}
	videos, _ := loadersFrom(ctx).latestVideoLoader().LoadAll(ctx, ids)
	r.queueVideoAccess(ctx, lectures, videos)
}

// queueLectureProgress queues Lecture.myProgress's: the caller's progress
// on the lectures and their siblings (myLectureProgress reads a course's
// at once), the videos progress carries over to, and the access checks'.
func (r *Resolver) queueLectureProgress(ctx context.Context, lectures []*edustream.Lecture) {
	ls := loadersFrom(ctx)
	if r.Progress == nil || ls.viewer == nil {
		return
	}
	var videos []int64
	for _, l := range lectures {
		if l.VideoID != nil {
			videos = append(videos, *l.VideoID)
		}
	}
	courses := courseIDsOf(lectures)
	siblings, _ := ls.lectureOutlinesByCourseLoader().LoadAll(ctx, courses)
	ids := make([]int64, 0, len(lectures))
	for _, l := range lectures {
		ids = append(ids, l.ID)
	}
	for _, list := range siblings {
		for _, l := range list {
			ids = append(ids, l.ID)
		}
	}
	awaitAll(queued(ls.lectureProgressLoader().LoadAllThunk(ctx, ids)),
		queued(ls.videoLoader().LoadAllThunk(ctx, videos)),
		r.queueLectureAccess(ctx, lectures))
}

// queueVideoAccess reads what the videos' access checks (accessToLecture)
// will, when the selection asks for a field they guard of a video they
// guard it for, and nothing otherwise: no row the fields would not read.
func (r *Resolver) queueVideoAccess(ctx context.Context, lectures []*edustream.Lecture, videos []*edustream.Video) {
	fc := graphql.GetFieldContext(ctx)
	asks := func(fields ...string) bool {
		for _, f := range fields {
			if fc == nil || selectsHere(fc.Field.Selections, f) {
				return true
			}
		}
		return false
	}
	decides := asks("error", "fileName")
	if !decides && asks("playbackUrl", "thumbnailUrl", "storyboardUrl") {
		for _, v := range videos {
			decides = decides || v != nil && v.Status == edustream.VideoReady
		}
	}
	if decides {
		r.queueLectureAccess(ctx, lectures)()
	}
}

// queueLectureAccess primes the lectures and queues their courses and,
// for those the caller may not edit, the caller's enrollments in them,
// which every access check of a lecture's video or progress reads.
func (r *Resolver) queueLectureAccess(ctx context.Context, lectures []*edustream.Lecture) func() {
	ls := loadersFrom(ctx)
	for _, l := range lectures {
		ls.lectureLoader().Prime(l.ID, l)
	}
	courses, _ := ls.courseLoader().LoadAll(ctx, courseIDsOf(lectures))
	u := edustream.UserFromContext(ctx)
	var watched []int64
	for _, c := range courses {
		if c != nil && u != nil && !edustream.CanEditCourse(u, c) {
			watched = append(watched, c.ID)
		}
	}
	return queued(ls.enrollmentLoader().LoadAllThunk(ctx, watched))
}

// courseIDsOf returns the distinct courses of lectures.
func courseIDsOf(lectures []*edustream.Lecture) []int64 {
	var ids []int64
	for _, l := range lectures {
		if !slices.Contains(ids, l.CourseID) {
			ids = append(ids, l.CourseID)
		}
	}
	return ids
}

// queued turns a queued load into a wait for it; its errors are left to
// the resolvers that read the loader.
func queued[V any](thunk func() ([]V, error)) func() {
	return func() { _, _ = thunk() }
}

func awaitAll(loads ...func()) {
	for _, load := range loads {
		load()
	}
}
