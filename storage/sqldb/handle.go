package sqldb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/edustream/edustream"
)

// querier is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// handle is the one choke point every statement goes through: a primary or
// replica pool, a transaction or a dedicated connection, plus the hook, the
// span, the pool's slot and the mapping of temporary failures to
// EUNAVAILABLE.
type handle struct {
	db *DB
	q  querier
	// pool is where each statement takes a slot; nil inside a transaction
	// or on a dedicated connection, which hold one for their whole life.
	pool *pool
	// role names where statements go, in spans: "primary", "replica" or
	// "tx" (the primary, inside a transaction).
	role string
}

// on returns the handle of a pool.
func (db *DB) on(p *pool) handle { return handle{db: db, q: p.db, pool: p, role: p.role} }

// reader returns where a plain read under ctx goes: see the package doc.
// While the replica is down (see replicaFailed), reads go to the primary.
func (db *DB) reader(ctx context.Context) handle {
	if db.replica != nil && !edustream.ReadsPrimary(ctx) && !db.replicaDown.Load() {
		return db.on(db.replica)
	}
	return db.on(db.primary)
}

// writer returns the primary, for writes and for reads that must see them.
func (db *DB) writer() handle { return db.on(db.primary) }

// acquire takes a slot of h's pool, if it has one, and returns its release.
func (h handle) acquire(ctx context.Context) (func(), error) {
	if h.pool == nil {
		return func() {}, nil
	}
	return h.pool.acquire(ctx)
}

// onReplica reports whether h's statements go to the replica, which a
// read may leave for the primary when it fails.
func (h handle) onReplica() bool { return h.pool != nil && h.pool == h.db.replica }

func (h handle) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	h.db.trace(query)
	sctx, span := h.startSpan(ctx, query)
	release, err := h.acquire(sctx)
	var res sql.Result
	if err == nil {
		res, err = h.q.ExecContext(sctx, query, args...)
		release()
	}
	endSpan(span, err)
	return res, temporary(err)
}

// query runs a query. Its slot and its span last until the rows are
// closed (or read to the end), so the span covers reading them.
func (h handle) query(ctx context.Context, query string, args ...any) (*sqlRows, error) {
	h.db.trace(query)
	sctx, span := h.startSpan(ctx, query)
	release, err := h.acquire(sctx)
	if err != nil {
		endSpan(span, err)
		return nil, temporary(err)
	}
	rows, err := h.q.QueryContext(sctx, query, args...)
	if err != nil {
		release()
		endSpan(span, err)
		if h.onReplica() && h.db.replicaFailed(ctx, err) {
			return h.db.writer().query(ctx, query, args...)
		}
		return nil, temporary(err)
	}
	return &sqlRows{Rows: rows, finish: func(err error) {
		release()
		endSpan(span, err)
	}}, nil
}

// queryRow runs a query of one row. Its slot and span last until Scan.
func (h handle) queryRow(ctx context.Context, query string, args ...any) *sqlRow {
	h.db.trace(query)
	sctx, span := h.startSpan(ctx, query)
	release, err := h.acquire(sctx)
	if err != nil {
		endSpan(span, err)
		return &sqlRow{err: temporary(err)}
	}
	row := h.q.QueryRowContext(sctx, query, args...)
	if err := row.Err(); err != nil && h.onReplica() && h.db.replicaFailed(ctx, err) {
		release() // a failed query holds no connection
		endSpan(span, err)
		return h.db.writer().queryRow(ctx, query, args...)
	}
	return &sqlRow{row: row, finish: func(err error) {
		release()
		endSpan(span, err)
	}}
}

// sqlRows is *sql.Rows that gives its slot back and ends its span when it
// is closed or read to the end, and reports temporary failures as
// EUNAVAILABLE.
type sqlRows struct {
	*sql.Rows
	finish func(err error) // nil once called
}

// Next is sql.Rows.Next; after the last row the rows are closed.
func (r *sqlRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.end()
	return false
}

// Close is sql.Rows.Close.
func (r *sqlRows) Close() error {
	err := r.Rows.Close()
	r.end()
	return err
}

// Err is sql.Rows.Err.
func (r *sqlRows) Err() error { return temporary(r.Rows.Err()) }

func (r *sqlRows) end() {
	if r.finish != nil {
		finish := r.finish
		r.finish = nil
		finish(r.Rows.Err())
	}
}

// sqlRow is *sql.Row that gives its slot back and ends its span at Scan.
// Like *sql.Row, it holds its connection until Scan is called.
type sqlRow struct {
	row    *sql.Row
	err    error // no slot: the row is this error
	finish func(err error)
}

// Scan is sql.Row.Scan.
func (r *sqlRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.row.Scan(dest...)
	if r.finish != nil {
		r.finish(err)
		r.finish = nil
	}
	return temporary(err)
}

// inTx runs fn in a transaction on the primary and commits it if fn returns
// nil. On SQLite BEGIN takes the write lock (see sqliteParams); on MySQL fn
// locks what it depends on with dialect.forUpdate. The transaction holds
// one slot of the primary's pool from BEGIN to its end.
func (db *DB) inTx(ctx context.Context, fn func(tx handle) error) error {
	db.trace("BEGIN")
	_, span := db.startTxSpan(ctx, "BEGIN")
	release, err := db.primary.acquire(ctx)
	var tx *sql.Tx
	if err == nil {
		if tx, err = db.primary.db.BeginTx(ctx, nil); err != nil {
			release()
		}
	}
	endSpan(span, err)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", temporary(err))
	}
	defer release()
	if err := fn(handle{db: db, q: tx, role: "tx"}); err != nil {
		db.trace("ROLLBACK")
		_, span := db.startTxSpan(ctx, "ROLLBACK")
		// The transaction is void anyway; fn's error says why.
		endSpan(span, tx.Rollback())
		return err
	}
	db.trace("COMMIT")
	_, span = db.startTxSpan(ctx, "COMMIT")
	err = tx.Commit()
	endSpan(span, err)
	if err != nil {
		return fmt.Errorf("commit transaction: %w", temporary(err))
	}
	return nil
}
