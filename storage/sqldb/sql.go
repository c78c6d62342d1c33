package sqldb

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// utcMicro is the form every stored time takes: UTC, microsecond precision,
// what DATETIME(6) holds. Truncating before the write (rather than letting
// MySQL round) makes the struct a write returns equal to what a read
// returns, on both engines.
func utcMicro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcMicroPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utcMicro(*t)
	return &u
}

// nullTime turns an optional time into a query argument: NULL or UTC.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return utcMicro(*t)
}

// orNull turns an optional value into a query argument: NULL for nil, used
// by the COALESCE(?, column) updates. Explicit, rather than passing the
// pointer, so no driver's pointer handling is relied on.
func orNull[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// timePtr converts a scanned nullable time.
func timePtr(t sql.Null[time.Time]) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.V.UTC()
	return &u
}

// clockOrNow defaults a nil clock to time.Now.
func clockOrNow(now edustream.Clock) edustream.Clock {
	if now == nil {
		return time.Now
	}
	return now
}

// inList returns the placeholders "?, ?, ?" for ids, without duplicates,
// and the matching arguments. ids must not be empty.
func inList(ids []int64) (string, []any) {
	seen := make(map[int64]bool, len(ids))
	args := make([]any, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			args = append(args, id)
		}
	}
	return strings.Repeat("?, ", len(args)-1) + "?", args
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, h handle, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := h.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// rowsAffected returns how many rows an UPDATE or DELETE matched (MySQL is
// configured to count matched, not changed, rows).
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
