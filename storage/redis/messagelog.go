package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// MessageLog implements edustream.MessageLog with expiring Redis keys: one
// per message id (its value says held or handled) and one per object key
// for S3 sequencers.
//
// Redis rather than the database: the log only saves repeated work, every
// handler behind it is idempotent, and its entries must expire on their own
// (SET with a TTL does that; a table would need a sweeper). The API already
// holds the process's one Redis client, and a Redis outage already answers
// SNS with 5xx, which is what it wants to hear.
type MessageLog struct {
	rdb goredis.UniversalClient
}

var _ edustream.MessageLog = (*MessageLog)(nil)

// NewMessageLog returns a MessageLog on rdb, the process's one Redis
// client (shared, not closed).
func NewMessageLog(rdb goredis.UniversalClient) *MessageLog {
	return &MessageLog{rdb: rdb}
}

const (
	messageHeld    = "held"
	messageHandled = "handled"
)

// Long ids (S3 keys can be 1 KiB) are hashed so every key has one size.
func messageKey(id string) string   { return "edustream:inbound:msg:" + digest(id) }
func sequencerKey(id string) string { return "edustream:inbound:seq:" + digest(id) }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// ClaimMessage is SET NX with the lease: the first caller gets the key;
// later ones read who has it.
func (l *MessageLog) ClaimMessage(ctx context.Context, id string, lease time.Duration) (edustream.MessageState, error) {
	key := messageKey(id)
	ok, err := l.rdb.SetNX(ctx, key, messageHeld, lease).Result()
	if err != nil {
		return 0, fmt.Errorf("claim message %s: %w", id, err)
	}
	if ok {
		return edustream.MessageClaimed, nil
	}
	v, err := l.rdb.Get(ctx, key).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		// It expired or was released between the two commands: try once
		// more rather than tell the sender to come back.
		if ok, err = l.rdb.SetNX(ctx, key, messageHeld, lease).Result(); err == nil && ok {
			return edustream.MessageClaimed, nil
		}
		if err != nil {
			return 0, fmt.Errorf("claim message %s: %w", id, err)
		}
		return edustream.MessageInFlight, nil
	case err != nil:
		return 0, fmt.Errorf("claim message %s: %w", id, err)
	case v == messageHandled:
		return edustream.MessageHandled, nil
	}
	return edustream.MessageInFlight, nil
}

// FinishMessage overwrites the claim with "handled" for keep.
func (l *MessageLog) FinishMessage(ctx context.Context, id string, keep time.Duration) error {
	if err := l.rdb.Set(ctx, messageKey(id), messageHandled, keep).Err(); err != nil {
		return fmt.Errorf("finish message %s: %w", id, err)
	}
	return nil
}

// ReleaseMessage deletes a claim, but never a "handled" mark: a release
// that races a concurrent finish of the same message must not undo it.
func (l *MessageLog) ReleaseMessage(ctx context.Context, id string) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{messageKey(id)}, messageHeld).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("release message %s: %w", id, err)
	}
	return nil
}

var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// SequencerSeen compares seq with the recorded one as strings.
func (l *MessageLog) SequencerSeen(ctx context.Context, key, seq string) (bool, error) {
	cur, err := l.rdb.Get(ctx, sequencerKey(key)).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the sequencer of %s: %w", key, err)
	}
	return cur >= seq, nil
}

// RecordSequencer keeps the greater of seq and the recorded one, in one
// script so two concurrent records cannot lower it.
func (l *MessageLog) RecordSequencer(ctx context.Context, key, seq string, keep time.Duration) error {
	if err := maxScript.Run(ctx, l.rdb, []string{sequencerKey(key)}, seq, keep.Milliseconds()).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("record the sequencer of %s: %w", key, err)
	}
	return nil
}

var maxScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur >= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)
