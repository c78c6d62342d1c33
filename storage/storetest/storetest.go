// Package storetest is the storage conformance suite: the contract of the
// domain's storage interfaces (edustream.CourseService, LectureService and
// the others), written once and run against every implementation, the way
// river's riverdrivertest exercises each of its drivers. Package sqldb runs
// it on SQLite and MySQL/MariaDB, package edustreamtest on its in-memory
// store, so a test that uses the in-memory store sees the rules the
// database applies.
//
// The suite checks what callers can observe through the interfaces. What
// only an engine can see (rows left behind, round trips, migrations, driver
// errors) belongs to that engine's own tests, which may start from the
// suite's Fixture.
package storetest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// Store is the storage under test: one implementation of each storage
// service of the domain, sharing one database.
type Store struct {
	Users       edustream.UserService
	Courses     edustream.CourseService
	Lectures    edustream.LectureService
	Enrollments edustream.EnrollmentService
	Videos      edustream.VideoService
	Live        edustream.LiveSessionService
	Tokens      edustream.OAuthTokenService
	Audit       edustream.AuditLog
	Progress    edustream.ProgressService
	Captions    edustream.CaptionService
}

// Run runs the suite. open returns a new, empty store whose services stamp
// the times they write with now; it is called once per test, and the
// tests run in parallel, so each store must be independent of the others.
// open closes what it opened with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T, now edustream.Clock) Store) {
	tests := []struct {
		name string
		test func(*testing.T, *Fixture)
	}{
		{"Users", testUsers},
		{"Courses", testCourses},
		{"FindCourses", testFindCourses},
		{"Lectures", testLectures},
		{"LecturePositions", testLecturePositions},
		{"ConcurrentLectures", testConcurrentLectures},
		{"Enrollments", testEnrollments},
		{"Purge", testPurge},
		{"Times", testTimes},
		{"Videos", testVideos},
		{"VideoLifecycle", testVideoLifecycle},
		{"LiveSessions", testLiveSessions},
		{"LiveSessionLists", testLiveSessionLists},
		{"LiveRecordings", testLiveRecordings},
		{"OAuthTokens", testOAuthTokens},
		{"AdminVideos", testAdminVideos},
		{"LiveLookups", testLiveLookups},
		{"AuditLog", testAuditLog},
		{"Progress", testProgress},
		{"ProgressReads", testProgressReads},
		{"ProgressAnalytics", testProgressAnalytics},
		{"ProgressFlow", testProgressFlow},
		{"Captions", testCaptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock()
			s := open(t, clock.Now)
			if s.Users == nil || s.Courses == nil || s.Lectures == nil || s.Enrollments == nil || s.Videos == nil || s.Live == nil || s.Tokens == nil || s.Audit == nil || s.Progress == nil || s.Captions == nil {
				t.Fatalf("open returned a store without some of its services: %+v", s)
			}
			tt.test(t, NewFixture(s, clock))
		})
	}
}

// Clock is a clock for storage tests. It starts at a time that is neither
// UTC nor whole microseconds, so every test checks that stored times come
// back in UTC, truncated to the microsecond; each reading moves it on by a
// second and a nanosecond, so every write is later than the one before.
// It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at its starting time.
func NewClock() *Clock {
	return &Clock{t: time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))}
}

// Now moves the clock on and returns the new time; it is an
// edustream.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second + time.Nanosecond)
	return c.t
}

// Fixture is a store under test and the clock its services read, with
// helpers that create what a test starts from. The suite's tests use it,
// and so may an engine's own tests of what only it can see.
type Fixture struct {
	Store
	Clock *Clock
}

// NewFixture returns s, whose services read clock, as a Fixture.
func NewFixture(s Store, clock *Clock) *Fixture { return &Fixture{Store: s, Clock: clock} }

// User stores the user of subject with role, as its token would.
func (f *Fixture) User(t *testing.T, subject string, role edustream.Role) *edustream.User {
	t.Helper()
	u, err := f.Users.UpsertUser(context.Background(), edustream.Claims{Subject: subject, Role: role, Email: subject + "@example.com", Name: subject})
	if err != nil {
		t.Fatalf("upsert user %s: %v", subject, err)
	}
	return u
}

// Course stores a course of the instructor, published or not.
func (f *Fixture) Course(t *testing.T, instructorID int64, title string, published bool) *edustream.Course {
	t.Helper()
	c := &edustream.Course{InstructorID: instructorID, Title: title, Description: "About " + title}
	if published {
		at := f.Clock.Now()
		c.PublishedAt = &at
	}
	if err := f.Courses.CreateCourse(context.Background(), c); err != nil {
		t.Fatalf("create course %s: %v", title, err)
	}
	return c
}

func (f *Fixture) hiddenCourse(t *testing.T, instructorID int64, title string) *edustream.Course {
	t.Helper()
	c := f.Course(t, instructorID, title, true)
	if err := f.Courses.HideCourse(context.Background(), c.ID); err != nil {
		t.Fatalf("hide course %s: %v", title, err)
	}
	return c
}

// Lecture stores a lecture of the course at position (0: last).
func (f *Fixture) Lecture(t *testing.T, courseID int64, title string, position int) *edustream.Lecture {
	t.Helper()
	l := &edustream.Lecture{CourseID: courseID, Title: title, Position: position}
	if err := f.Lectures.CreateLecture(context.Background(), l); err != nil {
		t.Fatalf("create lecture %s: %v", title, err)
	}
	return l
}

// fill appends n lectures to a course.
func (f *Fixture) fill(t *testing.T, courseID int64, n int) {
	t.Helper()
	for i := range n {
		if err := f.Lectures.CreateLecture(context.Background(), &edustream.Lecture{CourseID: courseID, Title: "l" + strconv.Itoa(i+1)}); err != nil {
			t.Fatalf("create lecture %d of %d: %v", i+1, n, err)
		}
	}
}

// WantCode fails the test unless err has the domain code (with message, if
// not empty).
func WantCode(t *testing.T, err error, code, message string) {
	t.Helper()
	if got := edustream.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if message != "" && edustream.ErrorMessage(err) != message {
		t.Fatalf("error message = %q, want %q", edustream.ErrorMessage(err), message)
	}
}

func ptr[T any](v T) *T { return &v }
