package graph

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph/generated"
	"github.com/edustream/edustream/graph/model"
)

// The helpers of the progress resolvers. A viewer's own progress is for
// whoever may watch (CanWatchLecture): null for anyone else. Analytics
// and the students' list are for those who may edit the course
// (CanSeeAnalytics): FORBIDDEN for anyone else, so a student never sees
// another's progress. None of these fields is shared between callers
// (sharing.go lists none of them): every one depends on who asks.

// defaultContinueWatching is continueWatching's default page.
const defaultContinueWatching = 10

// analyticsCost is what the complexity limit charges for a lecture's or
// a course's analytics: each reads every learner's row, so a document may
// ask for a course's worth, not a catalog's.
const analyticsCost = 100

// progressLoaders batch the caller's progress per operation, so a
// course's lectures with their myProgress cost one query.
type progressLoaders struct {
	// lectures are the caller's progress by lecture id; nil: not started.
	lectures lazyLoader[*edustream.LectureProgress]
	// courses are the caller's progress by course id.
	courses lazyLoader[*edustream.CourseProgress]
}

func (l *loaders) lectureProgressLoader() *dataloadgen.Loader[int64, *edustream.LectureProgress] {
	return l.progress.lectures.get(func() *dataloadgen.Loader[int64, *edustream.LectureProgress] {
		return dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*edustream.LectureProgress, []error) {
			m, err := l.r.Progress.Store.FindLectureProgress(ctx, l.viewer.ID, ids)
			return fill(ids, m, err)
		}, wait)
	})
}

func (l *loaders) courseProgressLoader() *dataloadgen.Loader[int64, *edustream.CourseProgress] {
	return l.progress.courses.get(func() *dataloadgen.Loader[int64, *edustream.CourseProgress] {
		return dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*edustream.CourseProgress, []error) {
			m, err := l.r.Progress.Store.FindCourseProgress(ctx, l.viewer.ID, ids)
			return fill(ids, m, err)
		}, wait)
	})
}

// errProgressOff refuses the progress fields on a server built without
// progress: a state of this server, not a fault (CONFLICT, not INTERNAL,
// which would page an operator and say nothing to the client).
func errProgressOff() error {
	return edustream.Errorf(edustream.ECONFLICT, "progress is not configured on this server")
}

// recordWatch is the recordWatch mutation.
func (r *Resolver) recordWatch(ctx context.Context, in model.RecordWatchInput) (*edustream.LectureProgress, error) {
	if r.Progress == nil {
		return nil, errProgressOff()
	}
	b := edustream.WatchBeat{LectureID: in.LectureID, PositionSeconds: in.PositionSeconds, PlaybackRate: 1, SessionID: in.SessionID}
	if in.PlaybackRate != nil {
		b.PlaybackRate = *in.PlaybackRate
	}
	for _, p := range in.Played {
		b.Played = append(b.Played, edustream.PlayedInterval{Start: p.Start, End: p.End})
	}
	return r.Progress.RecordWatch(ctx, edustream.UserFromContext(ctx), b)
}

// myLectureProgress is Lecture.myProgress: the caller's progress on the
// lecture's current video (carried over by the re-upload rule if it was
// recorded on an older one), zero before their first beat, null for
// callers who may not watch.
func (r *Resolver) myLectureProgress(ctx context.Context, l *edustream.Lecture) (*edustream.LectureProgress, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil || r.Progress == nil {
		return nil, nil
	}
	ls := loadersFrom(ctx)
	c, err := r.visibleCourse(ctx, l.CourseID)
	if err != nil {
		return nil, err
	}
	e, err := ls.enrollmentLoader().Load(ctx, c.ID)
	if err != nil || !edustream.CanWatchLecture(u, c, e != nil) {
		return nil, err
	}
	// Every lecture of a course asks for the progress of all of them:
	// the first ask queries, the others find it cached, however far apart
	// in time gqlgen's goroutines get there.
	siblings, err := ls.lectureOutlinesByCourseLoader().Load(ctx, l.CourseID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(siblings)+1)
	for _, s := range siblings {
		ids = append(ids, s.ID)
	}
	if !slices.Contains(ids, l.ID) {
		ids = append(ids, l.ID)
	}
	all, err := ls.lectureProgressLoader().LoadAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	p := all[slices.Index(ids, l.ID)]
	if p == nil {
		p = &edustream.LectureProgress{UserID: u.ID, LectureID: l.ID, CourseID: l.CourseID}
	}
	if l.VideoID != nil && p.VideoID != *l.VideoID {
		v, err := ls.videoLoader().Load(ctx, *l.VideoID)
		if err != nil {
			return nil, notFoundAs(err, nil)
		}
		p = edustream.CarryOver(p, v)
	}
	return p, nil
}

