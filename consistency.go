package edustream

import "context"

// Reads normally go to the read replica, which lags the primary. A read that
// must see the caller's own recent writes goes to the primary instead. The
// rule, applied by the GraphQL layer and obeyed by storage:
//
//  1. every read inside a mutation operation goes to the primary, so a
//     mutation's result shows what it just wrote;
//  2. after a user's mutation succeeds, that user's reads go to the primary
//     for WriteMarks' window (longer than the replica's worst lag), so a page
//     loaded right after a save shows the save, on any server of the fleet;
//  3. everything else may read the replica.

type primaryContextKey struct{}

// NewContextReadingPrimary returns a context whose reads go to the primary.
func NewContextReadingPrimary(ctx context.Context) context.Context {
	return context.WithValue(ctx, primaryContextKey{}, true)
}

// ReadsPrimary reports whether reads under ctx must go to the primary.
func ReadsPrimary(ctx context.Context) bool {
	v, _ := ctx.Value(primaryContextKey{}).(bool)
	return v
}

// WriteMarks remembers, fleet-wide, which users wrote recently.
type WriteMarks interface {
	// MarkWrite records that the user just wrote.
	MarkWrite(ctx context.Context, userID int64) error
	// WroteRecently reports whether the user wrote within the window.
	WroteRecently(ctx context.Context, userID int64) (bool, error)
}
