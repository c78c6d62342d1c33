// Package storage keeps EduStream's data in MySQL/MariaDB (production) or
// SQLite (the embedded default), and remembers recent writers in Redis.
//
// One set of repository code runs on both engines over database/sql. The
// dialects differ only in DDL (one migration set per engine, embedded), the
// upsert and insert-ignore statements, and locking: on MySQL a write
// transaction locks the rows it depends on with SELECT … FOR UPDATE; on SQLite
// every transaction is BEGIN IMMEDIATE (the _txlock=immediate DSN parameter),
// which takes the database's single write lock up front, so the same SELECT
// without FOR UPDATE is already serialized.
//
// # Read routing
//
// A DB may have a read replica (OpenMySQL with a replica DSN, or
// OpenSQLiteWithReplica in tests and demos). The rule, which implements the
// one stated in the domain's consistency.go:
//
//   - writes, and every read inside a write transaction, go to the primary;
//   - reads that a write needs to return its result (the row read back after
//     an upsert, an enroll or an update) go to the primary;
//   - a read under a context for which edustream.ReadsPrimary is true goes to
//     the primary (the GraphQL layer sets it for mutations and for users with
//     a recent write mark, see WriteMarks);
//   - every other read goes to the replica when there is one.
//
// # Times
//
// Every time is stored in UTC at microsecond precision: the services truncate
// before writing, so the struct a Create returns equals what a later Find
// reads, on both engines. MySQL stores DATETIME(6); SQLite stores integer
// microseconds since the Unix epoch in columns declared DATETIME, which
// modernc.org/sqlite converts back into time.Time (see sqliteParams).
//
// # Round trips
//
// Every statement the package sends goes through one choke point, which calls
// the hook installed with SetQueryHook (see there for what counts).
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Engine names, as returned by DB.Engine.
const (
	EngineMySQL  = "mysql"
	EngineSQLite = "sqlite"
)

// DB is a connection pool to the primary database and, optionally, a read
// replica. It is safe for concurrent use.
type DB struct {
	primary *pool
	replica *pool // nil: reads go to the primary
	dialect *dialect
	hook    atomic.Pointer[func(query string)]
	// replicaDown is set while the replica cannot be reached: reads go to
	// the primary until a probe finds it back (see replicaFailed).
	replicaDown atomic.Bool
	closed      chan struct{} // closed by Close, to stop the probe
	closeOnce   sync.Once
}

func newDB(primary, replica *pool, d *dialect) *DB {
	return &DB{primary: primary, replica: replica, dialect: d, closed: make(chan struct{})}
}

// dialect holds the SQL that differs between the engines. Everything else is
// shared.
type dialect struct {
	name string
	// forUpdate is appended to a SELECT in a write transaction to lock the
	// rows it returns until the transaction ends. SQLite needs none: its
	// BEGIN IMMEDIATE already holds the only write lock there is.
	forUpdate string
	// upsertUser inserts (subject, email, name, role, created_at,
	// updated_at), or refreshes email, name and role of the existing row.
	// updated_at moves only when something changed, so a user who signs in
	// a thousand times with the same claims is not rewritten (nor
	// replicated) a thousand times.
	upsertUser string
	// enroll inserts the enrollment (user_id, created_at, course_id) unless
	// it exists. It ignores duplicates only: on MySQL the no-op ON DUPLICATE
	// KEY UPDATE is used rather than INSERT IGNORE, which would also swallow
	// foreign-key and data errors.
	enroll string
	// createMigrationsTable creates schema_migrations if it does not exist.
	createMigrationsTable string
}

// enrollSelect inserts the enrollment only while the course is visible, in
// the same statement, so a course hidden a moment earlier gets no new
// students.
const enrollSelect = `INSERT INTO enrollments (user_id, course_id, created_at)
SELECT ?, c.id, ? FROM courses c WHERE c.id = ? AND c.deleted_at IS NULL`

