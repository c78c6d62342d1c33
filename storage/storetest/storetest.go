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
// errors) belongs to that engine's own tests.
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
}

// Run runs the suite. open returns a new, empty store whose services stamp
// the times they write with now; it is called once per test, and the
// tests run in parallel, so each store must be independent of the others.
// open closes what it opened with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T, now edustream.Clock) Store) {
	tests := []struct {
		name string
		test func(*testing.T, *fixture)
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock()
			tt.test(t, newFixture(t, open(t, clock.Now), clock))
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

// fixture is a store under test and the clock its services read.
type fixture struct {
	clock       *Clock
	users       edustream.UserService
	courses     edustream.CourseService
	lectures    edustream.LectureService
	enrollments edustream.EnrollmentService
	videos      edustream.VideoService
	live        edustream.LiveSessionService
	tokens      edustream.OAuthTokenService
	audit       edustream.AuditLog
	progress    edustream.ProgressService
}

func newFixture(t *testing.T, s Store, clock *Clock) *fixture {
	t.Helper()
	if s.Users == nil || s.Courses == nil || s.Lectures == nil || s.Enrollments == nil || s.Videos == nil || s.Live == nil || s.Tokens == nil || s.Audit == nil || s.Progress == nil {
		t.Fatalf("open returned a store without some of its services: %+v", s)
	}
	return &fixture{
		clock:       clock,
		users:       s.Users,
		courses:     s.Courses,
		lectures:    s.Lectures,
		enrollments: s.Enrollments,
		videos:      s.Videos,
		live:        s.Live,
		tokens:      s.Tokens,
		audit:       s.Audit,
		progress:    s.Progress,
	}
}

func (f *fixture) user(t *testing.T, subject string, role edustream.Role) *edustream.User {
	t.Helper()
	u, err := f.users.UpsertUser(context.Background(), edustream.Claims{Subject: subject, Role: role, Email: subject + "@example.com", Name: subject})
	if err != nil {
		t.Fatalf("upsert user %s: %v", subject, err)
	}
	return u
}

func (f *fixture) course(t *testing.T, instructorID int64, title string, published bool) *edustream.Course {
	t.Helper()
	c := &edustream.Course{InstructorID: instructorID, Title: title, Description: "About " + title}
	if published {
		at := f.clock.Now()
		c.PublishedAt = &at
	}
	if err := f.courses.CreateCourse(context.Background(), c); err != nil {
		t.Fatalf("create course %s: %v", title, err)
	}
	return c
}

func (f *fixture) hiddenCourse(t *testing.T, instructorID int64, title string) *edustream.Course {
	t.Helper()
	c := f.course(t, instructorID, title, true)
	if err := f.courses.HideCourse(context.Background(), c.ID); err != nil {
		t.Fatalf("hide course %s: %v", title, err)
	}
	return c
}

func (f *fixture) lecture(t *testing.T, courseID int64, title string, position int) *edustream.Lecture {
	t.Helper()
	l := &edustream.Lecture{CourseID: courseID, Title: title, Position: position}
	if err := f.lectures.CreateLecture(context.Background(), l); err != nil {
		t.Fatalf("create lecture %s: %v", title, err)
	}
	return l
}

// fill appends n lectures to a course.
func (f *fixture) fill(t *testing.T, courseID int64, n int) {
	t.Helper()
	for i := range n {
		if err := f.lectures.CreateLecture(context.Background(), &edustream.Lecture{CourseID: courseID, Title: "l" + strconv.Itoa(i+1)}); err != nil {
			t.Fatalf("create lecture %d of %d: %v", i+1, n, err)
		}
	}
}

// wantCode fails the test unless err has the domain code (with message, if
// not empty).
func wantCode(t *testing.T, err error, code, message string) {
	t.Helper()
	if got := edustream.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if message != "" && edustream.ErrorMessage(err) != message {
		t.Fatalf("error message = %q, want %q", edustream.ErrorMessage(err), message)
	}
}

func ptr[T any](v T) *T { return &v }
