package sqldb

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/edustream/edustream"
	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dbError is the one place where driver errors become domain errors. op and
// entity describe what failed ("find", "course"); id names the row (0:
// none). No rows becomes ENOTFOUND "course 42 not found", a duplicate key
// ECONFLICT; a domain *Error passes through unchanged; anything else stays
// internal, wrapped with the context ("find course 42: …") for the logs.
func dbError(err error, op, entity string, id int64) error {
	var domainErr *edustream.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &domainErr):
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
