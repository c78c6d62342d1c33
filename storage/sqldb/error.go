package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/edustream/edustream"
	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dbError is the one place where driver errors become domain errors. op and
// entity describe what failed ("find", "course"); id names the row (0:
// none). No rows becomes ENOTFOUND "course 42 not found", a duplicate key
// ECONFLICT; a domain *Error passes through unchanged, except EUNAVAILABLE
// (see temporary), which gets the context for the logs too; anything else
// stays internal, wrapped with the context ("find course 42: …") for the
// logs.
func dbError(err error, op, entity string, id int64) error {
	var domainErr *edustream.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &domainErr) && domainErr.Code != edustream.EUNAVAILABLE:
		return err
	case errors.Is(err, sql.ErrNoRows):
		return notFound(entity, id)
	case isDuplicate(err):
		if id == 0 {
			return edustream.Errorf(edustream.ECONFLICT, "%s already exists", entity)
		}
		return edustream.Errorf(edustream.ECONFLICT, "%s %d already exists", entity, id)
	case id == 0:
		return fmt.Errorf("%s %s: %w", op, entity, err)
	}
	return fmt.Errorf("%s %s %d: %w", op, entity, id, err)
}

func notFound(entity string, id int64) error {
	return edustream.Errorf(edustream.ENOTFOUND, "%s %d not found", entity, id)
}

// isDuplicate reports whether err is a unique or primary key violation on
// either engine.
func isDuplicate(err error) bool {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number == 1062 // ER_DUP_ENTRY
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// unavailableError is a temporary failure of the database: to callers an
// *edustream.Error with code EUNAVAILABLE (errors.As finds it), to the logs
// the driver's error, which it wraps too.
type unavailableError struct {
	cause error
}

func (e *unavailableError) Error() string { return "database unavailable: " + e.cause.Error() }

func (e *unavailableError) Unwrap() []error {
	return []error{
		edustream.Errorf(edustream.EUNAVAILABLE, "the database is unavailable for now; retry shortly"),
		e.cause,
	}
}

// temporary returns err as EUNAVAILABLE when a client retrying later may
// well succeed (see isTemporary), else unchanged.
func temporary(err error) error {
	var u *unavailableError
	if err == nil || errors.As(err, &u) || !isTemporary(err) {
		return err
	}
	return &unavailableError{cause: err}
}

// MySQL and MariaDB error numbers worth a retry.
var temporaryMySQLErrors = map[uint16]bool{
	1040: true, // ER_CON_COUNT_ERROR: too many connections (max_connections)
	1203: true, // ER_TOO_MANY_USER_CONNECTIONS (max_user_connections)
	1226: true, // ER_USER_LIMIT_REACHED: a user's resource limit, e.g. MAX_USER_CONNECTIONS
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK: the transaction was rolled back, run it again
	1053: true, // ER_SERVER_SHUTDOWN
	1317: true, // ER_QUERY_INTERRUPTED: by a shutdown or an administrator's KILL QUERY
	1927: true, // ER_CONNECTION_KILLED (MariaDB)
	2006: true, // CR_SERVER_GONE_ERROR
	2013: true, // CR_SERVER_LOST
	4031: true, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8: the server closed an idle session)
}

// isTemporary reports whether err is a failure of the database, not of the
// request: it cannot be reached or refuses connections, it is shutting down
// or dropped the connection, a lock wait ran out (MySQL's
// innodb_lock_wait_timeout, SQLite's busy_timeout), or no connection of
// the pool came free in time. A cancelled or expired context is the
// caller's, not the database's, and stays as it is.
func isTemporary(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, errPoolTimeout) || isConnectionFailure(err) {
		return true
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return temporaryMySQLErrors[myErr.Number]
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		// The primary code is the low byte of the extended one
		// (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE, …).
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// isConnectionFailure reports whether err says the server is out of reach
// or will not take this client now: what makes reads leave a replica.
func isConnectionFailure(err error) bool {
	var opErr *net.OpError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn),
		errors.As(err, &opErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case 1040, 1203, 1226, 1053, 1927, 2006, 2013, 4031:
			return true
		}
	}
	return false
}
