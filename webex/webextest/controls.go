package webextest

import (
	"fmt"
	"slices"
	"time"
)

// MeetingState is a meeting series as the fake holds it, for assertions.
type MeetingState struct {
	SeriesID, OccurrenceID, MeetingNumber, Title, Agenda, Password, HostKey, Timezone string
	Start, End                                                                        time.Time
	// State is the series' state; OccurrenceState its scheduled meeting's.
	State, OccurrenceState string
	AutoRecord             bool
	IntegrationTags        []string
	Deleted                bool
	// Instances are the ids of the instances, oldest first.
	Instances []string
}

// Meeting returns the series that id (series, occurrence or instance)
// belongs to, deleted or not.
func (s *Server) Meeting(id string) (MeetingState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.seriesOf(id)
	if m == nil {
		return MeetingState{}, false
	}
	st := MeetingState{
		SeriesID: m.id, OccurrenceID: m.occurrenceID(), MeetingNumber: m.number, Title: m.title, Agenda: m.agenda,
		Password: m.password, HostKey: m.hostKey, Timezone: m.timezone, Start: m.start, End: m.end,
		State: m.seriesState(), OccurrenceState: m.occState, AutoRecord: m.autoRecord,
		IntegrationTags: slices.Clone(m.tags), Deleted: m.deleted,
	}
	for _, in := range m.instances {
		st.Instances = append(st.Instances, in.id)
	}
	return st, true
}

// Meetings returns every series, deleted or not.
func (s *Server) Meetings() []MeetingState {
	s.mu.Lock()
	ids := make([]string, 0, len(s.series))
	for id := range s.series {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	slices.Sort(ids)
	out := make([]MeetingState, 0, len(ids))
	for _, id := range ids {
		m, _ := s.Meeting(id)
		out = append(out, m)
	}
	return out
}

// seriesOf finds the series of any id, including deleted ones; s.mu held.
func (s *Server) seriesOf(id string) *meeting {
	if in, ok := s.instances[id]; ok {
		return in.m
	}
	series := id
	for i := range id {
		if id[i] == '_' {
			series = id[:i]
			break
		}
	}
	return s.series[series]
}

// StartMeeting starts a meeting (by series or occurrence id) as if the host
// joined: it creates the instance "<series>_I_<digits>", marks the
// scheduled meeting inProgress and delivers meetings/started. It returns
// the instance id.
func (s *Server) StartMeeting(id string) (string, error) {
	s.mu.Lock()
	m, _, kind := s.lookup(id)
	if kind != "meetingSeries" && kind != "scheduledMeeting" {
		s.mu.Unlock()
		return "", fmt.Errorf("webextest: no scheduled meeting %q", id)
	}
	for _, in := range m.instances {
		if in.state == "inProgress" {
			s.mu.Unlock()
			return "", fmt.Errorf("webextest: meeting %q is already in progress as %s", id, in.id)
		}
	}
	now := s.now()
	in := &instance{
		id: m.id + "_I_" + randDigits(18), m: m, occurrence: m.occurrenceID(),
		start: now, end: now.Add(m.end.Sub(m.start)), state: "inProgress",
	}
	m.instances = append(m.instances, in)
	m.occState = "inProgress"
	s.instances[in.id] = in
	data := eventOf(s.instanceJSON(in))
	s.mu.Unlock()
	s.deliver("meetings", "started", data)
	return in.id, nil
}

// EndMeeting ends the instance in progress (by its id, or the series' or
// occurrence's) and delivers meetings/ended. The series expires, its only
// occurrence being over.
func (s *Server) EndMeeting(id string) error {
	s.mu.Lock()
	m := s.seriesOf(id)
	var in *instance
	if m != nil {
		for _, cand := range m.instances {
			if cand.state == "inProgress" && (cand.id == id || id == m.id || id == m.occurrenceID()) {
				in = cand
			}
		}
	}
	if in == nil {
		s.mu.Unlock()
		return fmt.Errorf("webextest: no meeting in progress for %q", id)
	}
	in.state = "ended"
	in.end = s.now()
	m.occState = "ended"
	data := eventOf(s.instanceJSON(in))
	s.mu.Unlock()
	s.deliver("meetings", "ended", data)
	return nil
}

// DeleteMeeting deletes a series behind EduStream's back (someone used
// the Webex UI) and delivers meetings/deleted.
func (s *Server) DeleteMeeting(id string) error {
	s.mu.Lock()
	m, _, kind := s.lookup(id)
	if kind != "meetingSeries" && kind != "scheduledMeeting" {
		s.mu.Unlock()
		return fmt.Errorf("webextest: no scheduled meeting %q", id)
	}
	m.deleted = true
	data := eventOf(s.seriesJSON(m))
	s.mu.Unlock()
	s.deliver("meetings", "deleted", data)
	return nil
}

// MoveMeeting reschedules a series behind EduStream's back and delivers
// meetings/updated. Times are kept to the minute, as Webex does.
func (s *Server) MoveMeeting(id string, start, end time.Time) error {
	if d := end.Sub(start); d < minDuration || d > maxDuration {
		return fmt.Errorf("webextest: %v is not between %v and %v", d, minDuration, maxDuration)
	}
	s.mu.Lock()
	m, _, kind := s.lookup(id)
	if kind != "meetingSeries" && kind != "scheduledMeeting" {
		s.mu.Unlock()
		return fmt.Errorf("webextest: no scheduled meeting %q", id)
	}
	m.start, m.end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	m.modified = true
	data := eventOf(s.seriesJSON(m))
	s.mu.Unlock()
	s.deliver("meetings", "updated", data)
	return nil
}
