package edustream

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// syncLookback is how long after its end a session is still compared with
// Webex: long enough for a lost "ended" delivery to be noticed, short
// enough that meetings Webex has aged out are left alone.
const syncLookback = 24 * time.Hour

// SyncMeetings compares the sessions whose meetings may still change with
// Webex and repairs what changed there behind EduStream's back: a meeting
// deleted in Webex cancels its scheduled session, one moved or renamed in
// Webex moves or renames its session (Webex is what participants' e-mails
// and calendars show), a meeting that is over ends a session whose
// "ended" delivery was lost, and the scheduled classes of a deleted course
// are cancelled (their meetings deleted). It returns how many sessions it
// repaired.
//
// A session changed by EduStream while the comparison ran is left for the
// next round: updates are conditional on the session's version.
func (l *LiveClasses) SyncMeetings(ctx context.Context) (repaired int, err error) {
	if !l.Enabled() {
		return 0, nil
	}
	sessions, err := l.Sessions.FindActiveLiveSessions(ctx, l.now().Add(-syncLookback))
	if err != nil || len(sessions) == 0 {
		return 0, err
	}
	sessions, repaired, err = l.cancelOrphans(ctx, sessions)
	if err != nil || len(sessions) == 0 {
		return repaired, err
	}
	from, to := sessions[0].StartsAt, sessions[0].EndsAt
	for _, s := range sessions {
		from, to = minTime(from, s.StartsAt), maxTime(to, s.EndsAt)
	}
	listed, err := l.Meetings.ListMeetings(ctx, from.Add(-time.Minute), to.Add(time.Minute))
	if err != nil {
		return 0, fmt.Errorf("list Webex meetings: %w", err)
	}
	byID := make(map[string]*Meeting, len(listed))
	for _, m := range listed {
		byID[m.ID] = m
	}
	for _, s := range sessions {
		m := byID[s.MeetingID]
		if m == nil {
			// Not in the window: deleted, or moved far away.
			m, err = l.Meetings.GetMeeting(ctx, s.MeetingID)
			if ErrorCode(err) == ENOTFOUND {
				if l.meetingGone(ctx, s) {
					repaired++
				}
				continue
			} else if err != nil {
				return repaired, fmt.Errorf("get Webex meeting %s of live session %d: %w", s.MeetingID, s.ID, err)
			}
		}
		if l.repair(ctx, s, m) {
			repaired++
		}
	}
	return repaired, nil
}

// cancelOrphans cancels the scheduled sessions whose course was deleted
// (hidden or purged), and returns the others. Deleting a course does not
// touch Webex itself; this round does, with the same retried delete as a
// cancel.
func (l *LiveClasses) cancelOrphans(ctx context.Context, sessions []*LiveSession) (kept []*LiveSession, cancelled int, err error) {
	if l.Courses == nil {
		return sessions, 0, nil
	}
	ids := make([]int64, len(sessions))
	for i, s := range sessions {
		ids[i] = s.CourseID
	}
	visible, err := l.Courses.FindCoursesByIDs(ctx, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("find the courses of live sessions: %w", err)
	}
	for _, s := range sessions {
		if visible[s.CourseID] != nil || s.Status != LiveScheduled {
			kept = append(kept, s)
			continue
		}
		if _, err := l.Cancel(ctx, s); err != nil {
			Logger(ctx).Warn("cancel a class of a deleted course", slog.Int64("live_session_id", s.ID), slog.String("error", err.Error()))
			continue
		}
		Logger(ctx).Info("cancelled a class of a deleted course", slog.Int64("live_session_id", s.ID), slog.Int64("course_id", s.CourseID))
		cancelled++
	}
	return kept, cancelled, nil
}

// repair brings s in line with its meeting and reports whether it changed.
func (l *LiveClasses) repair(ctx context.Context, s *LiveSession, m *Meeting) bool {
	log := Logger(ctx).With(slog.Int64("live_session_id", s.ID), slog.String("meeting_id", s.MeetingID))
	if m.Over {
		ended, moved, err := l.Sessions.TransitionLiveSession(ctx, s.ID, []LiveSessionStatus{LiveScheduled, LiveLive}, LiveEnded)
		if err != nil {
			log.Warn("end a live session whose meeting is over", slog.String("error", err.Error()))
			return false
		}
		if moved {
			log.Info("ended a live session whose meeting is over in Webex")
			l.announce(ctx, ended)
		}
		return moved
	}
	if s.Status != LiveScheduled || (m.Title == s.Title && m.StartsAt.Equal(s.StartsAt) && m.EndsAt.Equal(s.EndsAt)) {
		return false
	}
	updated, err := l.Sessions.UpdateLiveSession(ctx, s.ID, LiveSessionUpdate{
		Version: s.Version, Title: m.Title, Agenda: s.Agenda, StartsAt: m.StartsAt.UTC(), EndsAt: m.EndsAt.UTC(),
	})
	if ErrorCode(err) == ECONFLICT {
		return false // changed meanwhile; the next round compares again
	} else if err != nil {
		log.Warn("update a live session changed in Webex", slog.String("error", err.Error()))
		return false
	}
	log.Info("adopted a change made in Webex", slog.Time("starts_at", updated.StartsAt), slog.Time("ends_at", updated.EndsAt))
	l.announce(ctx, updated)
	return true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// recordingLookback is how long after a class ends its recording is looked
// for: Webex makes recordings available minutes to hours after a meeting.
const recordingLookback = 3 * 24 * time.Hour

// DiscoverRecordings asks Webex for the recordings of the classes that ended
// recently without one, and enqueues their imports. The "recording created"
// webhook normally does this; this finds what a lost delivery left behind.
// Imports are idempotent per recording, so finding one twice imports it
// once; one that failed for good is not tried again (see
// EnqueueRecordingImportOnce). It returns how many imports it enqueued.
func (l *LiveClasses) DiscoverRecordings(ctx context.Context) (int, error) {
	if !l.Enabled() {
		return 0, nil
	}
	sessions, err := l.Sessions.FindEndedWithoutRecording(ctx, l.now().Add(-recordingLookback))
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, s := range sessions {
		if s.MeetingID == "" {
			continue
		}
		recs, err := l.Meetings.ListRecordings(ctx, s.MeetingID, s.StartsAt.Add(-time.Hour), l.now())
		if err != nil {
			return queued, fmt.Errorf("list the recordings of live session %d: %w", s.ID, err)
		}
		for _, r := range recs {
			if !strings.EqualFold(r.Format, RecordingFormatMP4) {
				continue
			}
			if err := l.Jobs.EnqueueRecordingImportOnce(ctx, r.ID); err != nil {
				return queued, fmt.Errorf("enqueue the import of recording %s: %w", r.ID, err)
			}
			queued++
		}
	}
	return queued, nil
}
