package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/edustream/edustream"
	goredis "github.com/redis/go-redis/v9"
)

// DefaultWriteMarkWindow is the window NewWriteMarks uses when given none. It
// must exceed the replica's worst lag.
const DefaultWriteMarkWindow = 10 * time.Second

// WriteMarks implements edustream.WriteMarks with one expiring Redis key per
// user, so a write served by one API instance sends the user's next reads to
// the primary on every instance. Losing the keys (a Redis restart) only
// means reads may briefly be stale; no data depends on them.
type WriteMarks struct {
	rdb    goredis.UniversalClient
	window time.Duration
}

var _ edustream.WriteMarks = (*WriteMarks)(nil)

// NewWriteMarks returns WriteMarks on rdb that remember a write for window
// (0 or less: DefaultWriteMarkWindow).
func NewWriteMarks(rdb goredis.UniversalClient, window time.Duration) *WriteMarks {
	if window <= 0 {
		window = DefaultWriteMarkWindow
	}
	return &WriteMarks{rdb: rdb, window: window}
}

func writeMarkKey(userID int64) string { return fmt.Sprintf("edustream:wrote:%d", userID) }

// MarkWrite records that the user just wrote: SET key 1 EX window (PX for a
// window that is not whole seconds), which also restarts the window of an
// earlier mark.
func (m *WriteMarks) MarkWrite(ctx context.Context, userID int64) error {
	if err := m.rdb.Set(ctx, writeMarkKey(userID), 1, m.window).Err(); err != nil {
		return fmt.Errorf("mark write of user %d: %w", userID, err)
	}
	return nil
}

// WroteRecently reports whether the user wrote within the window.
func (m *WriteMarks) WroteRecently(ctx context.Context, userID int64) (bool, error) {
	n, err := m.rdb.Exists(ctx, writeMarkKey(userID)).Result()
	if err != nil {
		return false, fmt.Errorf("read write mark of user %d: %w", userID, err)
	}
	return n > 0, nil
}
