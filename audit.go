package edustream

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of an audit entry's text, the widths of its columns. Targets name
// queues and tasks, results a public code and a safe message; longer ones
// are cut to fit rather than refused, since an action that happened must
// be recorded.
const (
	MaxAuditActionLength = 64
	MaxAuditTargetLength = 255
	MaxAuditResultLength = 1000
)

// AuditEntry is one admin action as the audit log keeps it: who did what to
// what, how it went, and when.
type AuditEntry struct {
	ID      int64
	ActorID int64
	// Action is the operation, as the GraphQL mutation is named
	// ("pauseQueue").
	Action string
	// Target is what it was done to ("queue video", "task
	// video:transcode:12 in queue video").
	Target string
	// Result is "ok", with what the action did after a colon, or "failed:
	// CODE: message" with the public code and safe message of the refusal.
	Result string
	// At is when the action was recorded, set by the log.
	At time.Time
}

// Validate puts e in its stored form: text cut to the column widths, as
// valid UTF-8 without control characters. EINVALID for an entry without
// an actor or an action.
func (e *AuditEntry) Validate() error {
	switch {
	case e.ActorID <= 0:
		return Errorf(EINVALID, "an audit entry needs its actor")
	case strings.TrimSpace(e.Action) == "":
		return Errorf(EINVALID, "an audit entry needs its action")
	}
	e.Action = auditText(e.Action, MaxAuditActionLength)
	e.Target = auditText(e.Target, MaxAuditTargetLength)
	e.Result = auditText(e.Result, MaxAuditResultLength)
	return nil
}

// auditText makes s one line of valid UTF-8 of at most n characters: a
// task id or an error message is untrusted text, and the log is read by
// people and tools that expect one entry per line.
func auditText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			return '\uFFFD'
		case r < ' ' || r == 0x7f:
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

// AuditFilter selects a page of the audit log, newest first.
type AuditFilter struct {
	// BeforeID is the keyset cursor: only entries with a smaller id (0:
	// start).
	BeforeID int64
	// Limit is the page size; the log returns at most Limit entries.
	Limit int
}

// AuditLog stores what admins did. Entries are only ever appended.
type AuditLog interface {
	// RecordAudit validates e (AuditEntry.Validate), appends it and sets
	// its ID and At. EINVALID.
	RecordAudit(ctx context.Context, e *AuditEntry) error
	// FindAuditEntries returns one page of entries, newest first, and
	// whether more follow. EINVALID for a negative limit.
	FindAuditEntries(ctx context.Context, f AuditFilter) (entries []*AuditEntry, hasMore bool, err error)
}
