package edustreamtest

import (
	"context"
	"slices"

	"github.com/edustream/edustream"
)

// The admins' reads and the audit log, part of Store.

var _ edustream.AuditLog = (*Store)(nil)

// FindVideos returns one page of the videos of visible lectures, not
// replaced, newest first, and whether more follow. EINVALID for a
// negative limit.
func (s *Store) FindVideos(_ context.Context, f edustream.VideoFilter) ([]*edustream.Video, bool, error) {
	if f.Limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "page size must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	videos := s.videosWhere(func(v *edustream.Video) bool {
		_, visible := s.visibleLecture(v.LectureID)
		return visible && v.ReplacedAt == nil &&
			(f.Status == nil || v.Status == *f.Status) &&
			(f.BeforeID == 0 || v.ID < f.BeforeID)
	}, nil)
	slices.Reverse(videos)
	if len(videos) > f.Limit {
		return videos[:f.Limit], true, nil
	}
	return videos, false, nil
}

// CountVideos counts the videos FindVideos would list, by status.
func (s *Store) CountVideos(context.Context) (map[edustream.VideoStatus]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[edustream.VideoStatus]int{}
	for _, v := range s.videos {
		if _, visible := s.visibleLecture(v.LectureID); visible && v.ReplacedAt == nil {
			counts[v.Status]++
		}
	}
	return counts, nil
}

// FindLiveSessionsByIDs returns the sessions that exist among ids, keyed
// by id.
func (s *Store) FindLiveSessionsByIDs(_ context.Context, ids []int64) (map[int64]*edustream.LiveSession, error) {
	return findMany(s, ids, present(s.sessions), copySession), nil
}

// FindLiveSessionsByMeetingIDs returns the sessions of the meeting series
// among meetingIDs (compared byte for byte), keyed by meeting id.
func (s *Store) FindLiveSessionsByMeetingIDs(_ context.Context, meetingIDs []string) (map[string]*edustream.LiveSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*edustream.LiveSession, len(meetingIDs))
	for _, ls := range s.sessions {
		if slices.Contains(meetingIDs, ls.MeetingID) {
			out[ls.MeetingID] = copySession(ls)
		}
	}
	return out, nil
}

// FindLiveRecordingsByIDs returns the recordings claimed among
// recordingIDs, keyed by recording id.
func (s *Store) FindLiveRecordingsByIDs(_ context.Context, recordingIDs []string) (map[string]*edustream.LiveRecording, error) {
	return findMany(s, recordingIDs, present(s.recordings), copyRecording), nil
}

// RecordAudit validates e, appends it and sets its ID and At. EINVALID.
func (s *Store) RecordAudit(_ context.Context, e *edustream.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	now := s.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	e.ID, e.At = s.nextID("audit_log"), now
	cp := *e
	s.audit = append(s.audit, &cp)
	return nil
}

// FindAuditEntries returns one page of entries, newest first, and whether
// more follow. EINVALID for a negative limit.
func (s *Store) FindAuditEntries(_ context.Context, f edustream.AuditFilter) ([]*edustream.AuditEntry, bool, error) {
	if f.Limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "page size must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*edustream.AuditEntry
	for _, e := range slices.Backward(s.audit) {
		if f.BeforeID != 0 && e.ID >= f.BeforeID {
			continue
		}
		if len(out) == f.Limit {
			return out, true, nil
		}
		cp := *e
		out = append(out, &cp)
	}
	return out, false, nil
}
