package webex

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/edustream/edustream"
)

// MeetingService implements edustream.MeetingService with a Client: what
// live sessions need of Webex, in the domain's words. Webex's errors keep
// their edustream codes (see Error.Unwrap), so a refused title is EINVALID
// and a deleted meeting ENOTFOUND.
type MeetingService struct {
	c *Client
}

var _ edustream.MeetingService = (*MeetingService)(nil)

// NewMeetingService returns the meeting service of c.
func NewMeetingService(c *Client) *MeetingService { return &MeetingService{c: c} }

// CreateMeeting schedules a meeting series that records itself, so its
// recording can become a lecture. When the answer is lost (ErrOutcomeUnknown)
// it looks for the meeting by spec.Tag: a found meeting is the create's,
// and none means Webex did not apply it.
func (s *MeetingService) CreateMeeting(ctx context.Context, spec edustream.MeetingSpec) (*edustream.Meeting, error) {
	var tags []string
	if spec.Tag != "" {
		tags = []string{spec.Tag}
	}
	m, err := s.c.CreateMeeting(ctx, NewMeeting{
		Title: spec.Title, Agenda: spec.Agenda, Start: spec.StartsAt, End: spec.EndsAt,
		EnabledAutoRecordMeeting: true, IntegrationTags: tags,
	})
	if errors.Is(err, ErrOutcomeUnknown) && spec.Tag != "" {
		found, lerr := s.c.ListMeetings(ctx, ListMeetingsOptions{
			IntegrationTag: spec.Tag, From: spec.StartsAt.Add(-time.Minute), To: spec.EndsAt.Add(time.Minute),
		})
		switch {
		case lerr != nil:
			return nil, errors.Join(err, lerr)
		case len(found) == 1:
			s.c.log.WarnContext(ctx, "webex: a create whose answer was lost was applied; using its meeting", "meetingId", found[0].ID)
			m, err = &found[0], nil
		}
	}
	if err != nil {
		return nil, err
	}
	return meetingOf(m), nil
}

// GetMeeting returns a meeting series. ENOTFOUND once it is deleted.
func (s *MeetingService) GetMeeting(ctx context.Context, id string) (*edustream.Meeting, error) {
	m, err := s.c.GetMeeting(ctx, id)
	if err != nil {
		return nil, err
	}
	return meetingOf(m), nil
}

// ListMeetings returns the series scheduled between from and to.
func (s *MeetingService) ListMeetings(ctx context.Context, from, to time.Time) ([]*edustream.Meeting, error) {
	ms, err := s.c.ListMeetings(ctx, ListMeetingsOptions{MeetingType: MeetingTypeSeries, From: from, To: to})
	if err != nil {
		return nil, err
	}
	out := make([]*edustream.Meeting, len(ms))
	for i := range ms {
		out[i] = meetingOf(&ms[i])
	}
	return out, nil
}

// UpdateMeeting sets a series' title, agenda and times, without e-mailing
// anyone: EduStream tells its own users.
func (s *MeetingService) UpdateMeeting(ctx context.Context, id string, spec edustream.MeetingSpec) (*edustream.Meeting, error) {
	m, err := s.c.UpdateMeeting(ctx, id, MeetingUpdate{
		Title: &spec.Title, Agenda: &spec.Agenda, Start: &spec.StartsAt, End: &spec.EndsAt, SendEmail: Ptr(false),
	})
	if err != nil {
		return nil, err
	}
	return meetingOf(m), nil
}

// DeleteMeeting deletes a series; a series already gone (404 or 410) is
// deleted as far as EduStream cares.
func (s *MeetingService) DeleteMeeting(ctx context.Context, id string) error {
	if err := s.c.DeleteMeeting(ctx, id, false); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

// GetRecording returns a recording. ENOTFOUND once it is deleted.
func (s *MeetingService) GetRecording(ctx context.Context, id string) (*edustream.MeetingRecording, error) {
	r, err := s.c.GetRecording(ctx, id)
	if err != nil {
		return nil, err
	}
	return &edustream.MeetingRecording{
		ID: r.ID, SeriesID: r.SeriesID(), Topic: r.Topic, Format: r.Format,
		SizeBytes: r.SizeBytes, DurationSeconds: r.DurationSeconds,
	}, nil
}

// ListRecordings returns the recordings of a meeting series made between
// from and to.
func (s *MeetingService) ListRecordings(ctx context.Context, seriesID string, from, to time.Time) ([]*edustream.MeetingRecording, error) {
	recs, err := s.c.ListRecordings(ctx, ListRecordingsOptions{MeetingID: seriesID, From: from, To: to})
	if err != nil {
		return nil, err
	}
	out := make([]*edustream.MeetingRecording, len(recs))
	for i, r := range recs {
		out[i] = &edustream.MeetingRecording{
			ID: r.ID, SeriesID: r.SeriesID(), Topic: r.Topic, Format: r.Format,
			SizeBytes: r.SizeBytes, DurationSeconds: r.DurationSeconds,
		}
	}
	return out, nil
}

// OpenRecording downloads a recording through a fresh temporary link.
func (s *MeetingService) OpenRecording(ctx context.Context, id string) (io.ReadCloser, int64, error) {
	return s.c.OpenRecording(ctx, &Recording{ID: id})
}

// meetingOf is m in the domain's words.
func meetingOf(m *Meeting) *edustream.Meeting {
	return &edustream.Meeting{
		ID: m.SeriesID(), MeetingNumber: m.MeetingNumber, Title: m.Title, Agenda: m.Agenda,
		StartsAt: m.Start.UTC(), EndsAt: m.End.UTC(),
		JoinURL: m.WebLink, Password: m.Password, HostKey: m.HostKey, SIPAddress: m.SIPAddress,
		Over: m.State == StateExpired || m.State == StateEnded || m.State == StateMissed,
	}
}

// DatabaseTokenStore is a TokenStore on the database (any
// edustream.OAuthTokenService), under one provider name.
type DatabaseTokenStore struct {
	Tokens edustream.OAuthTokenService
	// Provider names the row, e.g. "webex".
	Provider string
}

var _ TokenStore = DatabaseTokenStore{}

// Load implements TokenStore.
func (s DatabaseTokenStore) Load(ctx context.Context) (Token, error) {
	t, err := s.Tokens.LoadOAuthToken(ctx, s.Provider)
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: t.AccessToken, Expiry: t.Expiry, RefreshToken: t.RefreshToken, RefreshExpiry: t.RefreshExpiry}, nil
}

// Save implements TokenStore.
func (s DatabaseTokenStore) Save(ctx context.Context, t Token) error {
	return s.Tokens.SaveOAuthToken(ctx, s.Provider, edustream.OAuthToken{
		AccessToken: t.AccessToken, Expiry: t.Expiry, RefreshToken: t.RefreshToken, RefreshExpiry: t.RefreshExpiry,
	})
}
