package edustream

import (
	"context"
	"io"
	"strings"
	"time"
)

// Meeting is a video meeting as the meeting provider (Webex) holds it: the
// series created for a live session.
type Meeting struct {
	// ID is the series id.
	ID            string
	MeetingNumber string
	Title         string
	Agenda        string
	StartsAt      time.Time
	EndsAt        time.Time
	JoinURL       string
	Password      string
	HostKey       string
	SIPAddress    string
	// Over says the meeting's occurrence is over (it ended, or its time
	// passed without it running).
	Over bool
}

// MeetingSpec is what a meeting is created or changed with.
type MeetingSpec struct {
	Title    string
	Agenda   string
	StartsAt time.Time
	EndsAt   time.Time
	// Tag is a key of ours stored on the meeting, so a create whose answer
	// was lost can be found again instead of repeated.
	Tag string
}

// MeetingRecording is a recording of a meeting.
type MeetingRecording struct {
	ID string
	// SeriesID is the series of the recorded meeting instance.
	SeriesID string
	Topic    string
	// Format is "MP4" for a file the video pipeline can read.
	Format          string
	SizeBytes       int64
	DurationSeconds int64
}

// MeetingService is the meeting provider: Webex, through package webex.
type MeetingService interface {
	// CreateMeeting schedules a meeting. EINVALID when the provider refuses
	// the spec (with its reason). A create whose answer was lost is found
	// again by spec.Tag, never repeated.
	CreateMeeting(ctx context.Context, spec MeetingSpec) (*Meeting, error)
	// GetMeeting returns a meeting series. ENOTFOUND once it is deleted.
	GetMeeting(ctx context.Context, id string) (*Meeting, error)
	// ListMeetings returns the meeting series scheduled between from and to.
	ListMeetings(ctx context.Context, from, to time.Time) ([]*Meeting, error)
	// UpdateMeeting changes a scheduled meeting to spec (Tag is ignored).
	// EINVALID, ENOTFOUND.
	UpdateMeeting(ctx context.Context, id string, spec MeetingSpec) (*Meeting, error)
	// DeleteMeeting deletes a meeting series; one already gone is not an
	// error.
	DeleteMeeting(ctx context.Context, id string) error
	// GetRecording returns a recording. ENOTFOUND once it is deleted.
	GetRecording(ctx context.Context, id string) (*MeetingRecording, error)
	// ListRecordings returns the recordings of a meeting series made
	// between from and to.
	ListRecordings(ctx context.Context, seriesID string, from, to time.Time) ([]*MeetingRecording, error)
	// OpenRecording starts downloading a recording's file; the size is -1
	// when unknown. The caller closes the body.
	OpenRecording(ctx context.Context, id string) (body io.ReadCloser, size int64, err error)
}

// MeetingEvent is a meeting instance starting or ending, as the
// provider's webhook reports it.
type MeetingEvent struct {
	// MeetingID is the id the webhook names: an instance, not the series.
	MeetingID string
	// SeriesID is the instance's series, when the webhook says it.
	SeriesID      string
	MeetingNumber string
}

// Series returns the series of the event's meeting: SeriesID, or the part
// of an occurrence or instance id before its first "_" ("<series>_I_<n>",
// "<series>_<YYYYMMDDTHHMMSSZ>").
func (e MeetingEvent) Series() string {
	if e.SeriesID != "" {
		return e.SeriesID
	}
	series, _, _ := strings.Cut(e.MeetingID, "_")
	return series
}

// RecordingEvent is a recording made available, as the provider's webhook
// reports it.
type RecordingEvent struct {
	RecordingID string
	// SeriesID is the series of the recorded meeting, when the webhook
	// says it; recordings of meetings no session owns are then ignored
	// without asking Webex.
	SeriesID string
}

// MeetingEvents is what the provider's webhook reports, once its signature
// is checked. Deliveries repeat and arrive out of order: every method is
// idempotent and never moves a session backwards. Events about meetings
// EduStream did not create are ignored.
type MeetingEvents interface {
	MeetingStarted(ctx context.Context, e MeetingEvent) error
	MeetingEnded(ctx context.Context, e MeetingEvent) error
	RecordingCreated(ctx context.Context, e RecordingEvent) error
}

// OAuthToken is an OAuth token pair as it is kept in the database.
type OAuthToken struct {
	AccessToken   string
	Expiry        time.Time
	RefreshToken  string
	RefreshExpiry time.Time
}

// OAuthTokenService keeps the OAuth tokens of the integrations, so a
// restart (or another instance) resumes from the newest refreshed token.
type OAuthTokenService interface {
	// LoadOAuthToken returns the provider's token, or the zero token when
	// none is stored.
	LoadOAuthToken(ctx context.Context, provider string) (OAuthToken, error)
	// SaveOAuthToken replaces the provider's token.
	SaveOAuthToken(ctx context.Context, provider string, t OAuthToken) error
}
