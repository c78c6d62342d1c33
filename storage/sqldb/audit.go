package sqldb

import (
	"context"
	"strings"

	"github.com/edustream/edustream"
)

// AuditLog implements edustream.AuditLog on the audit_log table. Entries
// are only inserted; nothing here updates or deletes one.
type AuditLog struct {
	db  *DB
	now edustream.Clock
}

var _ edustream.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns an AuditLog on db that stamps entries with now (nil:
// time.Now).
func NewAuditLog(db *DB, now edustream.Clock) *AuditLog {
	return &AuditLog{db: db, now: clockOrNow(now)}
}

const auditColumns = "a.id, a.actor_id, a.action, a.target, a.result, a.created_at"

func scanAuditEntry(s scanner) (*edustream.AuditEntry, error) {
	var e edustream.AuditEntry
	if err := s.Scan(&e.ID, &e.ActorID, &e.Action, &e.Target, &e.Result, &e.At); err != nil {
		return nil, err
	}
	e.At = e.At.UTC()
	return &e, nil
}

// RecordAudit validates e, inserts it and sets its ID and At. EINVALID.
func (a *AuditLog) RecordAudit(ctx context.Context, e *edustream.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	now := utcMicro(a.now())
	res, err := a.db.writer().exec(ctx, "INSERT INTO audit_log (actor_id, action, target, result, created_at) VALUES (?, ?, ?, ?, ?)",
		e.ActorID, e.Action, e.Target, e.Result, now)
	if err != nil {
		return dbError(err, "record", "audit entry", 0)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbError(err, "record", "audit entry", 0)
	}
	e.ID, e.At = id, now
	return nil
}

// FindAuditEntries returns one page of entries, newest first, with one
// query: it fetches Limit+1 rows, and the extra row only says that more
// follow. EINVALID for a negative limit.
func (a *AuditLog) FindAuditEntries(ctx context.Context, f edustream.AuditFilter) ([]*edustream.AuditEntry, bool, error) {
	if f.Limit < 0 {
		return nil, false, edustream.Errorf(edustream.EINVALID, "page size must not be negative")
	}
	var where []string
	var args []any
	if f.BeforeID != 0 {
		where = append(where, "a.id < ?")
		args = append(args, f.BeforeID)
	}
	query := "SELECT " + auditColumns + " FROM audit_log a"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	entries, err := queryAll(ctx, a.db.reader(ctx), scanAuditEntry, query+" ORDER BY a.id DESC LIMIT ?", args...)
	if err != nil {
		return nil, false, dbError(err, "find", "audit entries", 0)
	}
	if len(entries) > f.Limit {
		return entries[:f.Limit], true, nil
	}
	return entries, false, nil
}
