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
// a user's name refreshed from their token) are announced by their owners:
// VideoLifecycle, LiveClasses, and the wrapper below. A course's purge is not: its
// deletion hid it from every reader, and was announced then.

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
