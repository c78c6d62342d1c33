package edustream

import (
	"context"
	"strconv"
	"time"
)

// LiveSessionStatus is where a live class is in its life.
type LiveSessionStatus string

// Live session statuses, as in the GraphQL schema. A session moves only
// forward: SCHEDULED → LIVE → ENDED, or SCHEDULED → CANCELLED (and
// SCHEDULED → ENDED when Webex reports the end before, or instead of, the
// start).
const (
	LiveScheduled LiveSessionStatus = "SCHEDULED"
	LiveLive      LiveSessionStatus = "LIVE"
	LiveEnded     LiveSessionStatus = "ENDED"
	LiveCancelled LiveSessionStatus = "CANCELLED"
)

// Limits on live sessions. Webex's own: a meeting title of at most 128
// characters, an agenda of at most 1300, and 10 minutes to 24 hours between
// start and end. EduStream's: at most MaxLiveSessionsPerCourse upcoming
// classes per course (what a course page lists at most).
const (
	MaxLiveTitleLength       = 128
	MaxLiveAgendaLength      = 1300
	MinLiveSessionLength     = 10 * time.Minute
	MaxLiveSessionLength     = 24 * time.Hour
	MaxIdempotencyKeyLength  = 128
	MaxLiveSessionsPerCourse = 100
)

// LiveSession is a live class of a course, held as a Webex meeting. The
// meeting is a series of one occurrence; MeetingID is the series id, which
// webhooks and recordings reach through their meetingSeriesId (they name
// the meeting instance, never the series).
type LiveSession struct {
	ID        int64
	CourseID  int64
	CreatorID int64
	Title     string
	Agenda    string
	// StartsAt and EndsAt are kept to the minute, as Webex keeps them.
	StartsAt time.Time
	EndsAt   time.Time
	Status   LiveSessionStatus
	// Version increases with every change, so subscribers can drop events
	// older than what they have shown.
	Version int64

	// The Webex meeting and how to join it.
	MeetingID     string
	MeetingNumber string
	JoinURL       string
	Password      string
	HostKey       string
	SIPAddress    string
	// MeetingDeletePending says the session was cancelled and Webex has not
	// yet confirmed the meeting's deletion; a task retries until it has.
	MeetingDeletePending bool

	// RecordingLectureID is the lecture made from the class's first
	// recording, once its import started.
	RecordingLectureID *int64
	// IdempotencyKey is the client's key for the create (empty: none); a
	// second create with the same key by the same user returns this
	// session.
	IdempotencyKey string

	StartedAt   *time.Time
	EndedAt     *time.Time
	CancelledAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// LiveSessionInput is what an instructor gives to schedule a class.
type LiveSessionInput struct {
	Title    string
	Agenda   string
	StartsAt time.Time
	EndsAt   time.Time
	// IdempotencyKey makes the create safe to retry (empty: none).
	IdempotencyKey string
}

// Validate puts the input in its stored form (text as NormalizeText leaves
// it, times to the minute as Webex keeps them, so what is checked is what
// Webex will hold) and checks it against the rules Webex applies, so a bad
// input is refused before Webex is called. EINVALID.
func (in *LiveSessionInput) Validate(now time.Time) error {
	in.StartsAt, in.EndsAt = toTheMinute(in.StartsAt), toTheMinute(in.EndsAt)
	if err := normalizeLiveText(&in.Title, &in.Agenda); err != nil {
		return err
	}
	if err := validateLiveTimes(in.StartsAt, in.EndsAt, now); err != nil {
		return err
	}
	switch k := in.IdempotencyKey; {
	case len(k) > MaxIdempotencyKeyLength:
		return Errorf(EINVALID, "clientMutationId must be at most %d bytes", MaxIdempotencyKeyLength)
	case !validText(k, false):
		return Errorf(EINVALID, "clientMutationId must be valid UTF-8 without control characters")
	}
	return nil
}

func toTheMinute(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) }

// LiveSessionChange is what an instructor changes of a scheduled class;
// nil fields are unchanged.
type LiveSessionChange struct {
	Title    *string
	Agenda   *string
	StartsAt *time.Time
	EndsAt   *time.Time
}

