package webextest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"time"
)

type recording struct {
	id, rcid     string
	instance     *instance
	topic        string
	format       string
	contentType  string
	created      time.Time
	recorded     time.Time
	duration     int64
	data         []byte
	deleted      bool
	downloadable bool
}

type ticket struct {
	recording string
	expires   time.Time
}

// recordingJSON is a recording object as the API reference shows it.
type recordingJSON struct {
	ID                           string     `json:"id"`
	MeetingID                    string     `json:"meetingId"`
	ScheduledMeetingID           string     `json:"scheduledMeetingId"`
	MeetingSeriesID              string     `json:"meetingSeriesId"`
	Topic                        string     `json:"topic"`
	CreateTime                   string     `json:"createTime"`
	TimeRecorded                 string     `json:"timeRecorded"`
	HostDisplayName              string     `json:"hostDisplayName"`
	HostEmail                    string     `json:"hostEmail"`
	SiteURL                      string     `json:"siteUrl"`
	DownloadURL                  string     `json:"downloadUrl,omitempty"`
	PlaybackURL                  string     `json:"playbackUrl"`
	Password                     string     `json:"password,omitempty"`
	TemporaryDirectDownloadLinks *linksJSON `json:"temporaryDirectDownloadLinks,omitempty"`
	Format                       string     `json:"format"`
	ServiceType                  string     `json:"serviceType"`
	DurationSeconds              int64      `json:"durationSeconds"`
	SizeBytes                    int64      `json:"sizeBytes"`
	ShareToMe                    bool       `json:"shareToMe"`
	Status                       string     `json:"status"`
}

type linksJSON struct {
	RecordingDownloadLink string `json:"recordingDownloadLink"`
	Expiration            string `json:"expiration"`
}

func (s *Server) recordingJSON(r *recording) recordingJSON {
	status := "available"
	if r.deleted {
		status = "deleted"
	}
	j := recordingJSON{
		ID:                 r.id,
		MeetingID:          r.instance.id,
		ScheduledMeetingID: r.instance.occurrence,
		MeetingSeriesID:    r.instance.m.id,
		Topic:              r.topic,
		CreateTime:         stamp(r.created),
		TimeRecorded:       stamp(r.recorded),
		HostDisplayName:    s.cfg.HostDisplayName,
		HostEmail:          s.cfg.HostEmail,
		SiteURL:            s.site,
		PlaybackURL:        "https://" + s.site + "/" + siteName(s.site) + "/ldr.php?RCID=" + r.rcid,
		Password:           "********",
		Format:             r.format,
		ServiceType:        "MeetingCenter",
		DurationSeconds:    r.duration,
		SizeBytes:          int64(len(r.data)),
		Status:             status,
	}
	if r.downloadable {
		j.DownloadURL = "https://" + s.site + "/" + siteName(s.site) + "/lsr.php?RCID=" + r.rcid
	}
	return j
}

func (s *Server) listRecordings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var problems []string
	max, ok := pageSize(q, 10)
	if !ok {
		problems = append(problems, "max: must be between 1 and 100.")
	}
	format := q.Get("format")
	if format != "" && format != "MP4" && format != "ARF" {
		problems = append(problems, fmt.Sprintf("format: %q is not valid.", format))
	}
	status := q.Get("status")
	if status == "" {
		status = "available"
	}
	if status != "available" && status != "deleted" {
		problems = append(problems, fmt.Sprintf("status: %q is not valid.", status))
	}
	now := s.Now()
	// The reference defaults the range to the last 7 days and does not say
	// meetingId lifts it, so the fake applies it always.
	from, to, rangeProblems := timeRange(q, now, true)
	problems = append(problems, rangeProblems...)
	if len(problems) > 0 {
		s.invalid(w, problems)
		return
	}
	meetingID := q.Get("meetingId")
	s.mu.Lock()
	var recs []*recording
	for _, rec := range s.recordings {
		in := rec.instance
		if meetingID != "" && meetingID != in.id && meetingID != in.occurrence && meetingID != in.m.id {
			continue
		}
		if rec.deleted != (status == "deleted") || (format != "" && rec.format != format) {
			continue
		}
		if rec.created.Before(from) || !rec.created.Before(to) {
			continue
		}
		recs = append(recs, rec)
	}
	// Newest first, as the reference says.
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].created.Equal(recs[j].created) {
			return recs[i].created.After(recs[j].created)
		}
		return recs[i].id < recs[j].id
	})
	items := make([]any, len(recs))
	for i, rec := range recs {
		items[i] = s.recordingJSON(rec)
	}
	s.mu.Unlock()
	s.page(w, r, items, max)
}

