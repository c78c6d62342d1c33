package webex

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/edustream/edustream"
)

// Meeting types: POST /meetings creates a series; a series has scheduled
// meetings (occurrences); a scheduled meeting that runs becomes a meeting
// instance.
const (
	MeetingTypeSeries    = "meetingSeries"
	MeetingTypeScheduled = "scheduledMeeting"
	MeetingTypeInstance  = "meeting"
)

// Meeting states, as Webex reports them. A series is active until its last
// occurrence is over (expired); an instance is inProgress, then ended.
const (
	StateActive     = "active"
	StateScheduled  = "scheduled"
	StateReady      = "ready"
	StateLobby      = "lobby"
	StateInProgress = "inProgress"
	StateEnded      = "ended"
	StateMissed     = "missed"
	StateExpired    = "expired"
)

// Meeting is a meeting series, a scheduled meeting or a meeting instance.
// Which fields are set depends on MeetingType and State; webhooks of the
// meetings resource carry the instance in this shape too.
type Meeting struct {
	ID string `json:"id"`
	// MeetingSeriesID and ScheduledMeetingID name the parents of scheduled
	// meetings and instances; empty on a series.
	MeetingSeriesID    string `json:"meetingSeriesId,omitempty"`
	ScheduledMeetingID string `json:"scheduledMeetingId,omitempty"`
	MeetingNumber      string `json:"meetingNumber,omitempty"`
	Title              string `json:"title,omitempty"`
	Agenda             string `json:"agenda,omitempty"`
	Password           string `json:"password,omitempty"`
	// PhoneAndVideoSystemPassword is the numeric password for phones and
	// video systems.
	PhoneAndVideoSystemPassword string `json:"phoneAndVideoSystemPassword,omitempty"`
	MeetingType                 string `json:"meetingType,omitempty"`
	State                       string `json:"state,omitempty"`
	IsModified                  bool   `json:"isModified,omitempty"`
	Timezone                    string `json:"timezone,omitempty"`
	// Start and End are the scheduled times, or for an instance when it
	// actually started and ended.
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	Recurrence      string    `json:"recurrence,omitempty"`
	HostUserID      string    `json:"hostUserId,omitempty"`
	HostDisplayName string    `json:"hostDisplayName,omitempty"`
	HostEmail       string    `json:"hostEmail,omitempty"`
	HostKey         string    `json:"hostKey,omitempty"`
	SiteURL         string    `json:"siteUrl,omitempty"`
	// WebLink is the join URL.
	WebLink                  string     `json:"webLink,omitempty"`
	SIPAddress               string     `json:"sipAddress,omitempty"`
	DialInIPAddress          string     `json:"dialInIpAddress,omitempty"`
	EnabledAutoRecordMeeting bool       `json:"enabledAutoRecordMeeting,omitempty"`
	EnabledJoinBeforeHost    bool       `json:"enabledJoinBeforeHost,omitempty"`
	JoinBeforeHostMinutes    int        `json:"joinBeforeHostMinutes,omitempty"`
	ExcludePassword          bool       `json:"excludePassword,omitempty"`
	PublicMeeting            bool       `json:"publicMeeting,omitempty"`
	ScheduledType            string     `json:"scheduledType,omitempty"`
	HasRecording             bool       `json:"hasRecording,omitempty"`
	IntegrationTags          []string   `json:"integrationTags,omitempty"`
	Telephony                *Telephony `json:"telephony,omitempty"`
}

// SeriesID returns the id of the series m belongs to: the series itself,
// or the parent of a scheduled meeting or instance.
func (m *Meeting) SeriesID() string {
	if m.MeetingSeriesID != "" {
		return m.MeetingSeriesID
	}
	return SeriesID(m.ID)
}

// Telephony is how to dial in.
type Telephony struct {
	AccessCode    string         `json:"accessCode,omitempty"`
	CallInNumbers []CallInNumber `json:"callInNumbers,omitempty"`
}

// CallInNumber is one dial-in number.
type CallInNumber struct {
	Label        string `json:"label,omitempty"`
	CallInNumber string `json:"callInNumber,omitempty"`
	TollType     string `json:"tollType,omitempty"`
}

// Invitee is someone invited to a meeting.
type Invitee struct {
	Email       string `json:"email"`
	DisplayName string `json:"displayName,omitempty"`
	CoHost      bool   `json:"coHost,omitempty"`
}

