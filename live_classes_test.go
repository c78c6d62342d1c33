package edustream_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
)

// countingMeetings is a MeetingService that schedules every meeting it is
// asked for and counts them.
type countingMeetings struct {
	edustream.MeetingService
	created int
}

func (m *countingMeetings) CreateMeeting(_ context.Context, spec edustream.MeetingSpec) (*edustream.Meeting, error) {
	m.created++
	id := fmt.Sprintf("meeting-%d", m.created)
	return &edustream.Meeting{ID: id, MeetingNumber: id, Title: spec.Title, StartsAt: spec.StartsAt, EndsAt: spec.EndsAt, JoinURL: "https://webex.test/" + id}, nil
}

// A course has at most MaxLiveSessionsPerCourse upcoming classes; the one
// past that is refused before Webex is asked.
func TestLiveClassesPerCourse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := edustreamtest.NewStore(nil)
	meetings := &countingMeetings{}
	events := &edustreamtest.Events{}
	live := &edustream.LiveClasses{Sessions: store, Meetings: meetings, Jobs: &edustreamtest.Jobs{}, Events: events}
	teacher := &edustream.User{ID: 1, Role: edustream.RoleInstructor}
	course := &edustream.Course{InstructorID: teacher.ID, Title: "Live"}
	if err := store.CreateCourse(ctx, course); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(24 * time.Hour).Truncate(time.Minute)
	schedule := func(i int) (*edustream.LiveSession, error) {
		at := start.Add(time.Duration(i) * time.Hour)
		return live.Schedule(ctx, teacher, course, edustream.LiveSessionInput{Title: fmt.Sprintf("Class %d", i), StartsAt: at, EndsAt: at.Add(time.Hour)})
	}
	for i := range edustream.MaxLiveSessionsPerCourse {
		if _, err := schedule(i); err != nil {
			t.Fatalf("class %d: %v", i, err)
		}
	}
	if n := events.Count(edustream.LiveSessionTopic(course.ID)); n != edustream.MaxLiveSessionsPerCourse {
		t.Errorf("published %d session events, want one per class", n)
	}
	if _, err := schedule(edustream.MaxLiveSessionsPerCourse); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Fatalf("one class too many = %v, want ECONFLICT", err)
	}
	if meetings.created != edustream.MaxLiveSessionsPerCourse {
		t.Errorf("Webex was asked for %d meetings, want %d", meetings.created, edustream.MaxLiveSessionsPerCourse)
	}
}

// recordingMeetings is a MeetingService that also has one recording of
// meeting-1, an MP4 of body.
type recordingMeetings struct {
	countingMeetings
	body string
}

func (m *recordingMeetings) GetRecording(_ context.Context, id string) (*edustream.MeetingRecording, error) {
	return &edustream.MeetingRecording{ID: id, SeriesID: "meeting-1", Format: "MP4", SizeBytes: int64(len(m.body))}, nil
}

func (m *recordingMeetings) OpenRecording(context.Context, string) (io.ReadCloser, int64, error) {
	return io.NopCloser(strings.NewReader(m.body)), int64(len(m.body)), nil
}

// A recording becomes a lecture of the class's course, whose video starts
// the chain; the new lecture is announced to the caches of shared reads,
// the session's link to it to the course's subscribers, and a repeated
// import does neither again.
func TestLiveRecordingImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLife(t).withBlobs(t)
	meetings := &recordingMeetings{body: "an mp4, as far as the import can tell"}
	jobs := &edustreamtest.Jobs{}
	live := &edustream.LiveClasses{Sessions: l.store, Meetings: meetings, Jobs: jobs, Events: l.events,
		Uploads: &edustream.Uploads{Life: l.VideoLifecycle, Blobs: l.Blobs}}
	teacher := &edustream.User{ID: 1, Role: edustream.RoleInstructor}
	course, err := l.store.FindCourseByID(ctx, l.lecture.CourseID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(time.Hour).Truncate(time.Minute)
	s, err := live.Schedule(ctx, teacher, course, edustream.LiveSessionInput{Title: "Class", StartsAt: start, EndsAt: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	l.events.Take()
	for range 2 {
		if err := live.ImportRecording(ctx, "rec-1"); err != nil {
			t.Fatal(err)
		}
	}
	linked, err := l.store.FindLiveSessionByID(ctx, s.ID)
	if err != nil || linked.RecordingLectureID == nil {
		t.Fatalf("session %+v, %v: want linked to the recording's lecture", linked, err)
	}
	var content, sessions int
	for _, e := range l.events.Take() {
		switch {
		case e.Topic == edustream.ContentTopic && e.Content != nil && e.Content.LectureID == *linked.RecordingLectureID:
			content++
		case e.LiveSession != nil && e.LiveSession.RecordingLectureID != nil:
			sessions++
		}
	}
	if content != 1 || sessions != 1 {
		t.Errorf("announced the lecture %d times and the link %d times, want once each", content, sessions)
	}
	if tasks := jobs.VideoTasks(); len(tasks) != 0 {
		t.Errorf("the live queue got video tasks %v", tasks)
	}
	if tasks := l.jobs.VideoTasks(); len(tasks) != 1 || tasks[0].Stage != edustream.StageProbe {
		t.Errorf("queued %v, want the recording's probe", tasks)
	}
}
