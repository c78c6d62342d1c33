package sqldb

import "database/sql"

// Pools returns the connection pools of db, for what reports their
// statistics (sql.DB.Stats): the primary's, and the replica's or nil.
// Queries go through db's services, never through these.
func (db *DB) Pools() (primary, replica *sql.DB) { return db.primary, db.replica }