// NewMeeting is the body of POST /meetings. Webex requires Title (at most
// 128 characters), Start and End (10 minutes to 24 hours apart, Start not
// in the past); it generates a password when Password is empty.
type NewMeeting struct {
	Title    string
	Agenda   string
	Password string
	Start    time.Time
	End      time.Time
	// Timezone is an IANA name; Webex uses it for e-mails and for times in
	// its UI.
	Timezone                 string
	EnabledAutoRecordMeeting bool
	EnabledJoinBeforeHost    bool
	JoinBeforeHostMinutes    int
	Invitees                 []Invitee
	// SendEmail asks Webex to e-mail the host and invitees. It is sent
	// explicitly (Webex's own default is true).
	SendEmail bool
	// HostEmail schedules on behalf of that user (admin scopes only).
	HostEmail string
	// IntegrationTags are our own keys on the meeting, searchable with
	// ListMeetingsOptions.IntegrationTag. Set one (the live session id) so
	// a create whose answer was lost (ErrOutcomeUnknown) can be found.
	IntegrationTags []string
}

// MarshalJSON writes times as RFC 3339 in UTC, whole seconds.
func (n NewMeeting) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Title                    string    `json:"title"`
		Agenda                   string    `json:"agenda,omitempty"`
		Password                 string    `json:"password,omitempty"`
		Start                    string    `json:"start"`
		End                      string    `json:"end"`
		Timezone                 string    `json:"timezone,omitempty"`
		EnabledAutoRecordMeeting bool      `json:"enabledAutoRecordMeeting"`
		EnabledJoinBeforeHost    bool      `json:"enabledJoinBeforeHost"`
		JoinBeforeHostMinutes    int       `json:"joinBeforeHostMinutes,omitempty"`
		Invitees                 []Invitee `json:"invitees,omitempty"`
		SendEmail                bool      `json:"sendEmail"`
		HostEmail                string    `json:"hostEmail,omitempty"`
		IntegrationTags          []string  `json:"integrationTags,omitempty"`
	}{
		n.Title, n.Agenda, n.Password, isoTime(n.Start), isoTime(n.End), n.Timezone,
		n.EnabledAutoRecordMeeting, n.EnabledJoinBeforeHost, n.JoinBeforeHostMinutes,
		n.Invitees, n.SendEmail, n.HostEmail, n.IntegrationTags,
	})
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// MeetingUpdate is the body of PATCH /meetings/{id}: nil fields are left
// as they are. Webex keeps start and end to the minute.
type MeetingUpdate struct {
	Title                    *string
	Agenda                   *string
	Password                 *string
	Start                    *time.Time
	End                      *time.Time
	Timezone                 *string
	EnabledAutoRecordMeeting *bool
	EnabledJoinBeforeHost    *bool
	JoinBeforeHostMinutes    *int
	// SendEmail asks Webex to e-mail the change to the host and invitees.
	SendEmail *bool
}

// MarshalJSON writes only the fields that are set.
func (u MeetingUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	put := func(k string, set bool, v func() any) {
		if set {
			m[k] = v()
		}
	}
	put("title", u.Title != nil, func() any { return *u.Title })
	put("agenda", u.Agenda != nil, func() any { return *u.Agenda })
	put("password", u.Password != nil, func() any { return *u.Password })
	put("start", u.Start != nil, func() any { return isoTime(*u.Start) })
	put("end", u.End != nil, func() any { return isoTime(*u.End) })
	put("timezone", u.Timezone != nil, func() any { return *u.Timezone })
	put("enabledAutoRecordMeeting", u.EnabledAutoRecordMeeting != nil, func() any { return *u.EnabledAutoRecordMeeting })
	put("enabledJoinBeforeHost", u.EnabledJoinBeforeHost != nil, func() any { return *u.EnabledJoinBeforeHost })
	put("joinBeforeHostMinutes", u.JoinBeforeHostMinutes != nil, func() any { return *u.JoinBeforeHostMinutes })
	put("sendEmail", u.SendEmail != nil, func() any { return *u.SendEmail })
	return json.Marshal(m)
}

// Ptr returns a pointer to v, for MeetingUpdate literals.
func Ptr[T any](v T) *T { return &v }