var mysqlDialect = &dialect{
	name:      EngineMySQL,
	forUpdate: " FOR UPDATE",
	// updated_at is assigned first: MySQL evaluates the assignments left to
	// right, and MariaDB's SIMULTANEOUS_ASSIGNMENT mode reads old values
	// everywhere, so in both the comparison sees the old row.
	upsertUser: `INSERT INTO users (subject, email, name, role, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE
  updated_at = IF(email = COALESCE(NULLIF(VALUES(email), ''), email) AND name = COALESCE(NULLIF(VALUES(name), ''), name) AND role = VALUES(role),
    updated_at, VALUES(updated_at)),
  email = COALESCE(NULLIF(VALUES(email), ''), email), name = COALESCE(NULLIF(VALUES(name), ''), name), role = VALUES(role)`,
	enroll: enrollSelect + `
ON DUPLICATE KEY UPDATE user_id = user_id`,
	createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
  version BIGINT NOT NULL PRIMARY KEY,
  applied_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
}

var sqliteDialect = &dialect{
	name:      EngineSQLite,
	forUpdate: "",
	upsertUser: `INSERT INTO users (subject, email, name, role, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (subject) DO UPDATE SET
  email = COALESCE(NULLIF(excluded.email, ''), users.email), name = COALESCE(NULLIF(excluded.name, ''), users.name),
  role = excluded.role, updated_at = excluded.updated_at
WHERE users.email IS NOT COALESCE(NULLIF(excluded.email, ''), users.email)
  OR users.name IS NOT COALESCE(NULLIF(excluded.name, ''), users.name) OR users.role IS NOT excluded.role`,
	// The WHERE of the SELECT is what lets SQLite's parser tell ON CONFLICT
	// from a join constraint; enrollSelect has one.
	enroll: enrollSelect + `
ON CONFLICT (user_id, course_id) DO NOTHING`,
	createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER NOT NULL PRIMARY KEY,
  applied_at DATETIME NOT NULL
)`,
}

// sqliteParams configure every SQLite connection (modernc.org/sqlite spells
// pragmas as _pragma=name(value)):
//   - _txlock=immediate: BEGIN takes the write lock at once, so two writers
//     queue on busy_timeout instead of one failing with SQLITE_BUSY when it
//     tries to upgrade a read lock;
//   - busy_timeout: how long a writer waits for the lock (then SQLITE_BUSY,
//     which is EUNAVAILABLE);
//   - foreign_keys: SQLite enforces them only when asked, per connection;
//   - journal_mode WAL: readers do not block the writer nor the other way;
//     synchronous stays at its default FULL, so a commit survives power loss;
//   - _time_integer_format/_inttotime: times are stored as integer
//     microseconds since the epoch and scanned back into time.Time. Parsing
//     text times cost more than the rest of a catalog read put together;
//     integers also sort and compare as times do.
//   - _timezone: scanned times are in UTC.
func sqliteParams(busyTimeout time.Duration) string {
	return "_txlock=immediate" +
		fmt.Sprintf("&_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()) +
		sqliteFixedParams
}

const sqliteFixedParams = "&_pragma=foreign_keys(1)" +
	"&_pragma=journal_mode(WAL)" +
	"&_time_integer_format=unix_micro" +
	"&_inttotime=1" +
	"&_timezone=UTC"

// OpenSQLite opens (creating if needed) the SQLite database at path, creating
// its parent directory too. Call Migrate before using it. Its pool is
// bounded like a server's (see WithPools): every connection holds the
// database's files open.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o, err := resolve(opts)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	primary, err := openSQLiteFile(ctx, path, sqliteParams(o.busyTimeout))
	if err != nil {
		return nil, err
	}
	return newDB(newPool(primary, "primary", o.primary), nil, sqliteDialect), nil
}

// OpenSQLiteWithReplica opens the SQLite database at primaryPath and uses the
// one at replicaPath as its read replica, opened query-only so no write can
// land there. SQLite has no replication: the replica is whatever file the
// caller put there, typically a stale copy. It exists so tests (here and in
// the graph and server packages) can prove which reads see the primary.
func OpenSQLiteWithReplica(ctx context.Context, primaryPath, replicaPath string, opts ...Option) (*DB, error) {
	o, err := resolve(opts)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	params := sqliteParams(o.busyTimeout)
	primary, err := openSQLiteFile(ctx, primaryPath, params)
	if err != nil {
		return nil, err
	}
	replica, err := openSQLiteFile(ctx, replicaPath, params+"&_pragma=query_only(1)")
	if err != nil {
		primary.Close()
		return nil, fmt.Errorf("sqlite replica: %w", err)
	}
	return newDB(newPool(primary, "primary", o.primary), newPool(replica, "replica", o.replica), sqliteDialect), nil
}

func openSQLiteFile(ctx context.Context, path, params string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		// The driver would read the rest as DSN parameters.
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", path+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Ping opens the file, so a bad path fails here rather than on the
	// first query.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// OpenMySQL connects to the MySQL or MariaDB primary at primaryDSN and, when
// replicaDSN is not empty, to a read replica. DSNs are in go-sql-driver/mysql
// form (user:pass@tcp(host:3306)/db); the options the code relies on are
// forced, whatever the DSN says. Both servers are pinged: an unreachable one
// is an error naming it, never a silent fallback to the primary. Both
// pools are bounded (see WithPools).
func OpenMySQL(ctx context.Context, primaryDSN, replicaDSN string, opts ...Option) (*DB, error) {
	o, err := resolve(opts)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	primary, err := openMySQLPool(ctx, "primary", primaryDSN, o.primary)
	if err != nil {
		return nil, err
	}
	var replica *pool
	if replicaDSN != "" {
		if replica, err = openMySQLPool(ctx, "replica", replicaDSN, o.replica); err != nil {
			primary.db.Close()
			return nil, err
		}
	}
	return newDB(primary, replica, mysqlDialect), nil
}

func openMySQLPool(ctx context.Context, role, dsn string, pc PoolConfig) (*pool, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The DSN may hold a password: do not repeat it.
		return nil, fmt.Errorf("mysql %s: invalid DSN", role)
	}
	cfg.ParseTime = true // DATETIME scans into time.Time
	cfg.Loc = time.UTC   // and is written and read as UTC
	// time_zone makes server-side time functions agree with the rows, for
	// anyone reading the database by hand.
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	// RowsAffected counts matched rows, as on SQLite, so "0 rows" means
	// "not found" on both engines even when an update changes nothing.
	cfg.ClientFoundRows = true
	// One round trip per statement instead of prepare/execute/close. Safe
	// because the connection charset is forced to utf8mb4 below.
	cfg.InterpolateParams = true
	collation := cfg.Collation
	if !strings.HasPrefix(collation, "utf8mb4_") {
		collation = "utf8mb4_unicode_ci"
	}
	if err := cfg.Apply(mysql.Charset("utf8mb4", collation)); err != nil {
		return nil, fmt.Errorf("mysql %s: %w", role, err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second // so a dead host fails start-up promptly
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql %s: %w", role, err)
	}
	db := sql.OpenDB(connector)
	p := newPool(db, role, pc)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s unreachable: %w", role, err)
	}
	return p, nil
}

// Engine returns "mysql" or "sqlite".
func (db *DB) Engine() string { return db.dialect.name }

// Ping checks that the primary and the replica, if any, answer. The error
// names the one that does not.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.PingPrimary(ctx); err != nil {
		return err
	}
	return db.PingReplica(ctx)
}

// PingPrimary checks that the primary answers.
func (db *DB) PingPrimary(ctx context.Context) error {
	if err := db.primary.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s primary unreachable: %w", db.dialect.name, err)
	}
	return nil
}

// PingReplica checks that the replica answers (nil without one).
func (db *DB) PingReplica(ctx context.Context) error {
	if db.replica == nil {
		return nil
	}
	if err := db.replica.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s replica unreachable: %w", db.dialect.name, err)
	}
	return nil
}

// Close closes the primary and replica pools.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closed) })
	err := db.primary.db.Close()
	if db.replica != nil {
		err = errors.Join(err, db.replica.db.Close())
	}
	return err
}

// SetQueryHook installs hook (nil: none), called with the SQL text before
// every round trip the repositories and Migrate make: each Exec, Query and
// QueryRow, on the primary, the replica or inside a transaction, and
// "BEGIN", "COMMIT" and "ROLLBACK" for each transaction. Connection set-up
// and Ping are not counted. Tests use it to prove that a GraphQL operation
// makes a fixed number of round trips. The hook runs on the caller's
// goroutine and must be safe for concurrent use.
func (db *DB) SetQueryHook(hook func(query string)) {
	if hook == nil {
		db.hook.Store(nil)
		return
	}
	db.hook.Store(&hook)
}

func (db *DB) trace(query string) {
	if h := db.hook.Load(); h != nil {
		(*h)(query)
	}
}