// myCourseProgress is Course.myProgress.
func (r *Resolver) myCourseProgress(ctx context.Context, c *edustream.Course) (*edustream.CourseProgress, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil || r.Progress == nil {
		return nil, nil
	}
	e, err := loadersFrom(ctx).enrollmentLoader().Load(ctx, c.ID)
	if err != nil || !edustream.CanWatchLecture(u, c, e != nil) {
		return nil, err
	}
	return loadersFrom(ctx).courseProgressLoader().Load(ctx, c.ID)
}

// continueWatching is User.continueWatching: the caller's lectures in
// progress that they may still watch, each with its progress primed for
// myProgress.
func (r *Resolver) continueWatching(ctx context.Context, obj *edustream.User, first *int) ([]*edustream.Lecture, error) {
	u := edustream.UserFromContext(ctx)
	switch {
	case u == nil:
		return nil, errUnauthenticated()
	case u.ID != obj.ID:
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "continueWatching is only for the caller themself: ask for me { continueWatching }")
	case r.Progress == nil:
		return nil, errProgressOff()
	}
	limit := defaultContinueWatching
	if first != nil {
		limit = *first
	}
	if limit < 0 || limit > MaxFirst {
		return nil, edustream.Errorf(edustream.EINVALID, "first must be between 0 and %d, got %d", MaxFirst, limit)
	}
	if limit == 0 {
		return []*edustream.Lecture{}, nil
	}
	rows, err := r.Progress.Store.FindLecturesInProgress(ctx, u.ID, limit)
	if err != nil {
		return nil, err
	}
	ls := loadersFrom(ctx)
	out := make([]*edustream.Lecture, 0, len(rows))
	lectureIDs, courseIDs := make([]int64, len(rows)), make([]int64, len(rows))
	for i, p := range rows {
		ls.lectureProgressLoader().Prime(p.LectureID, p)
		lectureIDs[i], courseIDs[i] = p.LectureID, p.CourseID
	}
	// One query per kind for the access checks below, which then read the
	// loaders' caches (a missing row's error is the check's to report).
	_, _ = ls.lectureLoader().LoadAll(ctx, lectureIDs)
	_, _ = ls.courseLoader().LoadAll(ctx, courseIDs)
	_, _ = ls.enrollmentLoader().LoadAll(ctx, courseIDs)
	for _, p := range rows {
		// The store kept hidden courses out; a course unpublished since,
		// or a lecture gone, is left out here.
		a, err := r.accessToLecture(ctx, p.LectureID)
		if edustream.ErrorCode(err) == edustream.ENOTFOUND || (err == nil && !a.watch) {
			continue
		} else if err != nil {
			return nil, err
		}
		l, err := ls.lecture(ctx, p.LectureID)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// lectureAnalytics is Lecture.analytics.
func (r *Resolver) lectureAnalytics(ctx context.Context, l *edustream.Lecture) (*edustream.LectureAnalytics, error) {
	c, err := r.analyzable(ctx, l.CourseID)
	if err != nil {
		return nil, err
	}
	var v *edustream.Video
	if l.VideoID != nil {
		if v, err = loadersFrom(ctx).videoLoader().Load(ctx, *l.VideoID); err != nil {
			return nil, notFoundAs(err, errLectureNotFound(l.ID))
		}
	}
	return r.Progress.LectureAnalytics(ctx, edustream.UserFromContext(ctx), c, l, v)
}

// courseAnalytics is Course.analytics.
func (r *Resolver) courseAnalytics(ctx context.Context, c *edustream.Course) (*edustream.CourseWatchCounts, error) {
	if _, err := r.analyzable(ctx, c.ID); err != nil {
		return nil, err
	}
	return r.Progress.CourseWatchCounts(ctx, edustream.UserFromContext(ctx), c)
}

// analyzable returns the course whose analytics the caller asks for:
// UNAUTHENTICATED, NOT_FOUND, or FORBIDDEN unless they may see them.
func (r *Resolver) analyzable(ctx context.Context, courseID int64) (*edustream.Course, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	if r.Progress == nil {
		return nil, errProgressOff()
	}
	c, err := r.visibleCourse(ctx, courseID)
	if err != nil {
		return nil, err
	}
	if !edustream.CanSeeAnalytics(u, c) {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "only the course's instructor and admins may see how its students are doing")
	}
	return c, nil
}

