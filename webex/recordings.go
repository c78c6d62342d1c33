package webex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Recording is a meeting recording. List calls and webhooks leave
// TemporaryDirectDownloadLinks nil; GetRecording fills it. Format is MP4,
// or ARF, Webex's own format, which needs its player.
type Recording struct {
	ID string `json:"id"`
	// MeetingID is the instance that was recorded.
	MeetingID          string    `json:"meetingId"`
	ScheduledMeetingID string    `json:"scheduledMeetingId,omitempty"`
	MeetingSeriesID    string    `json:"meetingSeriesId,omitempty"`
	Topic              string    `json:"topic,omitempty"`
	CreateTime         time.Time `json:"createTime"`
	// TimeRecorded is when recording started in the meeting.
	TimeRecorded    time.Time `json:"timeRecorded"`
	HostDisplayName string    `json:"hostDisplayName,omitempty"`
	HostEmail       string    `json:"hostEmail,omitempty"`
	SiteURL         string    `json:"siteUrl,omitempty"`
	// DownloadURL and PlaybackURL are pages for people (they need a Webex
	// login); machines download through TemporaryDirectDownloadLinks.
	DownloadURL     string   `json:"downloadUrl,omitempty"`
	PlaybackURL     string   `json:"playbackUrl,omitempty"`
	Password        string   `json:"password,omitempty"`
	Format          string   `json:"format,omitempty"`
	ServiceType     string   `json:"serviceType,omitempty"`
	DurationSeconds int64    `json:"durationSeconds,omitempty"`
	SizeBytes       int64    `json:"sizeBytes,omitempty"`
	ShareToMe       bool     `json:"shareToMe,omitempty"`
	IntegrationTags []string `json:"integrationTags,omitempty"`
	// Status is available, deleted (in the recycle bin) or purged.
	Status                       string                        `json:"status,omitempty"`
	TemporaryDirectDownloadLinks *TemporaryDirectDownloadLinks `json:"temporaryDirectDownloadLinks,omitempty"`
}

// SeriesID returns the id of the meeting series the recording belongs to.
func (r *Recording) SeriesID() string {
	if r.MeetingSeriesID != "" {
		return r.MeetingSeriesID
	}
	return SeriesID(r.MeetingID)
}

// TemporaryDirectDownloadLinks are pre-authorized links to the files of a
// recording, valid until Expiration.
type TemporaryDirectDownloadLinks struct {
	RecordingDownloadLink  string    `json:"recordingDownloadLink,omitempty"`
	AudioDownloadLink      string    `json:"audioDownloadLink,omitempty"`
	TranscriptDownloadLink string    `json:"transcriptDownloadLink,omitempty"`
	Expiration             time.Time `json:"expiration"`
}

// ListRecordingsOptions filters GET /recordings.
type ListRecordingsOptions struct {
	// MeetingID may name a series (all its recordings), a scheduled meeting
	// or an instance.
	MeetingID string
	// From and To bound the creation time. Webex's documented default is
	// the last 7 days, so a reconciler looking further back must set them.
	From, To time.Time
	Format   string
	// PageSize is the max parameter, 1 to 100; 100 when zero.
	PageSize int
}

// ListRecordings returns the recordings that match o, following the pages.
// To find the recordings of a live session, pass its series id as
// MeetingID: the recordings name the instance, which EduStream never
// stored.
func (c *Client) ListRecordings(ctx context.Context, o ListRecordingsOptions) ([]Recording, error) {
	q := url.Values{}
	setNonEmpty(q, "meetingId", o.MeetingID)
	setNonEmpty(q, "from", isoTime(o.From))
	setNonEmpty(q, "to", isoTime(o.To))
	setNonEmpty(q, "format", o.Format)
	if err := setPageSize(q, o.PageSize); err != nil {
		return nil, err
	}
	return list[Recording](ctx, c, "/recordings", q)
}

// GetRecording returns a recording with its temporary download links.
func (c *Client) GetRecording(ctx context.Context, id string) (*Recording, error) {
	if err := checkID("recording", id); err != nil {
		return nil, err
	}
	var out Recording
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/recordings/" + url.PathEscape(id), idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// OpenRecording starts downloading a recording's file through its
// temporary direct download link, fetching fresh links when rec has none
// or they have expired. The caller reads and closes the body; the size is
// -1 when unknown. The link is pre-authorized: the bearer token is not sent
// with it, since it points at the Webex site, not the API. The call timeout
// does not apply, as a recording can take long to download; bound it with
// ctx.
func (c *Client) OpenRecording(ctx context.Context, rec *Recording) (io.ReadCloser, int64, error) {
	links := rec.TemporaryDirectDownloadLinks
	if links == nil || links.RecordingDownloadLink == "" || (!links.Expiration.IsZero() && !c.clock.Now().Before(links.Expiration)) {
		fresh, err := c.GetRecording(ctx, rec.ID)
		if err != nil {
			return nil, 0, err
		}
		links = fresh.TemporaryDirectDownloadLinks
	}
	if links == nil || links.RecordingDownloadLink == "" {
		return nil, 0, fmt.Errorf("webex: recording %s has no download link (downloads may be disabled for it)", rec.ID)
	}
	u, err := url.Parse(links.RecordingDownloadLink)
	if err != nil {
		return nil, 0, fmt.Errorf("webex: recording %s: bad download link: %w", rec.ID, err)
	}
	// Plain http only where the API itself is plain http (a test fake).
	if u.Scheme != "https" && !(u.Scheme == "http" && c.base.Scheme == "http") {
		return nil, 0, fmt.Errorf("webex: recording %s: refusing a %s download link", rec.ID, u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	// A separate client: the link may redirect to storage, which the API
	// client refuses to follow.
	hc := &http.Client{Transport: c.hc.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		// The link carries a ticket; keep it out of the error.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, 0, fmt.Errorf("webex: download recording %s: %w", rec.ID, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("webex: download recording %s: %s", rec.ID, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
		// A login page instead of the file: the link needs a browser.
		resp.Body.Close()
		return nil, 0, fmt.Errorf("webex: download recording %s: got an HTML page, not the recording", rec.ID)
	}
	return resp.Body, resp.ContentLength, nil
}
