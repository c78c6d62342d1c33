package edustream

import (
	"context"
	"time"
)

// Shared reads (the published catalog, a published course or lecture) are
// answered from caches in every API process (see the graph package), which
// drop what they hold when something those reads show changes. Writes made
// through GraphQL announce themselves there; the writes made elsewhere (the
// workers moving a video through the chain, a recording becoming a lecture,
// a user's name refreshed from their token) are announced by the wrappers
// below, so that no code path can forget to. A course's purge is not: its
// deletion hid it from every reader, and was announced then.

// AnnouncingVideos returns videos, announcing every write that changes
// what a reader sees of a video or of which video a lecture plays.
// Progress within a stage is not announced: it changes twice a second, and
// the caches do not hold the fields it moves.
func AnnouncingVideos(videos VideoService, events EventService) VideoService {
	return announcingVideos{videos, events}
}

type announcingVideos struct {
	VideoService
	events EventService
}

func (s announcingVideos) CreateVideo(ctx context.Context, v *Video) error {
	err := s.VideoService.CreateVideo(ctx, v)
	if err == nil {
		AnnounceContentChange(ctx, s.events, ContentChange{LectureID: v.LectureID, VideoID: v.ID})
	}
	return err
}

func (s announcingVideos) TransitionVideo(ctx context.Context, id int64, status VideoStatus, stage VideoStage, upd VideoUpdate) (*Video, error) {
	v, err := s.VideoService.TransitionVideo(ctx, id, status, stage, upd)
	if err == nil {
		AnnounceContentChange(ctx, s.events, ContentChange{LectureID: v.LectureID, VideoID: v.ID})
	}
	return v, err
}

func (s announcingVideos) CompleteVideo(ctx context.Context, id int64) (*Video, *Video, error) {
	v, replaced, err := s.VideoService.CompleteVideo(ctx, id)
	if err == nil {
		AnnounceContentChange(ctx, s.events, ContentChange{LectureID: v.LectureID, VideoID: v.ID})
	}
	return v, replaced, err
}

func (s announcingVideos) DeleteVideo(ctx context.Context, id int64) error {
	err := s.VideoService.DeleteVideo(ctx, id)
	if err == nil {
		AnnounceContentChange(ctx, s.events, ContentChange{VideoID: id})
	}
	return err
}

// AnnouncingUsers returns users, announcing when a known user's name, email
// or role changed (a course shows its instructor's name). A new user is
// not announced: no shared read shows a user before they teach a course.
func AnnouncingUsers(users UserService, events EventService) UserService {
	return announcingUsers{users, events}
}

type announcingUsers struct {
	UserService
	events EventService
}

func (s announcingUsers) UpsertUser(ctx context.Context, claims Claims) (*User, error) {
	// UpsertUser moves updated_at only when something changed; its times
	// are kept to the microsecond.
	before := time.Now().Truncate(time.Microsecond)
	u, err := s.UserService.UpsertUser(ctx, claims)
	if err == nil && u.CreatedAt.Before(before) && !u.UpdatedAt.Before(before) {
		AnnounceContentChange(ctx, s.events, ContentChange{UserID: u.ID})
	}
	return u, err
}

// AnnouncingLiveSessions returns sessions, announcing the lecture a
// recording's import appends to its course.
func AnnouncingLiveSessions(sessions LiveSessionService, events EventService) LiveSessionService {
	return announcingLiveSessions{sessions, events}
}

type announcingLiveSessions struct {
	LiveSessionService
	events EventService
}

func (s announcingLiveSessions) ClaimLiveRecording(ctx context.Context, r *LiveRecording, lecture *Lecture) (*LiveRecording, error) {
	claim, err := s.LiveSessionService.ClaimLiveRecording(ctx, r, lecture)
	if err == nil {
		AnnounceContentChange(ctx, s.events, ContentChange{CourseID: lecture.CourseID, LectureID: claim.LectureID})
	}
	return claim, err
}
