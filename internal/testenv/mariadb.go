package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The MariaDB servers this file starts are private to one test: a data
// directory in t.TempDir(), loopback only, free ports, stopped at cleanup.
// Unlike MySQLDSN's shared server, the test is root on them, so it can stop,
// kill and restart them, create users with limits, and pause replication.

// Accounts on the servers StartMariaDB and StartMariaDBReplication start.
const (
	// MariaDBUser may do anything on the databases named edustream and
	// edustream_*, nothing else: on a read-only replica it cannot write.
	MariaDBUser     = "edustream"
	MariaDBPassword = "edustream"
	// MariaDBDatabase is the database the DSNs name, created empty.
	MariaDBDatabase = "edustream"

	replUser     = "repl"
	replPassword = "repl"
)

// MariaDB is one mariadbd process started by a test.
type MariaDB struct {
	name    string // "primary", "replica" or "mariadb", for messages
	dir     string // data directory
	socket  string // unix socket, where root logs in
	port    int
	args    []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// MariaDBPair is a MariaDB primary and a replica that follows it through
// GTID replication (MASTER_USE_GTID=slave_pos), as in production on RDS.
type MariaDBPair struct {
	Primary *MariaDB
	Replica *MariaDB
	// PrimaryDSN and ReplicaDSN are go-sql-driver/mysql DSNs of
	// MariaDBDatabase as MariaDBUser over TCP on 127.0.0.1, what
	// EDUSTREAM_MYSQL_DSN and EDUSTREAM_MYSQL_REPLICA_DSN take.
	PrimaryDSN string
	ReplicaDSN string
}

// mariadbd returns the path of mariadbd and mariadb-install-db, or skips
// (fails when EDUSTREAM_TEST_REQUIRE names mysql) without them.
func mariadbBinaries(t testing.TB) (server, install string) {
	t.Helper()
	var err error
	if server, err = exec.LookPath("mariadbd"); err != nil {
		// Debian installs it in sbin, which is not always on PATH.
		if _, statErr := os.Stat("/usr/sbin/mariadbd"); statErr == nil {
			server, err = "/usr/sbin/mariadbd", nil
		}
	}
	if err == nil {
		install, err = exec.LookPath("mariadb-install-db")
	}
	if err != nil {
		if Required("mysql") {
			t.Fatalf("mysql is required (%s=%q) but mariadbd or mariadb-install-db is not installed: %v", EnvRequire, os.Getenv(EnvRequire), err)
		}
		t.Skipf("mariadbd not installed: skipping (%v)", err)
	}
	return server, install
}

// StartMariaDB starts one MariaDB server of the test's own, with
// MariaDBDatabase created and MariaDBUser allowed on it. It skips without
// mariadbd unless EDUSTREAM_TEST_REQUIRE names mysql.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	server, install := mariadbBinaries(t)
	template := installMariaDB(t, install)
	m := newMariaDB(t, server, template, "mariadb", 1)
	m.Start(t)
	m.Exec(t, setupAccounts...)
	return m
}

// StartMariaDBReplication starts a primary and a replica (read_only) that
// replicates everything from the primary with GTIDs, and waits until the
// replica has caught up with the accounts and MariaDBDatabase made on the
// primary. Both stop when the test ends. It skips without mariadbd unless
// EDUSTREAM_TEST_REQUIRE names mysql.
func StartMariaDBReplication(t testing.TB) *MariaDBPair {
	t.Helper()
	server, install := mariadbBinaries(t)
	template := installMariaDB(t, install)
	p := &MariaDBPair{
		Primary: newMariaDB(t, server, template, "primary", 1),
		Replica: newMariaDB(t, server, template, "replica", 2, "--read-only=1"),
	}
	p.Primary.Start(t)
	p.Replica.Start(t)
	// Everything from here on is in the primary's binary log, so the
	// replica gets the accounts and the database by replication.
	p.Primary.Exec(t, setupAccounts...)
	p.Primary.Exec(t,
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", replUser, replPassword),
		fmt.Sprintf("GRANT REPLICATION SLAVE ON *.* TO '%s'@'127.0.0.1'", replUser),
	)
	p.Replica.Exec(t,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			p.Primary.port, replUser, replPassword),
		"START SLAVE",
	)
	p.PrimaryDSN = p.Primary.DSN()
	p.ReplicaDSN = p.Replica.DSN()
	p.WaitReplicaCaughtUp(t)
	return p
}

