package edustreamtest

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/edustream/edustream"
)

// Store keeps EduStream's data in memory. It implements every storage
// service of the domain (users, courses, lectures, enrollments, videos,
// live sessions and their recordings, OAuth tokens) with the rules of
// storage/sqldb, and passes the same conformance suite: conditional
// transitions, version bumps, ordering, pagination, the error codes and
// their messages, times in UTC to the microsecond.
//
// One lock guards everything, so every write is a transaction that holds
// what sqldb's lock of a course or lecture row would. Foreign keys are not
// checked (a course's instructor need not exist), since they are the
// database's integrity and no domain rule; a test may create a course for
// user 1 without creating user 1. Every value handed out is a copy.
type Store struct {
	now edustream.Clock

	mu          sync.Mutex
	lastID      map[string]int64
	users       map[int64]*edustream.User
	courses     map[int64]*edustream.Course
	lectures    map[int64]*edustream.Lecture
	enrollments map[enrollmentKey]*edustream.Enrollment
	videos      map[int64]*edustream.Video
	sessions    map[int64]*edustream.LiveSession
	recordings  map[string]*edustream.LiveRecording
	tokens      map[string]edustream.OAuthToken
	// progress is the viewers' progress (see store_progress.go).
	progress map[progressKey]*edustream.LectureProgress
	// audit is the audit log in id order (see store_admin.go).
	audit []*edustream.AuditEntry
	// captions are the caption tracks with their cues, by id (see
	// store_captions.go).
	captions map[int64]*storedCaption
}

type enrollmentKey struct{ userID, courseID int64 }

var (
	_ edustream.UserService        = (*Store)(nil)
	_ edustream.CourseService      = (*Store)(nil)
	_ edustream.LectureService     = (*Store)(nil)
	_ edustream.EnrollmentService  = (*Store)(nil)
	_ edustream.VideoService       = (*Store)(nil)
	_ edustream.LiveSessionService = (*Store)(nil)
	_ edustream.OAuthTokenService  = (*Store)(nil)
)

// NewStore returns an empty store that stamps the times it writes with now
// (nil: time.Now).
func NewStore(now edustream.Clock) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:         now,
		lastID:      map[string]int64{},
		users:       map[int64]*edustream.User{},
		courses:     map[int64]*edustream.Course{},
		lectures:    map[int64]*edustream.Lecture{},
		enrollments: map[enrollmentKey]*edustream.Enrollment{},
		videos:      map[int64]*edustream.Video{},
		sessions:    map[int64]*edustream.LiveSession{},
		recordings:  map[string]*edustream.LiveRecording{},
		tokens:      map[string]edustream.OAuthToken{},
		progress:    map[progressKey]*edustream.LectureProgress{},
	}
}

// nextID returns the next id of a table; ids are never reused, as with
// AUTO_INCREMENT. Callers hold mu.
func (s *Store) nextID(table string) int64 {
	s.lastID[table]++
	return s.lastID[table]
}

// stamp reads the clock in the form every stored time takes.
func (s *Store) stamp() time.Time { return utcMicro(s.now()) }

// utcMicro is the form every stored time takes in sqldb: UTC, to the
// microsecond.
func utcMicro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcMicroPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utcMicro(*t)
	return &u
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func notFound(entity string, id int64) error {
	return edustream.Errorf(edustream.ENOTFOUND, "%s %d not found", entity, id)
}

