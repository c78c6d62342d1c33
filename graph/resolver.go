// Package graph is EduStream's GraphQL schema: gqlgen resolvers over the
// domain services, per-operation dataloaders, the error presenter that maps
// domain codes to extensions.code, subscriptions, the complexity table and
// which responses callers may share. NewHandler serves it through gqlhttp.
package graph

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/edustream/edustream"
)

// MaxFirst is the largest page a connection hands out.
const MaxFirst = 100

// Resolver is the root resolver; it holds the services every resolver uses.
type Resolver struct {
	UserService       edustream.UserService
	CourseService     edustream.CourseService
	LectureService    edustream.LectureService
	EnrollmentService edustream.EnrollmentService
	JobQueue          edustream.JobQueue
	VideoService      edustream.VideoService
	// Uploads is the upload flow behind the video mutations.
	Uploads *edustream.Uploads
	Events  edustream.EventService
	// Playback signs the URLs of READY videos (nil: none are handed out).
	Playback edustream.PlaybackURLs
	// LiveSessionService reads live sessions (nil: courses have none).
	LiveSessionService edustream.LiveSessionService
	// Live schedules and cancels live classes (nil or without Webex: the
	// live mutations refuse with a clear error).
	Live *edustream.LiveClasses
	// Operations are the admins' queues, tasks, workers, videos and audit
	// log (nil: the admin fields refuse with a clear error).
	Operations *edustream.Operations
	// Progress records and reads learning progress (nil: the progress
	// fields refuse with a clear error).
	Progress *edustream.Progress
	// Captions adds and removes caption tracks and reads them (nil: videos
	// have none, and the caption mutations refuse with a clear error).
	Captions *edustream.Captions
	// SearchService answers Query.search (nil: it refuses with a clear
	// error).
	SearchService edustream.SearchService
	// PublicCatalog lets anonymous callers see the published catalog; when
	// false they must sign in for everything.
	PublicCatalog bool
	// TestSignals tell a test what the subscriptions did.
	TestSignals SubscriptionTestSignals
}

// The helpers below are the only way resolvers obtain a course or a lecture;
// each one checks access, at the root and on every nested field alike.

// mayBrowse refuses anonymous callers when the catalog is not public.
func (r *Resolver) mayBrowse(ctx context.Context) error {
	if edustream.UserFromContext(ctx) == nil && !r.PublicCatalog {
		return errUnauthenticated()
	}
	return nil
}

// visibleCourse loads a course the caller may see. A course the caller may
// not see is reported as missing, so drafts do not leak their existence.
func (r *Resolver) visibleCourse(ctx context.Context, id int64) (*edustream.Course, error) {
	if err := r.mayBrowse(ctx); err != nil {
		return nil, err
	}
	c, err := loadersFrom(ctx).course(ctx, id)
	if err != nil {
		return nil, err
	}
	if !edustream.CanViewCourse(edustream.UserFromContext(ctx), c) {
		return nil, errCourseNotFound(id)
	}
	return c, nil
}

// visibleLecture loads a lecture whose course the caller may see.
func (r *Resolver) visibleLecture(ctx context.Context, id int64) (*edustream.Lecture, error) {
	l, err := loadersFrom(ctx).lecture(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := r.visibleCourse(ctx, l.CourseID); edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, errLectureNotFound(id)
	} else if err != nil {
		return nil, err
	}
	return l, nil
}

// editableCourse loads a course the caller may change: NOT_FOUND if they may
// not even see it, FORBIDDEN if they may see but not change it. Mutations
// read the primary (see edustream.ReadsPrimary), so this sees the latest row.
func (r *Resolver) editableCourse(ctx context.Context, id int64) (*edustream.Course, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	c, err := r.visibleCourse(ctx, id)
	if err != nil {
		return nil, err
	}
	if !edustream.CanEditCourse(u, c) {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "only the course's instructor or an admin may change course %d", id)
	}
	return c, nil
}

// editableLecture loads a lecture whose course the caller may change.
func (r *Resolver) editableLecture(ctx context.Context, id int64) (*edustream.Lecture, error) {
	if edustream.UserFromContext(ctx) == nil {
		return nil, errUnauthenticated()
	}
	l, err := r.visibleLecture(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := r.editableCourse(ctx, l.CourseID); err != nil {
		return nil, err
	}
	return l, nil
}

// Cursors are opaque to clients; inside they are the last course id seen.
const cursorPrefix = "course:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && strings.HasPrefix(string(b), cursorPrefix) {
		if id, err := strconv.ParseInt(strings.TrimPrefix(string(b), cursorPrefix), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, edustream.Errorf(edustream.EINVALID, "invalid cursor")
}

// deref returns *p, or the zero value for nil: an omitted optional input.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