// setupAccounts makes MariaDBUser and MariaDBDatabase. The user gets no
// global privilege, so read_only holds for it on the replica.
var setupAccounts = []string{
	fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", MariaDBUser, MariaDBPassword),
	fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s%%`.* TO '%s'@'127.0.0.1'", MariaDBDatabase, MariaDBUser),
	"CREATE DATABASE `" + MariaDBDatabase + "`",
}

// installMariaDB makes a fresh data directory once per call; each server
// gets a copy of it, which is quicker than a second install.
func installMariaDB(t testing.TB, install string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "template")
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, install, "--no-defaults", "--datadir="+dir, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db",
		"--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	return dir
}

func newMariaDB(t testing.TB, server, template, name string, serverID int, extra ...string) *MariaDB {
	t.Helper()
	base := t.TempDir()
	// A unix socket path must fit in 108 bytes, which t.TempDir() may not.
	sockDir, err := os.MkdirTemp("", "mdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	m := &MariaDB{
		name:    name,
		dir:     filepath.Join(base, "data"),
		socket:  filepath.Join(sockDir, "s"),
		port:    freePort(t),
		logPath: filepath.Join(base, "error.log"),
	}
	if out, err := exec.Command("cp", "-a", template, m.dir).CombinedOutput(); err != nil {
		t.Fatalf("copy the MariaDB template: %v\n%s", err, out)
	}
	m.args = append([]string{
		"--no-defaults",
		"--datadir=" + m.dir,
		"--user=root",
		"--bind-address=127.0.0.1",
		"--port=" + strconv.Itoa(m.port),
		"--socket=" + m.socket,
		"--pid-file=" + filepath.Join(base, "mariadbd.pid"),
		"--log-error=" + m.logPath,
		"--server-id=" + strconv.Itoa(serverID),
		"--log-bin=" + filepath.Join(m.dir, "binlog"),
		"--relay-log=" + filepath.Join(m.dir, "relay"),
		"--binlog-format=ROW",
		"--skip-name-resolve",
		// Small and quick: this is a test server, one of several on a
		// shared machine, and durability across power loss is not tested.
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=8M",
		"--innodb-flush-log-at-trx-commit=2",
		"--sync-binlog=0",
		"--performance-schema=OFF",
		// A replica notices a dead primary within seconds.
		"--slave-net-timeout=5",
	}, extra...)
	m.args = append([]string{server}, m.args...)
	t.Cleanup(func() { m.stop(syscall.SIGTERM) })
	return m
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(ClosedAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// Port is the TCP port the server listens on, on 127.0.0.1; it stays the
// same across Stop and Start.
func (m *MariaDB) Port() int { return m.port }

// Addr is "127.0.0.1:port".
func (m *MariaDB) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// DSN returns a go-sql-driver/mysql DSN of MariaDBDatabase as MariaDBUser.
func (m *MariaDB) DSN() string { return m.DSNFor(MariaDBUser, MariaDBPassword, MariaDBDatabase) }

// DSNFor returns a TCP DSN of database db as user (with password).
func (m *MariaDB) DSNFor(user, password, db string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", m.Addr(), db
	return cfg.FormatDSN()
}

// RootDSN returns a DSN of the server as root, over its unix socket: for
// what the test does as administrator (users, replication, status).
func (m *MariaDB) RootDSN() string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", m.socket
	return cfg.FormatDSN()
}

// Start starts the server (again, after Stop or Kill, on the same port and
// data) and waits until it answers. A replica resumes replicating.
func (m *MariaDB) Start(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	if m.cmd != nil {
		m.mu.Unlock()
		t.Fatalf("MariaDB %s is already running", m.name)
	}
	cmd := exec.Command(m.args[0], m.args[1:]...)
	if err := startServer(cmd); err != nil {
		m.mu.Unlock()
		t.Fatalf("start MariaDB %s: %v", m.name, err)
	}
	done := make(chan struct{})
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	go func() {
		cmd.Wait()
		close(done)
	}()

	deadline := time.Now().Add(WaitLimit)
	for {
		err := m.ping()
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("MariaDB %s exited during start-up: %v\n%s", m.name, cmd.ProcessState, m.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("MariaDB %s did not answer within %v: %v\n%s", m.name, WaitLimit, err, m.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *MariaDB) ping() error {
	db, err := sql.Open("mysql", m.RootDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Stop shuts the server down cleanly (SIGTERM) and waits until it has
// exited. Clients then get "connection refused".
func (m *MariaDB) Stop(t testing.TB) {
	t.Helper()
	if err := m.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop MariaDB %s: %v", m.name, err)
	}
}

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// has exited. Start brings it back through InnoDB's crash recovery.
func (m *MariaDB) Kill(t testing.TB) {
	t.Helper()
	if err := m.stop(syscall.SIGKILL); err != nil {
		t.Fatalf("kill MariaDB %s: %v", m.name, err)
	}
}

func (m *MariaDB) stop(sig syscall.Signal) error {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(WaitLimit):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("it did not exit within %v of %v", WaitLimit, sig)
	}
}

// Log returns the server's error log, for failure messages.
func (m *MariaDB) Log() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(no error log: %v)", err)
	}
	return string(b)
}

// Exec runs statements as root, failing the test on the first error.
func (m *MariaDB) Exec(t testing.TB, statements ...string) {
	t.Helper()
	if err := m.exec(statements...); err != nil {
		t.Fatal(err)
	}
}

func (m *MariaDB) exec(statements ...string) error {
	db, err := sql.Open("mysql", m.RootDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	for _, s := range statements {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("MariaDB %s: %s: %w", m.name, s, err)
		}
	}
	return nil
}

// QueryString runs a query as root and returns the first column of its
// only row, e.g. "SELECT @@gtid_binlog_pos" or a SHOW GLOBAL STATUS value
// (the second column: see StatusVar).
func (m *MariaDB) QueryString(t testing.TB, query string, args ...any) string {
	t.Helper()
	v, err := m.Query(query, args...)
	if err != nil {
		t.Fatalf("MariaDB %s: %s: %v", m.name, query, err)
	}
	return v
}

// Query is QueryString for a goroutine of its own or a poll: it returns
// the error (sql.ErrNoRows for no row) instead of failing the test.
func (m *MariaDB) Query(query string, args ...any) (string, error) {
	db, err := sql.Open("mysql", m.RootDSN())
	if err != nil {
		return "", err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	var v sql.NullString
	err = db.QueryRowContext(ctx, query, args...).Scan(&v)
	return v.String, err
}

// StatusVar returns a global status variable, e.g. "Threads_connected".
func (m *MariaDB) StatusVar(t testing.TB, name string) string {
	t.Helper()
	return m.QueryString(t, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", name)
}

// StopReplica shuts the replica server down (see MariaDB.Stop).
func (p *MariaDBPair) StopReplica(t testing.TB) { t.Helper(); p.Replica.Stop(t) }

// StartReplica starts the replica again; it resumes replicating from where
// it stopped.
func (p *MariaDBPair) StartReplica(t testing.TB) { t.Helper(); p.Replica.Start(t) }

// StopPrimary shuts the primary down; the replica keeps serving what it has
// and reconnects when the primary is back.
func (p *MariaDBPair) StopPrimary(t testing.TB) { t.Helper(); p.Primary.Stop(t) }

// KillPrimary kills the primary with SIGKILL.
func (p *MariaDBPair) KillPrimary(t testing.TB) { t.Helper(); p.Primary.Kill(t) }

// StartPrimary starts the primary again, on the same port and data.
func (p *MariaDBPair) StartPrimary(t testing.TB) { t.Helper(); p.Primary.Start(t) }

// PauseReplication stops the replica's SQL thread: the replica keeps
// receiving the primary's changes but applies none, so it lags behind by
// everything written until ResumeReplication.
func (p *MariaDBPair) PauseReplication(t testing.TB) {
	t.Helper()
	p.Replica.Exec(t, "STOP SLAVE SQL_THREAD")
}

// ResumeReplication starts the SQL thread again; the replica catches up.
func (p *MariaDBPair) ResumeReplication(t testing.TB) {
	t.Helper()
	p.Replica.Exec(t, "START SLAVE SQL_THREAD")
}

// WaitReplicaCaughtUp waits until the replica has applied everything the
// primary had committed when it was called.
func (p *MariaDBPair) WaitReplicaCaughtUp(t testing.TB) {
	t.Helper()
	pos := p.Primary.QueryString(t, "SELECT @@gtid_binlog_pos")
	secs := int(WaitLimit / time.Second)
	got, err := p.Replica.Query("SELECT MASTER_GTID_WAIT(?, ?)", pos, secs)
	if err == nil && got != "0" {
		err = errors.New("timed out")
	}
	if err != nil {
		status, _ := p.Replica.Query("SELECT CONCAT_WS(' ', @@gtid_slave_pos, @@gtid_current_pos)")
		t.Fatalf("replica did not reach the primary's GTID %q within %v: %v (replica at %s)\n%s", pos, WaitLimit, err, status, p.Replica.Log())
	}
}

// WaitReplicaReceived waits until the replica's I/O thread has received
// everything the primary had committed when it was called, applied or not:
// after PauseReplication, the signal that a write had its chance to reach
// the replica and was not applied.
func (p *MariaDBPair) WaitReplicaReceived(t testing.TB) {
	t.Helper()
	want := p.Primary.QueryString(t, "SELECT @@gtid_binlog_pos")
	var got string
	Eventually(t, "the replica to receive GTID "+want, func() bool {
		got = p.Replica.slaveStatus(t)["Gtid_IO_Pos"]
		return got == want
	})
}

// slaveStatus returns SHOW SLAVE STATUS's only row by column name.
func (m *MariaDB) slaveStatus(t testing.TB) map[string]string {
	t.Helper()
	db, err := sql.Open("mysql", m.RootDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SHOW SLAVE STATUS")
	if err != nil {
		t.Fatalf("MariaDB %s: SHOW SLAVE STATUS: %v", m.name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	if !rows.Next() {
		return out
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		out[c] = vals[i].String
	}
	return out
}
