package edustream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// compensationTimeout bounds the delete of a meeting whose session could
// not be stored; past it, a task takes over.
const compensationTimeout = 30 * time.Second

// LiveClasses is the live-class flow, shared by every way in: the GraphQL
// mutations, the Webex webhook (MeetingEvents) and the worker's tasks.
// Callers decide who may do what (CanScheduleLiveSession); LiveClasses
// keeps Webex and the database consistent, using only the domain's
// interfaces, so it lives here rather than in one adapter.
//
// Webex is called first and the database written second, because only
// Webex can say what it scheduled. Every way that can leave the two apart
// is closed: a create whose row cannot be stored deletes its meeting again
// (or has a task delete it), a cancel is recorded at once and its delete
// retried by a task until Webex confirms, and SyncMeetings adopts what was
// changed in Webex behind EduStream's back.
type LiveClasses struct {
	Sessions LiveSessionService
	// Courses, if set, lets SyncMeetings cancel the classes of deleted
	// courses.
	Courses CourseService
	// Meetings is Webex. Nil turns live classes off: the mutations refuse
	// with a clear error, and nothing else changes.
	Meetings MeetingService
	Jobs     LiveJobQueue
	// Events, if set, hears every change of a session.
	Events EventService
	// Uploads feeds imported recordings to the video pipeline, as if they
	// had been uploaded.
	Uploads *Uploads
	// TempDir holds a recording while it downloads, when its size is not
	// known in advance (empty: the system's temp dir).
	TempDir string
	Now     Clock
}

var _ MeetingEvents = (*LiveClasses)(nil)

// Enabled reports whether live classes are configured.
func (l *LiveClasses) Enabled() bool { return l != nil && l.Meetings != nil }

func (l *LiveClasses) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// ErrLiveClassesOff is the answer of the live-class mutations on a server
// without a Webex account.
func ErrLiveClassesOff() error {
	return Errorf(ECONFLICT, "live classes are not available: this server has no Webex account configured")
}

// Schedule creates a Webex meeting for the class and stores its session.
// The input is checked before Webex is called. With an idempotency key, a
// repeated call (a client retrying after a lost answer, or racing itself)
// returns the session the first one created and schedules nothing more.
// EINVALID for a bad input or one Webex refuses; ECONFLICT for a key used
// for another course.
func (l *LiveClasses) Schedule(ctx context.Context, creator *User, c *Course, in LiveSessionInput) (*LiveSession, error) {
	if !l.Enabled() {
		return nil, ErrLiveClassesOff()
	}
	if err := in.Validate(l.now()); err != nil {
		return nil, err
	}
	if s, err := l.byIdempotencyKey(ctx, creator.ID, in.IdempotencyKey, c); s != nil || err != nil {
		return s, err
	}
	if err := l.checkRoom(ctx, c); err != nil {
		return nil, err
	}
	m, err := l.Meetings.CreateMeeting(ctx, MeetingSpec{
		Title: in.Title, Agenda: in.Agenda, StartsAt: in.StartsAt, EndsAt: in.EndsAt, Tag: newMeetingTag(),
	})
	if err != nil {
		return nil, l.providerError(ctx, "schedule the class", err)
	}
	s := &LiveSession{CourseID: c.ID, CreatorID: creator.ID, IdempotencyKey: in.IdempotencyKey, Agenda: in.Agenda}
	s.setMeeting(m)
	if err := l.Sessions.CreateLiveSession(ctx, s); err != nil {
		// Webex must not keep a meeting nobody can see or cancel.
		l.compensate(ctx, m.ID)
		if ErrorCode(err) == ECONFLICT && in.IdempotencyKey != "" {
			// A concurrent call with the same key stored its session first.
			if prev, perr := l.byIdempotencyKey(ctx, creator.ID, in.IdempotencyKey, c); prev != nil || perr != nil {
				return prev, perr
			}
		}
		Logger(ctx).Error("store a scheduled live session", slog.String("meeting_id", m.ID), slog.String("error", err.Error()))
		return nil, Errorf(EINTERNAL, "the class could not be saved, so its Webex meeting was cancelled again; try again")
	}
	l.announce(ctx, s)
	return s, nil
}