// present finds the records of m.
func present[K comparable, T any](m map[K]*T) func(K) (*T, bool) {
	return func(k K) (*T, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// findOne returns a copy of the record find gives for id. ENOTFOUND, as
// entity id.
func findOne[T any](s *Store, entity string, id int64, find func(int64) (*T, bool), copyOf func(*T) *T) (*T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := find(id)
	if !ok {
		return nil, notFound(entity, id)
	}
	return copyOf(v), nil
}

// findMany returns copies of the records find gives among keys, keyed
// alike.
func findMany[K comparable, T any](s *Store, keys []K, find func(K) (*T, bool), copyOf func(*T) *T) map[K]*T {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[K]*T, len(keys))
	for _, k := range keys {
		if v, ok := find(k); ok {
			out[k] = copyOf(v)
		}
	}
	return out
}

// where returns copies of the records of m that match keep, in the order
// compare puts them (id order for ties, and without compare). Callers
// hold mu.
func where[T any](m map[int64]*T, keep func(*T) bool, compare func(a, b *T) int, copyOf func(*T) *T) []*T {
	var out []*T
	for _, id := range sortedByID(m) {
		if v := m[id]; keep(v) {
			out = append(out, copyOf(v))
		}
	}
	if compare != nil {
		slices.SortStableFunc(out, compare)
	}
	return out
}

// sortedByID returns the values of m in id order.
func sortedByID[T any](m map[int64]*T) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Users.

// UpsertUser creates the user with claims.Subject (compared byte for
// byte), or refreshes its role, email and name (an empty one keeps the
// stored value); UpdatedAt moves only when one of them changed. EINVALID for claims sqldb refuses.
func (s *Store) UpsertUser(_ context.Context, claims edustream.Claims) (*edustream.User, error) {
	if err := claims.Validate(); err != nil {
		return nil, err
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Subject != claims.Subject {
			continue
		}
		// An absent claim keeps what is stored.
		email, name := cmp.Or(claims.Email, u.Email), cmp.Or(claims.Name, u.Name)
		if u.Email != email || u.Name != name || u.Role != claims.Role {
			u.Email, u.Name, u.Role, u.UpdatedAt = email, name, claims.Role, now
		}
		return copyPtr(u), nil
	}
	u := &edustream.User{ID: s.nextID("users"), Subject: claims.Subject, Email: claims.Email, Name: claims.Name, Role: claims.Role,
		CreatedAt: now, UpdatedAt: now}
	s.users[u.ID] = u
	return copyPtr(u), nil
}

// FindUsersByIDs returns the users that exist among ids, keyed by id.
func (s *Store) FindUsersByIDs(_ context.Context, ids []int64) (map[int64]*edustream.User, error) {
	return findMany(s, ids, present(s.users), copyPtr), nil
}

// Courses.

func copyCourse(c *edustream.Course) *edustream.Course {
	cp := *c
	cp.PublishedAt, cp.DeletedAt = copyPtr(c.PublishedAt), copyPtr(c.DeletedAt)
	return &cp
}

// visibleCourse returns a course that is not hidden. Callers hold mu.
func (s *Store) visibleCourse(id int64) (*edustream.Course, bool) {
	c, ok := s.courses[id]
	if !ok || c.DeletedAt != nil {
		return nil, false
	}
	return c, true
}

// FindCourseByID returns a visible course. ENOTFOUND.
func (s *Store) FindCourseByID(_ context.Context, id int64) (*edustream.Course, error) {
	return findOne(s, "course", id, s.visibleCourse, copyCourse)
}

// FindCoursesByIDs returns the visible courses among ids, keyed by id.
func (s *Store) FindCoursesByIDs(_ context.Context, ids []int64) (map[int64]*edustream.Course, error) {
	return findMany(s, ids, s.visibleCourse, copyCourse), nil
}

// FindCourses returns one page of the catalog, newest first, and whether
// more follow. A Limit of 0 returns no courses but still reports whether
// any match; a negative Limit is EINVALID.
func (s *Store) FindCourses(_ context.Context, f edustream.CourseFilter) ([]*edustream.Course, bool, error) {
	if f.Limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "page size must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := sortedByID(s.courses)
	slices.Reverse(ids)
	var out []*edustream.Course
	for _, id := range ids {
		c := s.courses[id]
		switch {
		case c.DeletedAt != nil:
			continue
		case f.AllDrafts:
		case f.DraftsOf != 0:
			if !c.Published() && c.InstructorID != f.DraftsOf {
				continue
			}
		case !c.Published():
			continue
		}
		if f.Published != nil && c.Published() != *f.Published {
			continue
		}
		if f.MineOf != 0 && c.InstructorID != f.MineOf && s.enrollments[enrollmentKey{f.MineOf, c.ID}] == nil {
			continue
		}
		if f.BeforeID != 0 && c.ID >= f.BeforeID {
			continue
		}
		if len(out) == f.Limit {
			return out, true, nil
		}
		out = append(out, copyCourse(c))
	}
	return out, false, nil
}

// CreateCourse inserts c and sets its ID and timestamps. PublishedAt is
// kept (in UTC, to the microsecond); DeletedAt is cleared. EINVALID.
func (s *Store) CreateCourse(_ context.Context, c *edustream.Course) error {
	if err := c.Validate(); err != nil {
		return err
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	c.ID, c.PublishedAt, c.DeletedAt, c.CreatedAt, c.UpdatedAt = s.nextID("courses"), utcMicroPtr(c.PublishedAt), nil, now, now
	s.courses[c.ID] = copyCourse(c)
	return nil
}

// UpdateCourse applies upd to a visible course and returns it; UpdatedAt
// moves even when nothing changed. Publishing an already published course
// keeps its PublishedAt. ENOTFOUND, EINVALID.
func (s *Store) UpdateCourse(_ context.Context, id int64, upd edustream.CourseUpdate) (*edustream.Course, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.visibleCourse(id)
	if !ok {
		return nil, notFound("course", id)
	}
	if upd.Title != nil {
		c.Title = *upd.Title
	}
	if upd.Description != nil {
		c.Description = *upd.Description
	}
	switch {
	case upd.Published == nil:
	case !*upd.Published:
		c.PublishedAt = nil
	case c.PublishedAt == nil:
		c.PublishedAt = &now
	}
	c.UpdatedAt = now
	return copyCourse(c), nil
}

// HideCourse marks a visible course deleted. ENOTFOUND if it is already
// hidden or missing.
func (s *Store) HideCourse(_ context.Context, id int64) error {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.visibleCourse(id)
	if !ok {
		return notFound("course", id)
	}
	c.DeletedAt, c.UpdatedAt = &now, now
	return nil
}

// PurgeCourse removes a hidden course, its lectures and its enrollments,
// and marks the lectures' videos replaced. A course that is gone is a
// no-op; a visible course is ECONFLICT.
func (s *Store) PurgeCourse(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.courses[id]
	if !ok {
		return nil
	}
	if c.DeletedAt == nil {
		return edustream.Errorf(edustream.ECONFLICT, "course %d is not hidden and cannot be purged", id)
	}
	now := s.stamp()
	for lid, l := range s.lectures {
		if l.CourseID == id {
			s.replaceVideosOf(lid, now)
			delete(s.lectures, lid)
		}
	}
	for k := range s.enrollments {
		if k.courseID == id {
			delete(s.enrollments, k)
		}
	}
	delete(s.courses, id)
	return nil
}

// FindHiddenCourseIDs returns the courses waiting to be purged, oldest id
// first.
func (s *Store) FindHiddenCourseIDs(context.Context) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, id := range sortedByID(s.courses) {
		if s.courses[id].DeletedAt != nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// Lectures.

func copyLecture(l *edustream.Lecture) *edustream.Lecture {
	cp := *l
	cp.VideoID = copyPtr(l.VideoID)
	return &cp
}

// visibleLecture returns a lecture of a visible course. Callers hold mu.
func (s *Store) visibleLecture(id int64) (*edustream.Lecture, bool) {
	l, ok := s.lectures[id]
	if !ok {
		return nil, false
	}
	if _, ok := s.visibleCourse(l.CourseID); !ok {
		return nil, false
	}
	return l, true
}

// lecturesOf returns a course's lectures in position order. Callers hold
// mu.
func (s *Store) lecturesOf(courseID int64) []*edustream.Lecture {
	var out []*edustream.Lecture
	for _, l := range s.lectures {
		if l.CourseID == courseID {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b *edustream.Lecture) int { return cmp.Compare(a.Position, b.Position) })
	return out
}

// FindLectureByID returns a lecture of a visible course. ENOTFOUND.
func (s *Store) FindLectureByID(_ context.Context, id int64) (*edustream.Lecture, error) {
	return findOne(s, "lecture", id, s.visibleLecture, copyLecture)
}

// FindLecturesByIDs returns the lectures of visible courses among ids,
// keyed by id.
func (s *Store) FindLecturesByIDs(_ context.Context, ids []int64) (map[int64]*edustream.Lecture, error) {
	return findMany(s, ids, s.visibleLecture, copyLecture), nil
}

// FindLecturesByCourseIDs returns each visible course's lectures in
// position order; courses without lectures (or hidden, or missing) have no
// entry.
func (s *Store) FindLecturesByCourseIDs(_ context.Context, courseIDs []int64) (map[int64][]*edustream.Lecture, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64][]*edustream.Lecture, len(courseIDs))
	for _, id := range courseIDs {
		if _, ok := s.visibleCourse(id); !ok || out[id] != nil {
			continue
		}
		for _, l := range s.lecturesOf(id) {
			out[id] = append(out[id], copyLecture(l))
		}
	}
	return out, nil
}

// FindLectureOutlinesByCourseIDs is FindLecturesByCourseIDs without the
// descriptions, each lecture marked Outline, as sqldb reads them.
func (s *Store) FindLectureOutlinesByCourseIDs(ctx context.Context, courseIDs []int64) (map[int64][]*edustream.Lecture, error) {
	out, err := s.FindLecturesByCourseIDs(ctx, courseIDs)
	for _, ls := range out {
		for _, l := range ls {
			l.Description, l.Outline = "", true
		}
	}
	return out, err
}

// insertLecture inserts l into its visible course at l.Position (0 or
// past the end: append), moving the lectures at and after it down by one,
// and sets its ID, final position and timestamps. ECONFLICT when the
// course is full. Callers hold mu.
func (s *Store) insertLecture(l *edustream.Lecture, now time.Time) error {
	existing := s.lecturesOf(l.CourseID)
	n := len(existing)
	if n >= edustream.MaxLecturesPerCourse {
		return edustream.Errorf(edustream.ECONFLICT, "course %d already has the maximum of %d lectures", l.CourseID, edustream.MaxLecturesPerCourse)
	}
	pos := l.Position
	if pos <= 0 || pos > n {
		pos = n + 1
	} else {
		for _, other := range existing[pos-1:] {
			other.Position++
			other.UpdatedAt = now
		}
	}
	l.ID, l.Position, l.CreatedAt, l.UpdatedAt = s.nextID("lectures"), pos, now, now
	s.lectures[l.ID] = copyLecture(l)
	return nil
}

// CreateLecture inserts l at l.Position (0 or past the end: append) and
// sets its ID, final position and timestamps. ENOTFOUND for a missing or
// hidden course; ECONFLICT for a full one; EINVALID.
func (s *Store) CreateLecture(_ context.Context, l *edustream.Lecture) error {
	if err := l.Validate(); err != nil {
		return err
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.visibleCourse(l.CourseID); !ok {
		return notFound("course", l.CourseID)
	}
	return s.insertLecture(l, now)
}

// UpdateLecture applies upd to a lecture of a visible course and returns
// it. ENOTFOUND, EINVALID.
func (s *Store) UpdateLecture(_ context.Context, id int64, upd edustream.LectureUpdate) (*edustream.Lecture, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.visibleLecture(id)
	if !ok {
		return nil, notFound("lecture", id)
	}
	if upd.Title != nil {
		l.Title = *upd.Title
	}
	if upd.Description != nil {
		l.Description = *upd.Description
	}
	l.UpdatedAt = now
	return copyLecture(l), nil
}

// MoveLecture moves a lecture of a visible course to position (clamped to
// 1..n), shifting the lectures in between by one, and returns it. A move
// to where it is changes nothing. ENOTFOUND.
func (s *Store) MoveLecture(_ context.Context, id int64, position int) (*edustream.Lecture, error) {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.visibleLecture(id)
	if !ok {
		return nil, notFound("lecture", id)
	}
	lectures := s.lecturesOf(l.CourseID)
	old, target := l.Position, min(max(position, 1), len(lectures))
	if target != old {
		for _, other := range lectures {
			switch {
			case target < old && other.Position >= target && other.Position < old:
				other.Position++
			case target > old && other.Position > old && other.Position <= target:
				other.Position--
			default:
				continue
			}
			other.UpdatedAt = now
		}
		l.Position, l.UpdatedAt = target, now
	}
	return copyLecture(l), nil
}

// DeleteLecture removes a lecture of a visible course, moves the lectures
// after it up by one, and marks its videos replaced. ENOTFOUND.
func (s *Store) DeleteLecture(_ context.Context, id int64) error {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.visibleLecture(id)
	if !ok {
		return notFound("lecture", id)
	}
	s.replaceVideosOf(id, now)
	delete(s.lectures, id)
	for _, other := range s.lecturesOf(l.CourseID) {
		if other.Position > l.Position {
			other.Position--
			other.UpdatedAt = now
		}
	}
	return nil
}

// Enrollments.

// Enroll enrolls the user in a visible course and returns the enrollment;
// enrolling twice returns the first. ENOTFOUND for a missing or hidden
// course.
func (s *Store) Enroll(_ context.Context, userID, courseID int64) (*edustream.Enrollment, error) {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.visibleCourse(courseID); !ok {
		return nil, notFound("course", courseID)
	}
	k := enrollmentKey{userID, courseID}
	e, ok := s.enrollments[k]
	if !ok {
		e = &edustream.Enrollment{UserID: userID, CourseID: courseID, CreatedAt: now}
		s.enrollments[k] = e
	}
	return copyPtr(e), nil
}

// FindEnrollments returns the user's enrollments in visible courses among
// courseIDs, keyed by course id.
func (s *Store) FindEnrollments(_ context.Context, userID int64, courseIDs []int64) (map[int64]*edustream.Enrollment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]*edustream.Enrollment, len(courseIDs))
	for _, id := range courseIDs {
		if _, ok := s.visibleCourse(id); !ok {
			continue
		}
		if e, ok := s.enrollments[enrollmentKey{userID, id}]; ok {
			out[id] = copyPtr(e)
		}
	}
	return out, nil
}

