package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream"
)

// The live-class tasks. Each one calls edustream.LiveClasses, which reads
// the session from the database and asks Webex; the payloads carry Webex's
// ids only.
const (
	// TypeLiveMeetingDelete deletes the Webex meeting of a cancelled
	// session, or one no session owns (LiveMeetingPayload). Retried until
	// Webex confirms; a meeting already gone counts.
	TypeLiveMeetingDelete = "live:delete-meeting:v1"
	// TypeLiveRecordingImport turns a Webex recording into a lecture fed
	// to the video chain (LiveRecordingPayload).
	TypeLiveRecordingImport = "live:import-recording:v1"
	// TypeLiveMeetingSync compares the active sessions with Webex and
	// repairs drift (LiveSyncPayload).
	TypeLiveMeetingSync = "live:sync-meetings:v1"
)

// LiveMeetingPayload is the payload of TypeLiveMeetingDelete.
type LiveMeetingPayload struct {
	MeetingID string `json:"meeting_id"`
}

// LiveRecordingPayload is the payload of TypeLiveRecordingImport.
type LiveRecordingPayload struct {
	RecordingID string `json:"recording_id"`
}

// LiveSyncPayload is the payload of TypeLiveMeetingSync: there is one sync,
// of every active session.
type LiveSyncPayload struct{}

// maxWebexIDLength bounds the Webex ids a task carries (the database's
// column width).
const maxWebexIDLength = 191

// webexID refuses an id that is empty, too long, or holds anything but the
// letters, digits, '_' and '-' Webex ids are made of: it ends up in a task
// id.
func webexID(what, id string) error {
	if id == "" || len(id) > maxWebexIDLength {
		return edustream.Errorf(edustream.EINVALID, "%s id must be 1 to %d characters", what, maxWebexIDLength)
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
			return edustream.Errorf(edustream.EINVALID, "%s id %q has a character Webex ids do not", what, id)
		}
	}
	return nil
}

// LiveMeetingDeleteTaskID is the id of the delete task of a meeting, so
// a cancel, its retries and the reconciler make one task.
func LiveMeetingDeleteTaskID(meetingID string) string { return "live:delete-meeting:" + meetingID }

// LiveRecordingImportTaskID is the id of the import task of a recording,
// so duplicate webhook deliveries make one task.
func LiveRecordingImportTaskID(recordingID string) string {
	return "live:import-recording:" + recordingID
}

// LiveMeetingSyncTaskID is the id of the one sync task.
const LiveMeetingSyncTaskID = "live:sync-meetings"

var (
	// A delete retries for about a day with the capped backoff below;
	// after that the reconciler enqueues it again, so it never stops
	// while the session says the delete is pending.
	liveMeetingDelete = taskType[LiveMeetingPayload]{
		name: TypeLiveMeetingDelete, queue: QueueDefault, maxRetry: 150, timeout: 3 * time.Minute,
		id:    func(p LiveMeetingPayload) string { return LiveMeetingDeleteTaskID(p.MeetingID) },
		check: func(p LiveMeetingPayload) error { return webexID("meeting", p.MeetingID) },
	}
	// An import downloads a recording of up to the upload limit: hours
	// on a slow link.
	liveRecordingImport = taskType[LiveRecordingPayload]{
		name: TypeLiveRecordingImport, queue: QueueDefault, maxRetry: 25, timeout: 4 * time.Hour,
		id:    func(p LiveRecordingPayload) string { return LiveRecordingImportTaskID(p.RecordingID) },
		check: func(p LiveRecordingPayload) error { return webexID("recording", p.RecordingID) },
	}
	// A failed sync is not retried: the reconciler enqueues the next one.
	liveMeetingSync = taskType[LiveSyncPayload]{
		name: TypeLiveMeetingSync, queue: QueueDefault, maxRetry: 0, timeout: 10 * time.Minute,
		id:    func(LiveSyncPayload) string { return LiveMeetingSyncTaskID },
		check: func(LiveSyncPayload) error { return nil },
	}
)

// retryDelays are the task types that do not retry on asynq's default
// curve (n⁴+15 s, tuned for database failovers): calls to a remote API
// (Webex, MediaConvert) whose outages are mostly short, and whose work
// should be done soon after it is back (a cancelled class's meeting, a
// stopped video's job): 1 s, doubling, capped at 10 minutes.
var retryDelays = map[string]func(retried int) time.Duration{
	TypeLiveMeetingDelete:   remoteAPIRetryDelay,
	TypeLiveRecordingImport: remoteAPIRetryDelay,
	// A stopped video's MediaConvert job bills while it runs.
	TypeTranscodeCancel: remoteAPIRetryDelay,
}