// checkRoom refuses a class for a course that has MaxLiveSessionsPerCourse
// upcoming ones already. ECONFLICT.
func (l *LiveClasses) checkRoom(ctx context.Context, c *Course) error {
	upcoming := false
	m, err := l.Sessions.FindLiveSessionsByCourseIDs(ctx, []int64{c.ID}, LiveSessionFilter{Past: &upcoming, Now: l.now(), Limit: MaxLiveSessionsPerCourse})
	if err != nil {
		return err
	}
	if len(m[c.ID]) >= MaxLiveSessionsPerCourse {
		return Errorf(ECONFLICT, "a course may have at most %d upcoming live classes; cancel one first", MaxLiveSessionsPerCourse)
	}
	return nil
}

// byIdempotencyKey returns the session the creator made with key, if any
// (nil, nil: none, or no key).
func (l *LiveClasses) byIdempotencyKey(ctx context.Context, creatorID int64, key string, c *Course) (*LiveSession, error) {
	if key == "" {
		return nil, nil
	}
	s, err := l.Sessions.FindLiveSessionByIdempotencyKey(ctx, creatorID, key)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, err
	case s.CourseID != c.ID:
		return nil, Errorf(ECONFLICT, "clientMutationId %q was already used for a live class of another course", key)
	}
	return s, nil
}

// setMeeting copies what Webex holds into s.
func (s *LiveSession) setMeeting(m *Meeting) {
	s.MeetingID, s.MeetingNumber, s.JoinURL, s.Password, s.HostKey, s.SIPAddress =
		m.ID, m.MeetingNumber, m.JoinURL, m.Password, m.HostKey, m.SIPAddress
	s.Title, s.StartsAt, s.EndsAt = m.Title, m.StartsAt.UTC(), m.EndsAt.UTC()
	if m.Agenda != "" {
		s.Agenda = m.Agenda
	}
}

// compensate deletes the meeting of a session that could not be stored,
// on a context of its own: the caller's may be ending. When Webex fails
// too, a task retries the delete.
func (l *LiveClasses) compensate(ctx context.Context, meetingID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), compensationTimeout)
	defer cancel()
	log := Logger(ctx).With(slog.String("meeting_id", meetingID))
	err := l.Meetings.DeleteMeeting(ctx, meetingID)
	if err == nil {
		log.Warn("deleted the Webex meeting of a live session that could not be stored")
		return
	}
	if qerr := l.Jobs.EnqueueMeetingDelete(ctx, meetingID); qerr != nil {
		log.Error("a Webex meeting without a live session is left behind: delete it in Webex",
			slog.String("error", errors.Join(err, qerr).Error()))
		return
	}
	log.Warn("the Webex meeting of a live session that could not be stored will be deleted by a task", slog.String("error", err.Error()))
}

// providerError turns a failed Webex call into what the caller sees. Webex's
// own refusals (a bad input, a missing meeting) keep their reason; anything
// else (an outage, our credentials refused) is logged with its tracking id
// and told in words that do not leak it.
func (l *LiveClasses) providerError(ctx context.Context, what string, err error) error {
	switch ErrorCode(err) {
	case EINVALID, ENOTFOUND, ECONFLICT:
		return err
	}
	Logger(ctx).Error("webex call failed", slog.String("op", what), slog.String("error", err.Error()))
	return Errorf(EINTERNAL, "Webex did not answer, so EduStream could not %s; nothing was changed. Try again in a few minutes", what)
}