func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rec, ok := s.recordings[r.PathValue("id")]
	if !ok || rec.deleted {
		s.mu.Unlock()
		s.notFound(w, "Recording")
		return
	}
	j := s.recordingJSON(rec)
	if rec.downloadable {
		// Each call issues a fresh pre-authorized link.
		t := randHex(24)
		exp := s.now().Add(s.cfg.DownloadLinkLifetime)
		s.tickets[t] = ticket{recording: rec.id, expires: exp}
		q := url.Values{"recordid": {rec.rcid}, "ticket": {t}, "isprevent": {"no"}}
		j.TemporaryDirectDownloadLinks = &linksJSON{
			RecordingDownloadLink: s.hs.URL + "/nbr/MultiThreadDownloadServlet?" + q.Encode(),
			Expiration:            stamp(exp),
		}
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
}

func (s *Server) deleteRecording(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rec, ok := s.recordings[r.PathValue("id")]
	if ok && !rec.deleted {
		rec.deleted = true
	}
	s.mu.Unlock()
	if !ok {
		s.notFound(w, "Recording")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// download serves a recording's bytes to whoever holds a live ticket, with
// no bearer token, like Webex's temporary direct download links.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t, ok := s.tickets[r.URL.Query().Get("ticket")]
	var rec *recording
	if ok && s.now().Before(t.expires) {
		rec = s.recordings[t.recording]
	}
	s.mu.Unlock()
	if rec == nil {
		http.Error(w, "The download link is invalid or has expired.", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", rec.contentType)
	http.ServeContent(w, r, rec.id+".mp4", rec.created, bytes.NewReader(rec.data))
}

// RecordingSpec describes a recording AddRecording makes.
type RecordingSpec struct {
	// Data is the file served by the temporary download link, e.g. a small
	// MP4 made by the test.
	Data []byte
	// Format is "MP4" (default) or "ARF".
	Format string
	// ContentType of the download, "video/mp4" by default.
	ContentType     string
	DurationSeconds int64
	// Topic defaults to the meeting title.
	Topic string
	// NotDownloadable turns "prevent downloading" on: no download links.
	NotDownloadable bool
}

// AddRecording makes a recording of a meeting instance (or of the latest
// instance of the series or occurrence id) and delivers the recordings
// created webhook. It returns the recording id.
func (s *Server) AddRecording(meetingID string, spec RecordingSpec) (string, error) {
	s.mu.Lock()
	// lookup finds instances even of a deleted series.
	m, in, _ := s.lookup(meetingID)
	if in == nil && m != nil && len(m.instances) > 0 {
		in = m.instances[len(m.instances)-1]
	}
	if in == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("webextest: no meeting instance for %q: start the meeting first", meetingID)
	}
	format := spec.Format
	if format == "" {
		format = "MP4"
	}
	ct := spec.ContentType
	if ct == "" {
		ct = "video/mp4"
	}
	topic := spec.Topic
	if topic == "" {
		topic = in.m.title
	}
	now := s.now()
	rec := &recording{
		id: randHex(16), rcid: randHex(16), instance: in, topic: topic, format: format, contentType: ct,
		created: now, recorded: in.start, duration: spec.DurationSeconds, data: slices.Clone(spec.Data),
		downloadable: !spec.NotDownloadable,
	}
	s.recordings[rec.id] = rec
	data := s.recordingJSON(rec)
	s.mu.Unlock()
	s.deliver("recordings", "created", data)
	return rec.id, nil
}
