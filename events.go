package edustream

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

// EventService carries events between the processes of the fleet: a worker
// publishes, and whichever API instance holds a subscriber's websocket
// delivers. Delivery is best effort (Redis pub/sub): a subscriber that was
// not listening misses the event, which is why every subscription starts
// from the state in the database and events only bring changes.
type EventService interface {
	// PublishEvent sends e to the subscribers of e.Topic on every instance.
	PublishEvent(ctx context.Context, e Event) error
	// SubscribeFunc calls fn with the events published to topic from the
	// moment it returns until ctx ends, in order, on the service's own
	// delivery goroutine: fn must not block (hand slow work to a goroutine
	// of its own). It costs no goroutine per subscriber, for those held by
	// the thousand.
	SubscribeFunc(ctx context.Context, topic string, fn func(Event)) error
}

// ConfirmedPublisher is implemented by event services that can wait for an
// event to reach every process. A write that must be visible on the
// writer's next read, wherever that read lands, waits for the invalidation
// it publishes.
type ConfirmedPublisher interface {
	// PublishEventConfirmed publishes e like PublishEvent, and returns once
	// every process listening for events has handed it to its
	// subscribers. An error after publishing says that some may not have
	// (one did not answer in time, or ctx ended); the event still went out.
	PublishEventConfirmed(ctx context.Context, e Event) error
}

// Event is one thing that happened, published once on its Topic.
//
// Events carry the state they announce, as the write that made it left it
// (a video's encoding state, a live session), with the version that orders
// it: whoever publishes has just written that state, while a thin event
// (an id and a version) would make every instance of the fleet read the
// primary again for each subscriber's event, and progress within a step is
// not in the database at every beat anyway. Subscribers drop what is older
// than what they have shown, and after a Resync read the database.
type Event struct {
	Topic string `json:"topic"`
	// Encoding is where a lecture's newest video is (EncodingTopic).
	Encoding *EncodingEvent `json:"encoding,omitempty"`
	// QueueMoved says the video queue advanced, so those waiting in it may
	// want to recompute their position.
	QueueMoved *struct{} `json:"queueMoved,omitempty"`
	// LiveSession is a live session of the topic's course as it is after
	// a change (LiveSessionTopic).
	LiveSession *LiveSession `json:"liveSession,omitempty"`
	// Content says something that shared reads show changed. It rides
	// along with the event of the change (a video's move) or alone on
	// ContentTopic; either way it reaches ContentTopic's subscribers (see
	// Topics).
	Content *ContentChange `json:"content,omitempty"`
	// Progress is a completion of one user's (ProgressTopic).
	Progress *ProgressEvent `json:"progress,omitempty"`
	// Resync, set by the event service itself, says events may have been
	// lost (the connection to the other processes dropped): subscribers
	// re-read the state they follow.
	Resync bool `json:"-"`
}

// Topics returns the topics whose subscribers receive e: its own, and
// ContentTopic when it carries a content change. A change that both moves
// a video and changes what shared reads show is one event, published once,
// and every event service delivers it to both.
func (e Event) Topics() []string {
	if e.Content != nil && e.Topic != ContentTopic {
		return []string{e.Topic, ContentTopic}
	}
	return []string{e.Topic}
}

// EncodingTopic is the topic of a lecture's encoding events.
func EncodingTopic(lectureID int64) string {
	return "lecture." + strconv.FormatInt(lectureID, 10) + ".encoding"
}

// VideoQueueTopic is the topic of QueueMoved events.
const VideoQueueTopic = "queue.video"

