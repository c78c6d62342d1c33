package edustream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// recordedEvents is an EventService that records what is published.
type recordedEvents struct {
	edustream.EventService
	mu        sync.Mutex
	published []edustream.Event
}

func (r *recordedEvents) PublishEvent(_ context.Context, e edustream.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published = append(r.published, e)
	return nil
}

func (r *recordedEvents) take() []edustream.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.published
	r.published = nil
	return out
}

// stubVideos answers every write with video 9 of lecture 3, or with err.
type stubVideos struct {
	edustream.VideoService
	err error
}

func (s stubVideos) video() *edustream.Video { return &edustream.Video{ID: 9, LectureID: 3} }

func (s stubVideos) CreateVideo(_ context.Context, v *edustream.Video) error {
	*v = *s.video()
	return s.err
}

func (s stubVideos) TransitionVideo(context.Context, int64, edustream.VideoStatus, edustream.VideoStage, edustream.VideoUpdate) (*edustream.Video, error) {
	return s.video(), s.err
}

func (s stubVideos) SetVideoProgress(context.Context, int64, edustream.VideoStage, float64) error {
	return s.err
}

func (s stubVideos) CompleteVideo(context.Context, int64) (*edustream.Video, *edustream.Video, error) {
	return s.video(), nil, s.err
}

func (s stubVideos) DeleteVideo(context.Context, int64) error { return s.err }

// Every write of a video that a reader could see is announced once, and
// only if it succeeded; progress within a stage is not.
func TestAnnouncingVideos(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		write    func(edustream.VideoService) error
		announce bool
	}{
		{"create", func(s edustream.VideoService) error { return s.CreateVideo(ctx, &edustream.Video{}) }, true},
		{"transition", func(s edustream.VideoService) error {
			_, err := s.TransitionVideo(ctx, 9, edustream.VideoUploaded, edustream.StageProbe, edustream.VideoUpdate{})
			return err
		}, true},
		{"complete", func(s edustream.VideoService) error { _, _, err := s.CompleteVideo(ctx, 9); return err }, true},
		{"delete", func(s edustream.VideoService) error { return s.DeleteVideo(ctx, 9) }, true},
		{"progress", func(s edustream.VideoService) error {
			return s.SetVideoProgress(ctx, 9, edustream.StageTranscode, 40)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := &recordedEvents{}
			if err := tt.write(edustream.AnnouncingVideos(stubVideos{}, events)); err != nil {
				t.Fatal(err)
			}
			got := events.take()
			if !tt.announce {
				if len(got) != 0 {
					t.Errorf("announced %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Topic != edustream.ContentTopic || got[0].Content == nil || got[0].Content.VideoID != 9 {
				t.Fatalf("announced %+v", got)
			}
			failing := stubVideos{err: errors.New("database down")}
			if err := tt.write(edustream.AnnouncingVideos(failing, events)); err == nil {
				t.Fatal("the error was lost")
			}
			if got := events.take(); len(got) != 0 {
				t.Errorf("a failed write was announced: %+v", got)
			}
		})
	}
}

// stubUsers returns the user with the times the test gives.
type stubUsers struct {
	edustream.UserService
	created, updated time.Time
}

func (s stubUsers) UpsertUser(_ context.Context, c edustream.Claims) (*edustream.User, error) {
	return &edustream.User{ID: 5, Subject: c.Subject, CreatedAt: s.created, UpdatedAt: s.updated}, nil
}

// A user is announced when a known user changed (UpsertUser moved
// updated_at), not when one is new or the same as before.
func TestAnnouncingUsers(t *testing.T) {
	longAgo := time.Now().Add(-time.Hour)
	later := time.Now().Add(time.Minute)
	tests := []struct {
		name             string
		created, updated time.Time
		announce         bool
	}{
		{"changed", longAgo, later, true},
		{"unchanged", longAgo, longAgo, false},
		{"new", later, later, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := &recordedEvents{}
			users := edustream.AnnouncingUsers(stubUsers{created: tt.created, updated: tt.updated}, events)
			if _, err := users.UpsertUser(context.Background(), edustream.Claims{Subject: "ada"}); err != nil {
				t.Fatal(err)
			}
			got := events.take()
			if announced := len(got) == 1 && got[0].Content != nil && got[0].Content.UserID == 5; announced != tt.announce || len(got) > 1 {
				t.Errorf("announced %+v, want announced: %v", got, tt.announce)
			}
		})
	}
}

type stubSessions struct{ edustream.LiveSessionService }

func (stubSessions) ClaimLiveRecording(_ context.Context, r *edustream.LiveRecording, _ *edustream.Lecture) (*edustream.LiveRecording, error) {
	claim := *r
	claim.LectureID = 11
	return &claim, nil
}

// A recording's import appends a lecture to a course: announced.
func TestAnnouncingLiveSessions(t *testing.T) {
	events := &recordedEvents{}
	sessions := edustream.AnnouncingLiveSessions(stubSessions{}, events)
	if _, err := sessions.ClaimLiveRecording(context.Background(), &edustream.LiveRecording{RecordingID: "r"}, &edustream.Lecture{CourseID: 4}); err != nil {
		t.Fatal(err)
	}
	if got := events.take(); len(got) != 1 || got[0].Content == nil || *got[0].Content != (edustream.ContentChange{CourseID: 4, LectureID: 11}) {
		t.Errorf("announced %+v", got)
	}
}