// Apply returns the input the change makes of s, in its stored form and
// checked like LiveSessionInput.Validate, except that times that do not
// change are not held against the clock: a class may be renamed after its
// start time has passed. EINVALID.
func (c LiveSessionChange) Apply(s *LiveSession, now time.Time) (LiveSessionInput, error) {
	in := LiveSessionInput{Title: s.Title, Agenda: s.Agenda, StartsAt: s.StartsAt, EndsAt: s.EndsAt}
	if c.Title != nil {
		in.Title = *c.Title
	}
	if c.Agenda != nil {
		in.Agenda = *c.Agenda
	}
	if c.StartsAt != nil {
		in.StartsAt = *c.StartsAt
	}
	if c.EndsAt != nil {
		in.EndsAt = *c.EndsAt
	}
	in.StartsAt, in.EndsAt = toTheMinute(in.StartsAt), toTheMinute(in.EndsAt)
	if err := normalizeLiveText(&in.Title, &in.Agenda); err != nil {
		return in, err
	}
	if !in.StartsAt.Equal(s.StartsAt) || !in.EndsAt.Equal(s.EndsAt) {
		return in, validateLiveTimes(in.StartsAt, in.EndsAt, now)
	}
	return in, nil
}

// normalizeLiveText puts a class's title and agenda in their stored form
// (see NormalizeText) within Webex's limits.
func normalizeLiveText(title, agenda *string) error {
	if err := normalizeField("title", title, SingleLine, MaxLiveTitleLength); err != nil {
		return err
	}
	if *title == "" {
		return Errorf(EINVALID, "title must not be empty")
	}
	return normalizeField("agenda", agenda, MultiLine, MaxLiveAgendaLength)
}

func validateLiveTimes(start, end, now time.Time) error {
	switch d := end.Sub(start); {
	case start.IsZero() || end.IsZero():
		return Errorf(EINVALID, "startsAt and endsAt are required")
	case !start.After(now):
		return Errorf(EINVALID, "startsAt must be in the future (times are kept to the minute)")
	case d < MinLiveSessionLength:
		return Errorf(EINVALID, "a live class must last at least %s, got %s", FormatDuration(MinLiveSessionLength.Seconds()), FormatDuration(max(d, 0).Seconds()))
	case d > MaxLiveSessionLength:
		return Errorf(EINVALID, "a live class may last at most %s, got %s", FormatDuration(MaxLiveSessionLength.Seconds()), FormatDuration(d.Seconds()))
	}
	return nil
}

// Upcoming reports whether s is still to come or running at now: what a
// course page lists first.
func (s *LiveSession) Upcoming(now time.Time) bool {
	return s.Status == LiveLive || (s.Status == LiveScheduled && s.EndsAt.After(now))
}

// LiveSessionFilter selects a course's sessions.
type LiveSessionFilter struct {
	// Past, when set, keeps only past (true) or upcoming (false) sessions
	// (see LiveSession.Upcoming). Unset: upcoming first, soonest first,
	// then past ones, latest first.
	Past *bool
	// Now is the time "upcoming" is measured against.
	Now time.Time
	// Limit bounds the sessions per course.
	Limit int
}

// LiveSessionUpdate is a change to a stored session: the meeting's
// fields as Webex now holds them. It applies only while the session is
// SCHEDULED and still at Version.
type LiveSessionUpdate struct {
	Version  int64
	Title    string
	Agenda   string
	StartsAt time.Time
	EndsAt   time.Time
}

// LiveRecording is a Webex recording being (or having been) imported as a
// lecture. Its row is what makes a repeated import a no-op.
type LiveRecording struct {
	// RecordingID is Webex's id of the recording.
	RecordingID string
	SessionID   int64
	// LectureID is the lecture made for it, created with the row.
	LectureID int64
	// VideoID is the video the recording was stored as (0: not yet).
	VideoID    int64
	ImportedAt *time.Time
	CreatedAt  time.Time
}

