package webextest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits the API reference states.
const (
	maxTitle       = 128
	maxAgenda      = 1300
	minDuration    = 10 * time.Minute
	maxDuration    = 24 * time.Hour
	occurrenceForm = "20060102T150405Z"
)

// meeting is a series with its one occurrence (the fake schedules no
// recurring meetings).
type meeting struct {
	id, number, title, agenda, password, pvPassword, timezone string
	start, end                                                time.Time
	autoRecord, joinBeforeHost                                bool
	joinBeforeHostMinutes                                     int
	hostKey, mtid                                             string
	tags                                                      []string
	modified                                                  bool
	// occState is the occurrence's state: scheduled, inProgress, ended.
	occState  string
	deleted   bool
	instances []*instance
}

func (m *meeting) occurrenceID() string { return m.id + "_" + m.start.UTC().Format(occurrenceForm) }

func (m *meeting) seriesState() string {
	if m.occState == "ended" {
		// Its only occurrence is over.
		return "expired"
	}
	return "active"
}

// instance is a meeting that ran or runs.
type instance struct {
	id         string
	m          *meeting
	occurrence string
	start, end time.Time
	state      string // inProgress, ended
}

// meetingJSON is a meeting object as the API reference shows it.
type meetingJSON struct {
	ID                           string         `json:"id"`
	MeetingSeriesID              string         `json:"meetingSeriesId,omitempty"`
	ScheduledMeetingID           string         `json:"scheduledMeetingId,omitempty"`
	MeetingNumber                string         `json:"meetingNumber,omitempty"`
	Title                        string         `json:"title"`
	Agenda                       string         `json:"agenda,omitempty"`
	Password                     string         `json:"password,omitempty"`
	PhoneAndVideoSystemPassword  string         `json:"phoneAndVideoSystemPassword,omitempty"`
	MeetingType                  string         `json:"meetingType"`
	State                        string         `json:"state"`
	IsModified                   *bool          `json:"isModified,omitempty"`
	Timezone                     string         `json:"timezone"`
	Start                        string         `json:"start"`
	End                          string         `json:"end"`
	HostUserID                   string         `json:"hostUserId"`
	HostDisplayName              string         `json:"hostDisplayName"`
	HostEmail                    string         `json:"hostEmail"`
	HostKey                      string         `json:"hostKey,omitempty"`
	SiteURL                      string         `json:"siteUrl"`
	WebLink                      string         `json:"webLink"`
	SIPAddress                   string         `json:"sipAddress,omitempty"`
	DialInIPAddress              string         `json:"dialInIpAddress,omitempty"`
	EnabledAutoRecordMeeting     bool           `json:"enabledAutoRecordMeeting"`
	AllowAnyUserToBeCoHost       bool           `json:"allowAnyUserToBeCoHost"`
	EnabledJoinBeforeHost        bool           `json:"enabledJoinBeforeHost"`
	EnableConnectAudioBeforeHost bool           `json:"enableConnectAudioBeforeHost"`
	JoinBeforeHostMinutes        int            `json:"joinBeforeHostMinutes"`
	ExcludePassword              bool           `json:"excludePassword"`
	PublicMeeting                bool           `json:"publicMeeting"`
	ReminderTime                 int            `json:"reminderTime"`
	ScheduledType                string         `json:"scheduledType"`
	HasRecording                 *bool          `json:"hasRecording,omitempty"`
	IntegrationTags              []string       `json:"integrationTags,omitempty"`
	Telephony                    *telephonyJSON `json:"telephony,omitempty"`
}

type telephonyJSON struct {
	AccessCode    string       `json:"accessCode"`
	CallInNumbers []callInJSON `json:"callInNumbers"`
}