// Videos.

func copyVideo(v *edustream.Video) *edustream.Video {
	cp := *v
	cp.Media = copyPtr(v.Media)
	if v.Renditions != nil {
		cp.Renditions = slices.Clone(v.Renditions)
	}
	cp.ReadyAt, cp.ReplacedAt = copyPtr(v.ReadyAt), copyPtr(v.ReplacedAt)
	return &cp
}

// replaceVideosOf marks the videos of a lecture that is going away, so the
// cleanup deletes them. Callers hold mu.
func (s *Store) replaceVideosOf(lectureID int64, now time.Time) {
	for _, v := range s.videos {
		if v.LectureID == lectureID && v.ReplacedAt == nil {
			v.ReplacedAt, v.UpdatedAt = &now, now
		}
	}
}

// CreateVideo inserts v as AWAITING_UPLOAD at StageUpload and sets its ID,
// version and timestamps; an older upload of the lecture that was never
// completed is marked replaced. ENOTFOUND for a missing lecture (or one of
// a hidden course); ECONFLICT while the lecture's newest video is being
// processed.
func (s *Store) CreateVideo(_ context.Context, v *edustream.Video) error {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.visibleLecture(v.LectureID); !ok {
		return notFound("lecture", v.LectureID)
	}
	for _, other := range s.videos {
		if other.LectureID == v.LectureID && other.ReplacedAt == nil &&
			(other.Status == edustream.VideoUploaded || other.Status == edustream.VideoProcessing) {
			return edustream.Errorf(edustream.ECONFLICT, "lecture %d has a video being processed; wait until it is ready or failed", v.LectureID)
		}
	}
	for _, other := range s.videos {
		if other.LectureID == v.LectureID && other.ReplacedAt == nil && other.Status == edustream.VideoAwaitingUpload {
			other.ReplacedAt, other.UpdatedAt = &now, now
		}
	}
	v.ID, v.Status, v.Stage, v.Progress, v.Error, v.Version = s.nextID("videos"), edustream.VideoAwaitingUpload, edustream.StageUpload, 0, "", 1
	v.UploadExpiresAt, v.CreatedAt, v.UpdatedAt = utcMicro(v.UploadExpiresAt), now, now
	// What the row holds: the fields CreateVideo does not write are empty.
	s.videos[v.ID] = &edustream.Video{ID: v.ID, LectureID: v.LectureID, UploaderID: v.UploaderID,
		Status: v.Status, Stage: v.Stage, Version: v.Version,
		FileName: v.FileName, ContentType: v.ContentType, SizeBytes: v.SizeBytes, UploadID: v.UploadID, UploadExpiresAt: v.UploadExpiresAt,
		CreatedAt: now, UpdatedAt: now}
	return nil
}