// CreateMeeting schedules a meeting series and returns it, with its join
// link, meeting number, password and host key.
//
// It is never retried after a 5xx or a lost response, which could schedule
// a second meeting: such an error matches ErrOutcomeUnknown, and the caller
// looks for the meeting by its integration tag before creating again. A 429
// or 423 is retried, since Webex did not process the request.
func (c *Client) CreateMeeting(ctx context.Context, m NewMeeting) (*Meeting, error) {
	var out Meeting
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/meetings", body: m, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetMeeting returns the series, scheduled meeting or instance with the id.
// A meeting deleted in Webex is an error for which IsNotFound is true.
func (c *Client) GetMeeting(ctx context.Context, id string) (*Meeting, error) {
	if err := checkID("meeting", id); err != nil {
		return nil, err
	}
	var out Meeting
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/meetings/" + url.PathEscape(id), idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateMeeting changes the fields of u that are set, on a series (all its
// occurrences) or one scheduled meeting, and returns the result. It uses
// PATCH, which Webex documents as the update method (PUT still works but is
// to be deprecated). The patch sets absolute values, so repeating it is
// harmless and it is retried like a PUT.
func (c *Client) UpdateMeeting(ctx context.Context, id string, u MeetingUpdate) (*Meeting, error) {
	if err := checkID("meeting", id); err != nil {
		return nil, err
	}
	var out Meeting
	_, err := c.do(ctx, request{
		method: http.MethodPatch, path: "/meetings/" + url.PathEscape(id), body: u,
		// The Webex API reference declares this media type for the PATCH body.
		contentType: "application/json-patch+json",
		idempotent:  true, out: &out,
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteMeeting deletes a series (with all its occurrences) or one
// scheduled meeting. sendEmail asks Webex to tell the host and invitees.
// When an earlier attempt's answer was lost and the retry finds the meeting
// gone, the delete succeeded and DeleteMeeting returns nil.
func (c *Client) DeleteMeeting(ctx context.Context, id string, sendEmail bool) error {
	if err := checkID("meeting", id); err != nil {
		return err
	}
	_, err := c.do(ctx, request{
		method: http.MethodDelete, path: "/meetings/" + url.PathEscape(id),
		query:      url.Values{"sendEmail": {strconv.FormatBool(sendEmail)}},
		idempotent: true, goneOK: true,
	})
	return err
}

// ListMeetingsOptions filters GET /meetings. Webex defaults the time range
// to the next (or, for instances, the last) 7 days, so set From and To.
type ListMeetingsOptions struct {
	// MeetingType is MeetingTypeSeries (Webex's default), MeetingTypeScheduled
	// or MeetingTypeInstance.
	MeetingType string
	State       string
	From, To    time.Time
	// MeetingNumber finds the meetings with that number; Webex then
	// ignores the other filters.
	MeetingNumber  string
	IntegrationTag string
	// PageSize is the max parameter, 1 to 100; 100 when zero.
	PageSize int
}

// ListMeetings returns every meeting that matches o, following the pages.
func (c *Client) ListMeetings(ctx context.Context, o ListMeetingsOptions) ([]Meeting, error) {
	q := url.Values{}
	setNonEmpty(q, "meetingType", o.MeetingType)
	setNonEmpty(q, "state", o.State)
	setNonEmpty(q, "from", isoTime(o.From))
	setNonEmpty(q, "to", isoTime(o.To))
	setNonEmpty(q, "meetingNumber", o.MeetingNumber)
	setNonEmpty(q, "integrationTag", o.IntegrationTag)
	if err := setPageSize(q, o.PageSize); err != nil {
		return nil, err
	}
	return list[Meeting](ctx, c, "/meetings", q)
}

func setNonEmpty(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func setPageSize(q url.Values, n int) error {
	switch {
	case n == 0:
		n = 100
	case n < 1 || n > 100:
		return edustream.Errorf(edustream.EINVALID, "webex: page size %d is not between 1 and 100", n)
	}
	q.Set("max", strconv.Itoa(n))
	return nil
}

// checkID refuses an empty id, which would turn GET /meetings/{id} into a
// list and DELETE into a 404 that looks like success.
func checkID(kind, id string) error {
	if id == "" {
		return edustream.Errorf(edustream.EINVALID, "webex: empty %s id", kind)
	}
	return nil
}