// LiveSessionService stores live sessions and their recordings' imports.
type LiveSessionService interface {
	// CreateLiveSession inserts s (SCHEDULED, version 1) and sets its ID,
	// status, version and timestamps. ECONFLICT when the creator already
	// used s.IdempotencyKey, or the meeting is another session's.
	CreateLiveSession(ctx context.Context, s *LiveSession) error
	// FindLiveSessionByID returns a session. ENOTFOUND.
	FindLiveSessionByID(ctx context.Context, id int64) (*LiveSession, error)
	// FindLiveSessionByIdempotencyKey returns the session the creator made
	// with key. ENOTFOUND.
	FindLiveSessionByIdempotencyKey(ctx context.Context, creatorID int64, key string) (*LiveSession, error)
	// FindLiveSessionByMeeting returns the session of a Webex meeting
	// series, or when seriesID is empty, the newest with the meeting
	// number. ENOTFOUND.
	FindLiveSessionByMeeting(ctx context.Context, seriesID, meetingNumber string) (*LiveSession, error)
	// FindLiveSessionsByCourseIDs returns each course's sessions that match
	// filter, in its order; a course without any is absent.
	FindLiveSessionsByCourseIDs(ctx context.Context, courseIDs []int64, filter LiveSessionFilter) (map[int64][]*LiveSession, error)
	// UpdateLiveSession applies upd to a SCHEDULED session still at
	// upd.Version, bumps the version and returns the session. ECONFLICT
	// when it moved on; ENOTFOUND.
	UpdateLiveSession(ctx context.Context, id int64, upd LiveSessionUpdate) (*LiveSession, error)
	// TransitionLiveSession moves the session to status if it is in one of
	// from, and returns it and whether it moved. A session in none of from
	// is returned unchanged: for webhooks that repeat and arrive out of
	// order, that is not an error. ENOTFOUND.
	TransitionLiveSession(ctx context.Context, id int64, from []LiveSessionStatus, to LiveSessionStatus) (s *LiveSession, moved bool, err error)
	// CancelLiveSession makes a SCHEDULED session CANCELLED and, when
	// deleteMeeting, marks its meeting's deletion pending. A CANCELLED
	// session is returned as it is. ECONFLICT for a LIVE or ENDED one;
	// ENOTFOUND.
	CancelLiveSession(ctx context.Context, id int64, deleteMeeting bool) (*LiveSession, error)
	// MarkMeetingDeleted records that Webex deleted the session's meeting.
	MarkMeetingDeleted(ctx context.Context, id int64) error
	// FindPendingMeetingDeletes returns the cancelled sessions whose
	// meeting still waits to be deleted.
	FindPendingMeetingDeletes(ctx context.Context) ([]*LiveSession, error)
	// FindActiveLiveSessions returns the SCHEDULED and LIVE sessions that
	// end after since: those whose meeting may still change in Webex.
	FindActiveLiveSessions(ctx context.Context, since time.Time) ([]*LiveSession, error)
	// FindEndedWithoutRecording returns the ENDED sessions that ended after
	// since and have no recording lecture yet.
	FindEndedWithoutRecording(ctx context.Context, since time.Time) ([]*LiveSession, error)
	// SetRecordingLecture links the session to the lecture of its recording
	// unless it has one, and returns the session and whether it changed.
	SetRecordingLecture(ctx context.Context, id, lectureID int64) (s *LiveSession, changed bool, err error)

	// ClaimLiveRecording records that r.RecordingID is imported for
	// r.SessionID and, in the same transaction, appends lecture to the
	// session's course; it sets r.LectureID. A recording claimed before is
	// returned as it was, and no lecture is created. ENOTFOUND for a
	// hidden or missing course, ECONFLICT for a full one.
	ClaimLiveRecording(ctx context.Context, r *LiveRecording, lecture *Lecture) (*LiveRecording, error)
	// SetLiveRecordingVideo records the video the recording is stored as.
	SetLiveRecordingVideo(ctx context.Context, recordingID string, videoID int64) error
	// MarkLiveRecordingImported records that the recording's video is
	// uploaded and its chain started.
	MarkLiveRecordingImported(ctx context.Context, recordingID string) error
}

// LiveSessionTopic is the topic of a course's live session events.
func LiveSessionTopic(courseID int64) string {
	return "course." + strconv.FormatInt(courseID, 10) + ".live"
}

// LiveJobQueue is the background work of live classes.
type LiveJobQueue interface {
	// EnqueueMeetingDelete schedules the deletion of a Webex meeting: one
	// of a cancelled session, or one no session owns.
	EnqueueMeetingDelete(ctx context.Context, meetingID string) error
	// EnqueueRecordingImport schedules the import of a Webex recording as a
	// lecture.
	EnqueueRecordingImport(ctx context.Context, recordingID string) error
	// EnqueueRecordingImportOnce is EnqueueRecordingImport unless the
	// import was enqueued before and failed for good: for imports found
	// by looking, which nothing in the database marks as tried.
	EnqueueRecordingImportOnce(ctx context.Context, recordingID string) error
}