// FindVideoByID returns a video. ENOTFOUND.
func (s *Store) FindVideoByID(_ context.Context, id int64) (*edustream.Video, error) {
	return findOne(s, "video", id, present(s.videos), copyVideo)
}

// FindVideosByIDs returns the videos that exist among ids, keyed by id.
func (s *Store) FindVideosByIDs(_ context.Context, ids []int64) (map[int64]*edustream.Video, error) {
	return findMany(s, ids, present(s.videos), copyVideo), nil
}

// FindLatestVideosByLectureIDs returns each lecture's newest video (the
// highest id, replaced or not), keyed by lecture id.
func (s *Store) FindLatestVideosByLectureIDs(_ context.Context, lectureIDs []int64) (map[int64]*edustream.Video, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]*edustream.Video, len(lectureIDs))
	for _, id := range lectureIDs {
		for _, v := range s.videos {
			if v.LectureID == id && (out[id] == nil || v.ID > out[id].ID) {
				out[id] = v
			}
		}
	}
	for id, v := range out {
		out[id] = copyVideo(v)
	}
	return out, nil
}

// TransitionVideo applies upd if the video is still at (status, stage),
// bumping its version when the status or stage changes; a reason longer
// than MaxVideoErrorLength is cut to fit, and READY stamps ReadyAt.
// ECONFLICT when the video has moved on, ENOTFOUND.
func (s *Store) TransitionVideo(_ context.Context, id int64, status edustream.VideoStatus, stage edustream.VideoStage, upd edustream.VideoUpdate) (*edustream.Video, error) {
	now := s.stamp()
	if upd.Error != nil && utf8.RuneCountInString(*upd.Error) > edustream.MaxVideoErrorLength {
		cut := string([]rune(*upd.Error)[:edustream.MaxVideoErrorLength-1]) + "…"
		upd.Error = &cut
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.videos[id]
	if !ok {
		return nil, notFound("video", id)
	}
	if v.Status != status || v.Stage != stage {
		return nil, edustream.Errorf(edustream.ECONFLICT, "video %d is %s at %s, not %s at %s", id, v.Status, v.Stage, status, stage)
	}
	if (upd.Status != nil && *upd.Status != status) || (upd.Stage != nil && *upd.Stage != stage) {
		v.Version++
	}
	if upd.Status != nil {
		v.Status = *upd.Status
		if v.Status == edustream.VideoReady {
			v.ReadyAt = &now
		}
	}
	if upd.Stage != nil {
		v.Stage = *upd.Stage
	}
	if upd.Progress != nil {
		v.Progress = *upd.Progress
	}
	if upd.Error != nil {
		v.Error = *upd.Error
	}
	if upd.UploadID != nil {
		v.UploadID = *upd.UploadID
	}
	if upd.Media != nil {
		v.Media = copyPtr(upd.Media)
	}
	if upd.Renditions != nil {
		v.Renditions = slices.Clone(upd.Renditions)
	}
	if upd.TranscoderJobID != nil {
		v.TranscoderJobID = *upd.TranscoderJobID
	}
	v.UpdatedAt = now
	return copyVideo(v), nil
}

// SetVideoProgress records progress within a running stage, without a
// version bump; a video that is not PROCESSING at stage is left alone.
func (s *Store) SetVideoProgress(_ context.Context, id int64, stage edustream.VideoStage, progress float64) error {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.videos[id]; ok && v.Stage == stage && v.Status == edustream.VideoProcessing {
		v.Progress, v.UpdatedAt = progress, now
	}
	return nil
}

// CompleteVideo makes a video PROCESSING at StageComplete READY and its
// lecture's current video, marks every older video of the lecture
// replaced, and returns the video and the one that played until now.
// ECONFLICT if the video is not waiting to complete; ENOTFOUND for a
// missing video, or a lecture that is gone or hidden.
func (s *Store) CompleteVideo(_ context.Context, id int64) (video, replaced *edustream.Video, err error) {
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.videos[id]
	if !ok {
		return nil, nil, notFound("video", id)
	}
	l, ok := s.visibleLecture(v.LectureID)
	if !ok {
		return nil, nil, notFound("lecture", v.LectureID)
	}
	if v.Status != edustream.VideoProcessing || v.Stage != edustream.StageComplete || v.ReplacedAt != nil {
		return nil, nil, edustream.Errorf(edustream.ECONFLICT, "video %d is not waiting to complete", id)
	}
	v.Status, v.Progress, v.Error, v.ReadyAt, v.UpdatedAt = edustream.VideoReady, 100, "", &now, now
	v.Version++
	for _, older := range s.videos {
		if older.LectureID == v.LectureID && older.ID < id && older.ReplacedAt == nil {
			older.ReplacedAt, older.UpdatedAt = &now, now
		}
	}
	current := l.VideoID
	l.VideoID, l.UpdatedAt = &id, now
	if current != nil && *current != id {
		if r, ok := s.videos[*current]; ok {
			replaced = copyVideo(r)
		}
	}
	return copyVideo(v), replaced, nil
}

// videosWhere returns copies of the videos that match keep, in the order
// less puts them (id order for ties). Callers hold mu.
func (s *Store) videosWhere(keep func(*edustream.Video) bool, less func(a, b *edustream.Video) int) []*edustream.Video {
	return where(s.videos, keep, less, copyVideo)
}

// FindUnfinishedVideos returns the UPLOADED and PROCESSING videos, not
// replaced, unchanged since before, oldest change first.
func (s *Store) FindUnfinishedVideos(_ context.Context, before time.Time) ([]*edustream.Video, error) {
	before = utcMicro(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.videosWhere(func(v *edustream.Video) bool {
		return (v.Status == edustream.VideoUploaded || v.Status == edustream.VideoProcessing) && v.UpdatedAt.Before(before) && v.ReplacedAt == nil
	}, func(a, b *edustream.Video) int { return a.UpdatedAt.Compare(b.UpdatedAt) }), nil
}

// FindExpiredUploads returns the AWAITING_UPLOAD videos, not replaced,
// whose upload expired before now, in id order.
func (s *Store) FindExpiredUploads(_ context.Context, now time.Time) ([]*edustream.Video, error) {
	now = utcMicro(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.videosWhere(func(v *edustream.Video) bool {
		return v.Status == edustream.VideoAwaitingUpload && v.UploadExpiresAt.Before(now) && v.ReplacedAt == nil
	}, nil), nil
}

// FindReplacedVideos returns the videos whose outputs wait to be deleted,
// in id order.
func (s *Store) FindReplacedVideos(context.Context) ([]*edustream.Video, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.videosWhere(func(v *edustream.Video) bool { return v.ReplacedAt != nil }, nil), nil
}

// DeleteVideo removes a replaced video. A missing video is not an error;
// one that is not replaced is ECONFLICT.
func (s *Store) DeleteVideo(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.videos[id]
	if !ok {
		return nil
	}
	if v.ReplacedAt == nil {
		return edustream.Errorf(edustream.ECONFLICT, "video %d is not replaced and cannot be deleted", id)
	}
	delete(s.videos, id)
	s.deleteCaptionsOf(id)
	return nil
}

// OAuth tokens.

// LoadOAuthToken returns the provider's token, or the zero token when none
// is stored.
func (s *Store) LoadOAuthToken(_ context.Context, provider string) (edustream.OAuthToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[provider], nil
}

// SaveOAuthToken replaces the provider's token, its times in UTC to the
// microsecond.
func (s *Store) SaveOAuthToken(_ context.Context, provider string, t edustream.OAuthToken) error {
	if !t.Expiry.IsZero() {
		t.Expiry = utcMicro(t.Expiry)
	}
	if !t.RefreshExpiry.IsZero() {
		t.RefreshExpiry = utcMicro(t.RefreshExpiry)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[provider] = t
	return nil
}
