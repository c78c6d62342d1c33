package edustream

import (
	"context"
	"time"
)

// MessageState is what a MessageLog knows of an inbound message.
type MessageState int

// Message states.
const (
	// MessageClaimed: nobody handled it; the caller now holds it.
	MessageClaimed MessageState = iota
	// MessageInFlight: another handler holds it right now.
	MessageInFlight
	// MessageHandled: it was handled before.
	MessageHandled
)

// MessageLog remembers which inbound messages (SNS deliveries, by message
// id) were handled, so a redelivery or a replay is handled once, and the
// latest S3 event sequencer seen per object, so an older event arriving
// late is not acted on. Losing it (a Redis restart) only means a message
// may be handled twice, which every handler tolerates: the log saves work
// and noise, the handlers' conditional updates keep the truth.
type MessageLog interface {
	// ClaimMessage claims id for lease, unless it was handled or is held.
	ClaimMessage(ctx context.Context, id string, lease time.Duration) (MessageState, error)
	// FinishMessage records id as handled, for keep.
	FinishMessage(ctx context.Context, id string, keep time.Duration) error
	// ReleaseMessage drops the claim on id after its handling failed, so
	// the sender's retry is handled.
	ReleaseMessage(ctx context.Context, id string) error
	// SequencerSeen reports whether an event at or after seq was recorded
	// for key. Sequencers are compared as strings, so callers pass them
	// in a form where that is their order (see RecordSequencer).
	SequencerSeen(ctx context.Context, key, seq string) (bool, error)
	// RecordSequencer records seq for key, for keep, unless a later one
	// is recorded.
	RecordSequencer(ctx context.Context, key, seq string, keep time.Duration) error
}
