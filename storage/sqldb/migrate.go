package sqldb

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds one directory of migrations per engine. A file is
// named NNNN_what.sql; NNNN is its version, applied in ascending order.
//
//go:embed migrations/mysql/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

type migration struct {
	version    int64
	name       string
	statements []string
}

// loadMigrations returns the engine's migrations in version order.
func loadMigrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", engine, err)
	}
	var migs []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.ParseInt(prefix, 10, 64)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive version and '_'", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		migs = append(migs, migration{version: version, name: e.Name(), statements: splitStatements(string(b))})
	}
	// ReadDir sorts by name; the version decides.
	slices.SortFunc(migs, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s in %s: version %d used twice", migs[i-1].name, migs[i].name, dir, migs[i].version)
		}
	}
	return migs, nil
}

// splitStatements splits a migration file into statements. A statement ends
// with a line whose last character (ignoring spaces) is ';'; lines that hold
// only a "--" comment are dropped, so a comment may contain ';'. That is
// enough for DDL; a migration must not define triggers or procedures, whose
// bodies contain such lines.
func splitStatements(src string) []string {
	var stmts []string
	var cur strings.Builder
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		stmts = append(stmts, rest)
	}
	return stmts
}

// Migrate applies the embedded migrations that the database has not seen,
// recording each in schema_migrations (version, applied_at). Applying them
// twice is a no-op, and several processes may call it at once: on MySQL they
// queue on a named lock (GET_LOCK, per database); on SQLite the whole run is
// one BEGIN IMMEDIATE transaction.
//
// MySQL commits every DDL statement on its own, so there each version is
// recorded right after its statements ran; a run that fails halfway leaves
// that version unrecorded, and MySQL migrations are written to be re-run.
func (db *DB) Migrate(ctx context.Context) error {
	migs, err := loadMigrations(db.dialect.name)
	if err != nil {
		return err
	}
	if db.dialect.name == EngineSQLite {
		return db.inTx(ctx, func(tx handle) error {
			return db.applyMigrations(ctx, tx, migs)
		})
	}
	// GET_LOCK belongs to a session, so lock, migrate and unlock on one
	// connection.
	release, err := db.primary.acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", temporary(err))
	}
	defer release()
	conn, err := db.primary.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", temporary(err))
	}
	defer conn.Close()
	h := handle{db: db, q: conn, role: "primary"}
	const lockName = "CONCAT('edustream.migrate.', DATABASE())"
	var got *int64
	if err := h.queryRow(ctx, "SELECT GET_LOCK("+lockName+", 300)").Scan(&got); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	if got == nil || *got != 1 {
		return fmt.Errorf("migrate: another process held the migration lock for 300s")
	}
	defer func() {
		// Released even if ctx is done; closing the connection would release
		// it too, but the pool keeps connections open.
		_, _ = h.exec(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK("+lockName+")")
	}()
	return db.applyMigrations(ctx, h, migs)
}

// afterMigration holds what a migration needs done in Go once its
// statements ran, before its version is recorded: filling what SQL cannot
// compute. On MySQL a failure leaves the version unrecorded, and the next
// run repeats the step, so each is written to be repeated.
var afterMigration = map[int64]func(context.Context, handle) error{
	// 0007 creates the search index; the rows already there are indexed.
	7: reindexSearch,
}

func (db *DB) applyMigrations(ctx context.Context, h handle, migs []migration) error {
	if _, err := h.exec(ctx, db.dialect.createMigrationsTable); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied := map[int64]bool{}
	rows, err := h.query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	rows.Close()
	for _, m := range migs {
		if applied[m.version] {
			continue
		}
		for i, stmt := range m.statements {
			if _, err := h.exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %s/%s statement %d: %w", db.dialect.name, m.name, i+1, err)
			}
		}
		if after := afterMigration[m.version]; after != nil {
			if err := after(ctx, h); err != nil {
				return fmt.Errorf("migrate %s/%s: %w", db.dialect.name, m.name, err)
			}
		}
		if _, err := h.exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			m.version, utcMicro(time.Now())); err != nil {
			return fmt.Errorf("migrate %s/%s: record version: %w", db.dialect.name, m.name, err)
		}
	}
	return nil
}
