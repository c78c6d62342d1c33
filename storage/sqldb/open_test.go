package sqldb

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/edustream/edustream/internal/testenv"
)

func TestOpenMySQLBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dead := fmt.Sprintf("edustream:secret@tcp(%s)/edustream?timeout=1s", testenv.ClosedAddr(t))

	tests := []struct {
		name    string
		primary string
		want    string
	}{
		{name: "primary unreachable", primary: dead, want: "mysql primary unreachable"},
		{name: "primary DSN invalid", primary: "edustream:secret@nonsense", want: "mysql primary: invalid DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := OpenMySQL(ctx, tt.primary, "")
			if err == nil {
				db.Close()
				t.Fatal("OpenMySQL succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}

	t.Run("replica unreachable", func(t *testing.T) {
		primary := testenv.MySQLDSN(t)
		for name, replica := range map[string]string{
			"closed port": dead,
			"invalid DSN": "edustream:secret@nonsense",
		} {
			t.Run(name, func(t *testing.T) {
				db, err := OpenMySQL(ctx, primary, replica)
				if err == nil {
					db.Close()
					t.Fatal("OpenMySQL succeeded with a dead replica")
				}
				if !strings.Contains(err.Error(), "mysql replica") {
					t.Errorf("error %q does not name the replica", err)
				}
			})
		}
	})

	t.Run("replica reachable", func(t *testing.T) {
		dsn := testenv.MySQLDSN(t)
		db, err := OpenMySQL(ctx, dsn, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if db.replica == nil || db.Engine() != EngineMySQL {
			t.Errorf("replica %v, engine %q", db.replica, db.Engine())
		}
	})

	t.Run("forced options", func(t *testing.T) {
		dsn := testenv.MySQLDSN(t)
		// A plain DSN that asks for the opposite of what the code needs.
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ParseTime, cfg.Loc, cfg.InterpolateParams, cfg.ClientFoundRows = false, time.Local, false, false
		cfg.Collation = "latin1_swedish_ci"
		cfg.Params = map[string]string{"time_zone": "'+05:00'"}
		db, err := OpenMySQL(ctx, cfg.FormatDSN(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		f := fixtureOn(db)
		u := f.User(t, "emoji 😀", "STUDENT")
		if u.Subject != "emoji 😀" || u.CreatedAt.Location() != time.UTC {
			t.Errorf("user = %+v", u)
		}
		var tz string
		if err := db.writer().queryRow(ctx, "SELECT @@session.time_zone").Scan(&tz); err != nil || tz != "+00:00" {
			t.Errorf("session time_zone = %q, %v", tz, err)
		}
	})
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	t.Run("creates the directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "edustream.db")
		db, err := OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if db.Engine() != EngineSQLite {
			t.Errorf("Engine() = %q", db.Engine())
		}
	})
	t.Run("pragmas", func(t *testing.T) {
		db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "edustream.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"foreign_keys": "1",
			"busy_timeout": "10000",
		} {
			var got string
			if err := db.writer().queryRow(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
			}
		}
	})
	t.Run("bad paths", func(t *testing.T) {
		for name, path := range map[string]string{
			"empty":         "",
			"query":         filepath.Join(t.TempDir(), "x.db?mode=memory"),
			"dir is a file": filepath.Join(fileIn(t), "x.db"),
			"path is a dir": t.TempDir(),
		} {
			t.Run(name, func(t *testing.T) {
				db, err := OpenSQLite(ctx, path)
				if err == nil {
					db.Close()
					t.Fatalf("OpenSQLite(%q) succeeded", path)
				}
			})
		}
	})
}

// fileIn returns the path of a regular file.
func fileIn(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file")
	db, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return path
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty", "", nil},
		{"comments only", "-- a;\n  -- b;\n\n", nil},
		{"one", "CREATE TABLE a (x INT);\n", []string{"CREATE TABLE a (x INT)"}},
		{"multi-line with comments", "-- head;\nCREATE TABLE a (\n  -- the x; column\n  x INT\n);\n\nCREATE INDEX i ON a (x);", []string{"CREATE TABLE a (\n  x INT\n)", "CREATE INDEX i ON a (x)"}},
		{"no final semicolon", "SELECT 1;\nSELECT 2\n", []string{"SELECT 1", "SELECT 2"}},
		{"semicolon inside a line", "INSERT INTO a VALUES (';');\n", []string{"INSERT INTO a VALUES (';')"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitStatements(tt.src)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("splitStatements = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	for _, engine := range []string{EngineMySQL, EngineSQLite} {
		t.Run(engine, func(t *testing.T) {
			migs, err := loadMigrations(engine)
			if err != nil {
				t.Fatal(err)
			}
			if len(migs) == 0 || migs[0].version != 1 || len(migs[0].statements) < 4 {
				t.Errorf("migrations = %+v", migs)
			}
		})
	}
}