// EncodingEvent is a step of a video's way through the chain.
type EncodingEvent struct {
	LectureID int64       `json:"lectureId"`
	VideoID   int64       `json:"videoId"`
	Status    VideoStatus `json:"status"`
	Stage     VideoStage  `json:"stage"`
	// Version is the video's version when the event was made; progress
	// events within a stage share it (see Newer).
	Version int64 `json:"version"`
	// Progress is the whole chain's percent, 0..100.
	Progress float64 `json:"progress"`
	Message  string  `json:"message,omitempty"`
	// ETASeconds is the time the running stage still needs, or, while the
	// video waits for a worker, the time until its waiting step should be
	// done (QueueWait.ETA), when known.
	ETASeconds *int `json:"etaSeconds,omitempty"`
	// QueuePosition is the number of tasks ahead in the video queue (0: next),
	// when waiting.
	QueuePosition *int      `json:"queuePosition,omitempty"`
	At            time.Time `json:"at"`
	// Removed says the lecture or its course was deleted: published by the
	// deletion, and the last event a subscriber gets.
	Removed bool `json:"removed,omitempty"`
}

// Newer reports whether e should replace prev for a subscriber who has seen
// prev: a newer video, a newer version, or more progress within the same
// version. Events arrive out of order across processes; this keeps a
// progress bar from jumping back.
func (e *EncodingEvent) Newer(prev *EncodingEvent) bool {
	switch {
	case prev == nil:
		return true
	case e.VideoID != prev.VideoID:
		return e.VideoID > prev.VideoID
	case e.Version != prev.Version:
		return e.Version > prev.Version
	case e.Progress != prev.Progress:
		return e.Progress > prev.Progress
	}
	// Same point: new only if it says something else (a queue position).
	return !equalIntPtr(e.QueuePosition, prev.QueuePosition) || !equalIntPtr(e.ETASeconds, prev.ETASeconds)
}

func equalIntPtr(a, b *int) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// EncodingEventOf describes v as it is now.
func EncodingEventOf(v *Video, at time.Time) *EncodingEvent {
	return &EncodingEvent{
		LectureID: v.LectureID,
		VideoID:   v.ID,
		Status:    v.Status,
		Stage:     v.Stage,
		Version:   v.Version,
		Progress:  v.Progress,
		Message:   v.StatusMessage(),
		At:        at,
	}
}

// StatusMessage says in words where v is.
func (v *Video) StatusMessage() string {
	switch v.Status {
	case VideoAwaitingUpload:
		return "waiting for the upload"
	case VideoUploaded:
		return "uploaded; waiting for a worker"
	case VideoReady:
		return "ready"
	case VideoFailed:
		return v.Error
	}
	switch v.Stage {
	case StageProbe:
		return "checking the file"
	case StageTranscode:
		return "transcoding"
	case StagePublish:
		return "publishing the stream"
	case StageThumbnails:
		return "making thumbnails"
	case StageCaptions:
		return "making captions"
	case StageMetadata:
		return "writing metadata"
	case StageComplete:
		return "finishing"
	}
	return string(v.Stage)
}

// Shared reads (the published catalog, a published course or lecture) are
// answered from caches in every API process (see gqlhttp), which drop what
// they hold when something those reads show changes. Writes made through
// GraphQL announce themselves there; the writes made elsewhere are
// announced by their owners: VideoLifecycle (a video's moves), LiveClasses
// (a recording becoming a lecture), SignIn (a user's name refreshed from
// their token). A course's purge is not: its deletion hid it from every
// reader, and was announced then.

// ContentTopic is the topic of ContentChange events.
const ContentTopic = "content"

// ContentChange says that something shared reads show has changed. The ids
// are for logs; caches drop every shared read, since a catalog page shows
// many courses.
type ContentChange struct {
	CourseID  int64 `json:"courseId,omitempty"`
	LectureID int64 `json:"lectureId,omitempty"`
	VideoID   int64 `json:"videoId,omitempty"`
	UserID    int64 `json:"userId,omitempty"`
}

// AnnounceContentChange publishes c on ContentTopic. Best effort: a cache
// that misses it serves what it holds until its entries expire, or until
// its event connection comes back and it drops everything.
func AnnounceContentChange(ctx context.Context, events EventService, c ContentChange) {
	if events == nil {
		return
	}
	if err := events.PublishEvent(ctx, Event{Topic: ContentTopic, Content: &c}); err != nil {
		Logger(ctx).Warn("publish content change; caches of shared reads may serve the old version until they expire",
			slog.String("error", err.Error()))
	}
}