// studentCursorPrefix marks Course.students' cursors: the last student's
// user id.
const studentCursorPrefix = "student:"

// courseStudents is Course.students.
func (r *Resolver) courseStudents(ctx context.Context, c *edustream.Course, first *int, after *string) (*model.CourseStudentConnection, error) {
	if _, err := r.analyzable(ctx, c.ID); err != nil {
		return nil, err
	}
	limit := 20
	if first != nil {
		limit = *first
	}
	if limit < 0 || limit > MaxFirst {
		return nil, edustream.Errorf(edustream.EINVALID, "first must be between 0 and %d, got %d", MaxFirst, limit)
	}
	var afterID int64
	if after != nil {
		b, err := base64.RawURLEncoding.DecodeString(*after)
		id, perr := strconv.ParseInt(strings.TrimPrefix(string(b), studentCursorPrefix), 10, 64)
		if err != nil || perr != nil || !strings.HasPrefix(string(b), studentCursorPrefix) || id <= 0 {
			return nil, edustream.Errorf(edustream.EINVALID, "invalid cursor")
		}
		afterID = id
	}
	students, hasMore, err := r.Progress.CourseStudents(ctx, edustream.UserFromContext(ctx), c, afterID, limit)
	if err != nil {
		return nil, err
	}
	conn := &model.CourseStudentConnection{Edges: make([]*model.CourseStudentEdge, len(students)), PageInfo: &model.PageInfo{HasNextPage: hasMore}}
	for i, st := range students {
		cursor := base64.RawURLEncoding.EncodeToString([]byte(studentCursorPrefix + strconv.FormatInt(st.UserID, 10)))
		conn.Edges[i] = &model.CourseStudentEdge{Cursor: cursor, Node: st}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// retention is LectureAnalytics.retention.
func retention(a *edustream.LectureAnalytics, buckets *int) ([]float64, error) {
	n := edustream.DefaultRetentionBuckets
	if buckets != nil {
		n = *buckets
	}
	return a.Retention(n)
}

// progressLecture is the lecture of a progress update, if the caller may
// see it.
func (r *Resolver) progressLecture(ctx context.Context, e *edustream.ProgressEvent) (*edustream.Lecture, error) {
	if e.LectureProgress == nil {
		return nil, nil
	}
	return r.visibleLecture(ctx, e.LectureProgress.LectureID)
}

// timeOrNull is a time that is null when it was never set.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// progressComplexity prices the progress fields: the lists at their
// length, the analytics at what reading every learner's row costs.
func progressComplexity(c *generated.ComplexityRoot) {
	page := func(first *int, def int) int {
		if first == nil {
			return def
		}
		return min(max(*first, 1), MaxFirst)
	}
	c.User.ContinueWatching = func(child int, first *int) int {
		return gqlhttp.ListCost(page(first, defaultContinueWatching), child)
	}
	c.Course.Students = func(child int, first *int, _ *string) int { return gqlhttp.ListCost(page(first, 20), child) }
	c.Lecture.Analytics = func(child int) int { return analyticsCost + child }
	c.Course.Analytics = func(child int) int { return analyticsCost + child }
	c.CourseAnalytics.Lectures = func(child int) int { return gqlhttp.ListCost(lecturesEstimate, child) }
}