type callInJSON struct {
	Label        string `json:"label"`
	CallInNumber string `json:"callInNumber"`
	TollType     string `json:"tollType"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) baseJSON(m *meeting) meetingJSON {
	return meetingJSON{
		MeetingNumber:               m.number,
		Title:                       m.title,
		Agenda:                      m.agenda,
		Password:                    m.password,
		PhoneAndVideoSystemPassword: m.pvPassword,
		Timezone:                    m.timezone,
		HostUserID:                  s.host,
		HostDisplayName:             s.cfg.HostDisplayName,
		HostEmail:                   s.cfg.HostEmail,
		HostKey:                     m.hostKey,
		SiteURL:                     s.site,
		WebLink:                     "https://" + s.site + "/" + siteName(s.site) + "/j.php?MTID=m" + m.mtid,
		SIPAddress:                  m.number + "@" + s.site,
		DialInIPAddress:             "173.243.2.68",
		EnabledAutoRecordMeeting:    m.autoRecord,
		EnabledJoinBeforeHost:       m.joinBeforeHost,
		JoinBeforeHostMinutes:       m.joinBeforeHostMinutes,
		ReminderTime:                10,
		ScheduledType:               "meeting",
		IntegrationTags:             m.tags,
		Telephony: &telephonyJSON{
			AccessCode:    m.number,
			CallInNumbers: []callInJSON{{Label: "US Toll", CallInNumber: "+1-415-655-0001", TollType: "toll"}},
		},
	}
}

func siteName(site string) string { name, _, _ := strings.Cut(site, "."); return name }

func (s *Server) seriesJSON(m *meeting) meetingJSON {
	j := s.baseJSON(m)
	j.ID = m.id
	j.MeetingType = "meetingSeries"
	j.State = m.seriesState()
	j.Start, j.End = stamp(m.start), stamp(m.end)
	return j
}

func (s *Server) occurrenceJSON(m *meeting) meetingJSON {
	j := s.baseJSON(m)
	j.ID = m.occurrenceID()
	j.MeetingSeriesID = m.id
	j.MeetingType = "scheduledMeeting"
	j.State = m.occState
	j.IsModified = &m.modified
	j.Start, j.End = stamp(m.start), stamp(m.end)
	return j
}

func (s *Server) instanceJSON(in *instance) meetingJSON {
	j := s.baseJSON(in.m)
	j.ID = in.id
	j.MeetingSeriesID = in.m.id
	j.ScheduledMeetingID = in.occurrence
	j.MeetingType = "meeting"
	j.State = in.state
	j.Start, j.End = stamp(in.start), stamp(in.end)
	// Instances carry neither the SIP address nor the host key settings of
	// a schedule.
	j.SIPAddress, j.DialInIPAddress, j.PhoneAndVideoSystemPassword = "", "", ""
	j.WebLink = "https://" + s.site + "/" + siteName(s.site) + "/j.php?MTID=" + in.id
	has := false
	for _, r := range s.recordings {
		if r.instance == in {
			has = true
		}
	}
	j.HasRecording = &has
	return j
}

// eventJSON is the data of a meetings delivery: the identifying fields of
// the meeting, without passwords or host keys.
type eventJSON struct {
	ID                 string `json:"id"`
	MeetingSeriesID    string `json:"meetingSeriesId,omitempty"`
	ScheduledMeetingID string `json:"scheduledMeetingId,omitempty"`
	MeetingNumber      string `json:"meetingNumber,omitempty"`
	Title              string `json:"title"`
	Start              string `json:"start"`
	End                string `json:"end"`
	Timezone           string `json:"timezone"`
	HostUserID         string `json:"hostUserId"`
	HostEmail          string `json:"hostEmail"`
	MeetingType        string `json:"meetingType"`
	State              string `json:"state"`
}

func eventOf(j meetingJSON) eventJSON {
	return eventJSON{
		ID: j.ID, MeetingSeriesID: j.MeetingSeriesID, ScheduledMeetingID: j.ScheduledMeetingID, MeetingNumber: j.MeetingNumber,
		Title: j.Title, Start: j.Start, End: j.End, Timezone: j.Timezone, HostUserID: j.HostUserID, HostEmail: j.HostEmail,
		MeetingType: j.MeetingType, State: j.State,
	}
}

// meetingInput is the body of POST, PUT and PATCH /meetings.
type meetingInput struct {
	Title                    *string         `json:"title"`
	Agenda                   json.RawMessage `json:"agenda"`
	Password                 *string         `json:"password"`
	Start                    *string         `json:"start"`
	End                      *string         `json:"end"`
	Timezone                 *string         `json:"timezone"`
	Recurrence               *string         `json:"recurrence"`
	EnabledAutoRecordMeeting *bool           `json:"enabledAutoRecordMeeting"`
	EnabledJoinBeforeHost    *bool           `json:"enabledJoinBeforeHost"`
	JoinBeforeHostMinutes    *int            `json:"joinBeforeHostMinutes"`
	SendEmail                *bool           `json:"sendEmail"`
	HostEmail                *string         `json:"hostEmail"`
	IntegrationTags          []string        `json:"integrationTags"`
	Invitees                 []struct {
		Email string `json:"email"`
	} `json:"invitees"`
}

// readInput decodes a JSON body after checking its media type against
// the ones allowed.
func (s *Server) readInput(w http.ResponseWriter, r *http.Request, in *meetingInput, mediaTypes ...string) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !slices.Contains(mediaTypes, mt) {
		s.writeError(w, http.StatusUnsupportedMediaType, "Unsupported Media Type",
			fmt.Sprintf("Content type %q is not supported; use %s.", mt, strings.Join(mediaTypes, " or ")))
		return false
	}
	body, _ := readAll(r)
	if err := json.Unmarshal(body, in); err != nil {
		s.invalid(w, []string{"The request body is not valid JSON: " + err.Error()})
		return false
	}
	return true
}

// apply merges in over m (a copy), checking every rule; it returns the
// problems found.
func (s *Server) apply(m *meeting, in *meetingInput, now time.Time) []string {
	var problems []string
	if in.Recurrence != nil && *in.Recurrence != "" {
		problems = append(problems, "recurrence: the fake schedules single meetings only.")
	}
	if in.Timezone != nil {
		m.timezone = *in.Timezone
	}
	if m.timezone == "" {
		m.timezone = "UTC"
	}
	loc, err := time.LoadLocation(m.timezone)
	if err != nil {
		problems = append(problems, fmt.Sprintf("timezone: %q is not a valid time zone.", m.timezone))
		loc = time.UTC
	}
	if in.Title != nil {
		m.title = *in.Title
	}
	switch n := utf8.RuneCountInString(strings.TrimSpace(m.title)); {
	case n == 0:
		problems = append(problems, "title: Title cannot be empty.")
	case utf8.RuneCountInString(m.title) > maxTitle:
		problems = append(problems, fmt.Sprintf("title: The title can be a maximum of %d characters long.", maxTitle))
	}
	if len(in.Agenda) > 0 {
		var agenda *string
		if err := json.Unmarshal(in.Agenda, &agenda); err != nil {
			problems = append(problems, "agenda: must be a string or null.")
		} else if agenda == nil {
			m.agenda = ""
		} else {
			m.agenda = *agenda
		}
	}
	if utf8.RuneCountInString(m.agenda) > maxAgenda {
		problems = append(problems, fmt.Sprintf("agenda: The agenda can be a maximum of %d characters long.", maxAgenda))
	}
	if in.Password != nil {
		m.password = *in.Password
		if p := *in.Password; p != "" && (len(p) < 4 || !strings.ContainsAny(p, "0123456789") || strings.ToLower(p) == p || strings.ToUpper(p) == p) {
			problems = append(problems, "password: Meeting password validation failed. A mix of uppercase and lowercase letters and digits is required, at least 4 characters.")
		}
	}
	if m.password == "" {
		m.password = password()
	}
	startChanged := false
	for _, f := range []struct {
		name string
		in   *string
		dst  *time.Time
	}{{"start", in.Start, &m.start}, {"end", in.End, &m.end}} {
		if f.in == nil {
			continue
		}
		t, err := parseISO(*f.in, loc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not an ISO 8601 date and time.", f.name, *f.in))
			continue
		}
		// Webex keeps meeting times to the minute.
		t = t.Truncate(time.Minute)
		if f.name == "start" {
			startChanged = !t.Equal(*f.dst)
			if t.Equal(now.Truncate(time.Minute)) {
				t = t.Add(time.Minute)
			}
		}
		*f.dst = t
	}
	switch {
	case m.start.IsZero():
		problems = append(problems, "start: Start cannot be empty.")
	case m.end.IsZero():
		problems = append(problems, "end: End cannot be empty.")
	default:
		if startChanged && m.start.Before(now.Truncate(time.Minute)) {
			problems = append(problems, "start: Start cannot be before the current date and time.")
		}
		if d := m.end.Sub(m.start); d < minDuration || d > maxDuration {
			problems = append(problems, "end: The duration between start and end cannot be shorter than 10 minutes or longer than 24 hours.")
		}
	}
	if in.EnabledAutoRecordMeeting != nil {
		m.autoRecord = *in.EnabledAutoRecordMeeting
	}
	if in.EnabledJoinBeforeHost != nil {
		m.joinBeforeHost = *in.EnabledJoinBeforeHost
	}
	if in.JoinBeforeHostMinutes != nil {
		m.joinBeforeHostMinutes = *in.JoinBeforeHostMinutes
	}
	if m.joinBeforeHost && !slices.Contains([]int{0, 5, 10, 15}, m.joinBeforeHostMinutes) {
		problems = append(problems, "joinBeforeHostMinutes: The value must be 0, 5, 10 or 15.")
	}
	if in.IntegrationTags != nil {
		m.tags = in.IntegrationTags
	}
	for _, iv := range in.Invitees {
		if !strings.Contains(iv.Email, "@") {
			problems = append(problems, fmt.Sprintf("invitees: %q is not an e-mail address.", iv.Email))
		}
	}
	return problems
}

// parseISO reads the ISO 8601 forms Webex accepts; a time without an offset
// is in loc (the meeting's time zone).
func parseISO(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not ISO 8601")
}

func (s *Server) createMeeting(w http.ResponseWriter, r *http.Request) {
	var in meetingInput
	if !s.readInput(w, r, &in, "application/json") {
		return
	}
	s.mu.Lock()
	now := s.now()
	m := &meeting{
		id: randHex(16), number: "2" + randDigits(9), pvPassword: randDigits(8),
		hostKey: randDigits(6), mtid: randHex(16), occState: "scheduled",
	}
	if problems := s.apply(m, &in, now); len(problems) > 0 {
		s.mu.Unlock()
		s.invalid(w, problems)
		return
	}
	s.series[m.id] = m
	j := s.seriesJSON(m)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
}

// lookup finds the meeting an id names: a series, its occurrence or an
// instance (which outlives a deleted series). s.mu must be held.
func (s *Server) lookup(id string) (m *meeting, in *instance, kind string) {
	if in, ok := s.instances[id]; ok {
		return in.m, in, "meeting"
	}
	series, _, _ := strings.Cut(id, "_")
	m, ok := s.series[series]
	if !ok || m.deleted {
		return nil, nil, ""
	}
	switch id {
	case m.id:
		return m, nil, "meetingSeries"
	case m.occurrenceID():
		return m, nil, "scheduledMeeting"
	}
	return nil, nil, ""
}

func (s *Server) getMeeting(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m, in, kind := s.lookup(r.PathValue("id"))
	var j meetingJSON
	switch kind {
	case "meetingSeries":
		j = s.seriesJSON(m)
	case "scheduledMeeting":
		j = s.occurrenceJSON(m)
	case "meeting":
		j = s.instanceJSON(in)
	}
	s.mu.Unlock()
	if kind == "" {
		s.notFound(w, "Meeting")
		return
	}
	s.writeJSON(w, http.StatusOK, j)
}

func (s *Server) patchMeeting(w http.ResponseWriter, r *http.Request) {
	var in meetingInput
	// The reference declares application/json-patch+json for PATCH (with a
	// merge-style body); plain JSON is accepted too.
	if !s.readInput(w, r, &in, "application/json-patch+json", "application/json") {
		return
	}
	s.update(w, r, &in)
}

func (s *Server) putMeeting(w http.ResponseWriter, r *http.Request) {
	var in meetingInput
	if !s.readInput(w, r, &in, "application/json") {
		return
	}
	var missing []string
	for name, v := range map[string]*string{"title": in.Title, "password": in.Password, "start": in.Start, "end": in.End} {
		if v == nil {
			missing = append(missing, name+": is required to update a meeting with PUT.")
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		s.invalid(w, missing)
		return
	}
	s.update(w, r, &in)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, in *meetingInput) {
	s.mu.Lock()
	m, _, kind := s.lookup(r.PathValue("id"))
	if kind == "" || kind == "meeting" {
		s.mu.Unlock()
		// Ended and in-progress instances cannot be updated.
		s.notFound(w, "Meeting")
		return
	}
	next := *m
	if problems := s.apply(&next, in, s.now()); len(problems) > 0 {
		s.mu.Unlock()
		s.invalid(w, problems)
		return
	}
	next.modified = true
	*m = next
	var j meetingJSON
	if kind == "scheduledMeeting" {
		j = s.occurrenceJSON(m)
	} else {
		j = s.seriesJSON(m)
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
}

func (s *Server) deleteMeeting(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("sendEmail"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			s.invalid(w, []string{"sendEmail: must be true or false."})
			return
		}
	}
	s.mu.Lock()
	m, _, kind := s.lookup(r.PathValue("id"))
	if kind == "" || kind == "meeting" {
		s.mu.Unlock()
		s.notFound(w, "Meeting")
		return
	}
	m.deleted = true
	s.mu.Unlock()
	w.Header().Set("TrackingID", trackingID())
	w.WriteHeader(http.StatusNoContent)
}

var meetingStates = []string{"active", "scheduled", "ready", "lobby", "inProgress", "ended", "missed", "expired"}

func (s *Server) listMeetings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var problems []string
	typ := q.Get("meetingType")
	if typ == "" {
		typ = "meetingSeries"
	}
	if !slices.Contains([]string{"meetingSeries", "scheduledMeeting", "meeting"}, typ) {
		problems = append(problems, fmt.Sprintf("meetingType: %q is not valid.", typ))
	}
	state := q.Get("state")
	if state != "" && !slices.Contains(meetingStates, state) {
		problems = append(problems, fmt.Sprintf("state: %q is not valid.", state))
	}
	max, ok := pageSize(q, 10)
	if !ok {
		problems = append(problems, "max: must be between 1 and 100.")
	}
	s.mu.Lock()
	now := s.now()
	s.mu.Unlock()
	from, to, rangeProblems := timeRange(q, now, typ == "meeting")
	problems = append(problems, rangeProblems...)
	if len(problems) > 0 {
		s.invalid(w, problems)
		return
	}

	type item struct {
		start time.Time
		j     meetingJSON
	}
	var items []item
	number, tag := q.Get("meetingNumber"), q.Get("integrationTag")
	s.mu.Lock()
	for _, m := range s.series {
		if m.deleted {
			continue
		}
		if tag != "" && !slices.Contains(m.tags, tag) {
			continue
		}
		if number != "" {
			// Webex ignores the other filters for a meeting number.
			if m.number == number {
				items = append(items, item{m.start, s.seriesJSON(m)})
			}
			continue
		}
		switch typ {
		case "meetingSeries", "scheduledMeeting":
			if !(m.start.Before(to) && m.end.After(from)) {
				continue
			}
			j := s.seriesJSON(m)
			if typ == "scheduledMeeting" {
				j = s.occurrenceJSON(m)
			}
			if state == "" || j.State == state {
				items = append(items, item{m.start, j})
			}
		case "meeting":
			for _, in := range m.instances {
				if in.start.Before(to) && in.end.After(from) && (state == "" || in.state == state) {
					items = append(items, item{in.start, s.instanceJSON(in)})
				}
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(items, func(i, j int) bool {
		if !items[i].start.Equal(items[j].start) {
			return items[i].start.Before(items[j].start)
		}
		return items[i].j.ID < items[j].j.ID
	})
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it.j
	}
	s.page(w, r, out, max)
}

// timeRange reads from and to with the defaults the reference gives: a
// week from now for schedules, the past week for instances and recordings.
func timeRange(q interface{ Get(string) string }, now time.Time, past bool) (from, to time.Time, problems []string) {
	parse := func(name string) (time.Time, bool) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, true
		}
		t, err := parseISO(v, time.UTC)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not an ISO 8601 date and time.", name, v))
			return time.Time{}, false
		}
		return t, true
	}
	from, _ = parse("from")
	to, _ = parse("to")
	if len(problems) > 0 {
		return
	}
	week := 7 * 24 * time.Hour
	switch {
	case !from.IsZero() && to.IsZero():
		to = from.Add(week)
	case from.IsZero() && !to.IsZero():
		from = to.Add(-week)
	case from.IsZero() && past:
		from, to = now.Add(-week), now
	case from.IsZero():
		from, to = now, now.Add(week)
	}
	if from.After(to) {
		problems = append(problems, "from: cannot be after to.")
	}
	return
}

func readAll(r *http.Request) ([]byte, error) {
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}