// Reschedule changes a SCHEDULED class in Webex, then in the database.
// EINVALID; ECONFLICT when the class is no longer scheduled, changed
// meanwhile, or its meeting was deleted in Webex (the class is then
// cancelled).
func (l *LiveClasses) Reschedule(ctx context.Context, s *LiveSession, change LiveSessionChange) (*LiveSession, error) {
	if !l.Enabled() {
		return nil, ErrLiveClassesOff()
	}
	if s.Status != LiveScheduled {
		return nil, Errorf(ECONFLICT, "only a scheduled class can be changed; this one is %s", s.Status)
	}
	in, err := change.Apply(s, l.now())
	if err != nil {
		return nil, err
	}
	m, err := l.Meetings.UpdateMeeting(ctx, s.MeetingID, MeetingSpec{Title: in.Title, Agenda: in.Agenda, StartsAt: in.StartsAt, EndsAt: in.EndsAt})
	if ErrorCode(err) == ENOTFOUND {
		l.meetingGone(ctx, s)
		return nil, Errorf(ECONFLICT, "the class's Webex meeting was deleted outside EduStream, so the class is cancelled")
	} else if err != nil {
		return nil, l.providerError(ctx, "change the class", err)
	}
	next := &LiveSession{Agenda: in.Agenda}
	next.setMeeting(m)
	updated, err := l.Sessions.UpdateLiveSession(ctx, s.ID, LiveSessionUpdate{
		Version: s.Version, Title: next.Title, Agenda: next.Agenda, StartsAt: next.StartsAt, EndsAt: next.EndsAt,
	})
	if err != nil {
		// Webex holds the change; SyncMeetings brings it into the
		// database if this write was lost.
		return nil, err
	}
	l.announce(ctx, updated)
	return updated, nil
}

// Cancel makes the class CANCELLED at once and has a task delete its Webex
// meeting, retried until Webex confirms (a meeting already gone counts).
// Cancelling a cancelled class returns it; a LIVE or ENDED one is
// ECONFLICT.
func (l *LiveClasses) Cancel(ctx context.Context, s *LiveSession) (*LiveSession, error) {
	if !l.Enabled() {
		return nil, ErrLiveClassesOff()
	}
	cancelled, err := l.Sessions.CancelLiveSession(ctx, s.ID, s.MeetingID != "")
	if err != nil {
		return nil, err
	}
	if cancelled.Version != s.Version {
		l.announce(ctx, cancelled)
	}
	if cancelled.MeetingDeletePending {
		if err := l.Jobs.EnqueueMeetingDelete(ctx, cancelled.MeetingID); err != nil {
			// The session says the delete is pending; the reconciler
			// enqueues it again.
			Logger(ctx).Warn("enqueue a meeting delete; the reconciler will retry",
				slog.Int64("live_session_id", s.ID), slog.String("error", err.Error()))
		}
	}
	return cancelled, nil
}

// DeleteMeeting deletes a Webex meeting for the task that retries it: the
// meeting of a cancelled session (then recorded as deleted), or one no
// session owns (a create whose session could not be stored). A meeting
// that belongs to a session that is not cancelled is never deleted
// (ECONFLICT), so a stray task cannot end a class.
func (l *LiveClasses) DeleteMeeting(ctx context.Context, meetingID string) error {
	if !l.Enabled() {
		return fmt.Errorf("delete meeting %s: live classes are not configured", meetingID)
	}
	s, err := l.Sessions.FindLiveSessionByMeeting(ctx, meetingID, "")
	switch {
	case ErrorCode(err) == ENOTFOUND:
		s = nil
	case err != nil:
		return err
	case s.Status != LiveCancelled:
		return Errorf(ECONFLICT, "meeting %s belongs to live session %d, which is %s: not deleting it", meetingID, s.ID, s.Status)
	case !s.MeetingDeletePending:
		return nil
	}
	if err := l.Meetings.DeleteMeeting(ctx, meetingID); err != nil {
		return fmt.Errorf("delete Webex meeting %s: %w", meetingID, err)
	}
	if s == nil {
		Logger(ctx).Info("deleted a Webex meeting no live session owns", slog.String("meeting_id", meetingID))
		return nil
	}
	return l.Sessions.MarkMeetingDeleted(ctx, s.ID)
}