func remoteAPIRetryDelay(retried int) time.Duration {
	return min(time.Second<<min(retried, 10), 10*time.Minute)
}

var _ edustream.LiveJobQueue = (*Queue)(nil)

// EnqueueMeetingDelete schedules the deletion of a Webex meeting. A delete
// already queued is not an error.
func (q *Queue) EnqueueMeetingDelete(ctx context.Context, meetingID string) error {
	_, err := enqueue(ctx, q.enq, liveMeetingDelete, LiveMeetingPayload{MeetingID: meetingID})
	return err
}

// EnqueueRecordingImport schedules the import of a Webex recording. An
// import already queued is not an error.
func (q *Queue) EnqueueRecordingImport(ctx context.Context, recordingID string) error {
	_, err := enqueue(ctx, q.enq, liveRecordingImport, LiveRecordingPayload{RecordingID: recordingID})
	return err
}

// EnqueueRecordingImportOnce schedules the import of a Webex recording
// unless its task exists in any state, archived included: an import that
// failed for good stays in asynq's archive for an operator, instead of
// being retried every time the sync finds the recording again.
func (q *Queue) EnqueueRecordingImportOnce(ctx context.Context, recordingID string) error {
	task, err := liveRecordingImport.newTask(ctx, LiveRecordingPayload{RecordingID: recordingID})
	if err != nil {
		return err
	}
	if _, err := q.enq.client.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue the import of recording %s: %w", recordingID, err)
	}
	return nil
}

// handleLive registers the live-class handlers. Without Deps.Live (no
// Webex here) the tasks fail and are retried, in case a worker with Webex
// takes them.
func handleLive(mux *asynq.ServeMux, d *Deps) {
	handle(mux, liveMeetingDelete, func(ctx context.Context, p LiveMeetingPayload) error {
		return d.Live.DeleteMeeting(ctx, p.MeetingID)
	})
	handle(mux, liveRecordingImport, func(ctx context.Context, p LiveRecordingPayload) error {
		return d.Live.ImportRecording(ctx, p.RecordingID)
	})
	handle(mux, liveMeetingSync, func(ctx context.Context, _ LiveSyncPayload) error {
		var done LiveSync
		done.Err = syncMeetings(ctx, d.Live, &done)
		if d.signals != nil { // nil: a mux built without a Worker
			d.signals.LiveSync.Signal(done)
		}
		return done.Err
	})
}

// syncMeetings repairs the drift between the active sessions and Webex,
// then looks for recordings no webhook brought, and counts what it did in
// done.
func syncMeetings(ctx context.Context, live *edustream.LiveClasses, done *LiveSync) error {
	var err error
	if done.Repaired, err = live.SyncMeetings(ctx); err != nil {
		return fmt.Errorf("sync live sessions with Webex: %w", err)
	}
	if done.Imports, err = live.DiscoverRecordings(ctx); err != nil {
		return fmt.Errorf("look for the recordings of live sessions: %w", err)
	}
	return nil
}

// reconcileMeetingDeletes enqueues the delete of every cancelled session's
// meeting that Webex has not confirmed.
func (w *Worker) reconcileMeetingDeletes(ctx context.Context) (int, error) {
	if !w.deps.Live.Enabled() {
		return 0, nil
	}
	sessions, err := w.deps.Live.Sessions.FindPendingMeetingDeletes(ctx)
	if err != nil {
		return 0, fmt.Errorf("find pending meeting deletes: %w", err)
	}
	payloads := make([]LiveMeetingPayload, len(sessions))
	for i, s := range sessions {
		payloads[i] = LiveMeetingPayload{MeetingID: s.MeetingID}
	}
	return enqueueAll(ctx, w.enq, liveMeetingDelete, payloads)
}

// reconcileLiveMeetings enqueues the comparison of the active sessions
// with Webex, whose changes nothing tells EduStream about (a meeting
// deleted or moved in Webex's own pages), and the search for recordings no
// webhook brought. The fixed task id makes the
// workers of the fleet share one sync at a time. It reports 0: a sync is
// periodic work, not work Redis lost.
func (w *Worker) reconcileLiveMeetings(ctx context.Context) (int, error) {
	if !w.deps.Live.Enabled() {
		return 0, nil
	}
	if _, err := enqueue(ctx, w.enq, liveMeetingSync, LiveSyncPayload{}); err != nil {
		return 0, err
	}
	return 0, nil
}