// MeetingStarted makes the session of the meeting LIVE, unless it has
// already moved past SCHEDULED.
func (l *LiveClasses) MeetingStarted(ctx context.Context, e MeetingEvent) error {
	return l.meetingMoved(ctx, e, []LiveSessionStatus{LiveScheduled}, LiveLive)
}

// MeetingEnded makes the session of the meeting ENDED, from SCHEDULED too
// (the start's delivery may be late or lost).
func (l *LiveClasses) MeetingEnded(ctx context.Context, e MeetingEvent) error {
	return l.meetingMoved(ctx, e, []LiveSessionStatus{LiveScheduled, LiveLive}, LiveEnded)
}

func (l *LiveClasses) meetingMoved(ctx context.Context, e MeetingEvent, from []LiveSessionStatus, to LiveSessionStatus) error {
	s, err := l.Sessions.FindLiveSessionByMeeting(ctx, e.Series(), e.MeetingNumber)
	if ErrorCode(err) == ENOTFOUND {
		Logger(ctx).Info("meeting event of a meeting no live session owns", slog.String("meeting_id", e.MeetingID))
		return nil
	} else if err != nil {
		return err
	}
	moved, changed, err := l.Sessions.TransitionLiveSession(ctx, s.ID, from, to)
	if err != nil {
		return err
	}
	if changed {
		l.announce(ctx, moved)
	}
	return nil
}

// RecordingCreated enqueues the import of a recording of a session's
// meeting. The task reads the recording from Webex again: the webhook's
// copy only says which one.
func (l *LiveClasses) RecordingCreated(ctx context.Context, e RecordingEvent) error {
	if e.RecordingID == "" {
		return Errorf(EINVALID, "recording event without a recording id")
	}
	if e.SeriesID != "" {
		if _, err := l.Sessions.FindLiveSessionByMeeting(ctx, e.SeriesID, ""); ErrorCode(err) == ENOTFOUND {
			Logger(ctx).Info("recording of a meeting no live session owns", slog.String("recording_id", e.RecordingID))
			return nil
		} else if err != nil {
			return err
		}
	}
	return l.Jobs.EnqueueRecordingImport(ctx, e.RecordingID)
}

// meetingGone records that a scheduled session's meeting was deleted in
// Webex: the class cannot happen, so it is cancelled, with nothing left to
// delete. It reports whether the session changed.
func (l *LiveClasses) meetingGone(ctx context.Context, s *LiveSession) bool {
	if s.Status != LiveScheduled {
		return false
	}
	cancelled, err := l.Sessions.CancelLiveSession(ctx, s.ID, false)
	if err != nil {
		Logger(ctx).Warn("cancel a live session whose meeting was deleted in Webex",
			slog.Int64("live_session_id", s.ID), slog.String("error", err.Error()))
		return false
	}
	if cancelled.Version == s.Version {
		return false
	}
	Logger(ctx).Info("cancelled a live session whose Webex meeting was deleted outside EduStream", slog.Int64("live_session_id", s.ID))
	l.announce(ctx, cancelled)
	return true
}

// announce tells the course's subscribers that s changed, with the
// session as the change left it.
func (l *LiveClasses) announce(ctx context.Context, s *LiveSession) {
	l.publish(ctx, Event{Topic: LiveSessionTopic(s.CourseID), LiveSession: s})
}

// publish is where every event of live classes goes out. Best effort: a
// subscriber who misses one reads the database after its next resync, and
// a cache serves what it holds until its entries expire.
func (l *LiveClasses) publish(ctx context.Context, e Event) {
	if l.Events == nil {
		return
	}
	if err := l.Events.PublishEvent(ctx, e); err != nil {
		Logger(ctx).Warn("publish a live class event", slog.String("topic", e.Topic), slog.String("error", err.Error()))
	}
}

// newMeetingTag returns a fresh tag for a meeting create.
func newMeetingTag() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "edustream-" + hex.EncodeToString(b)
}
