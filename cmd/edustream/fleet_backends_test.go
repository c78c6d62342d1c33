package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/internal/testenv"
)

// serverProcess is a backend server the fault suite owns, so that it can
// kill it: a mariadbd or a redis-server on a loopback port in a temp dir,
// restartable on the same port and data.
type serverProcess struct {
	name string
	bin  string
	args []string
	addr string
	log  string // the server's output, printed when the test fails
	proc *exec.Cmd
	done chan struct{}
}

// requireBinary returns the path of a server binary, skipping the test
// without it (failing it when EDUSTREAM_TEST_REQUIRE names service).
func requireBinary(t testing.TB, service, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if testenv.Required(service) {
			t.Fatalf("%s is required (%s=%q) but %s is not installed: %v", service, testenv.EnvRequire, os.Getenv(testenv.EnvRequire), name, err)
		}
		t.Skipf("%s not installed: skipping (%v)", name, err)
	}
	return path
}

func (s *serverProcess) start(t testing.TB) {
	t.Helper()
	out, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.name, err)
	}
	s.proc, s.done = cmd, make(chan struct{})
	done := s.done
	go func() {
		cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(testenv.WaitLimit)
	for {
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited at start:\n%s", s.name, s.tail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after %v:\n%s", s.name, s.addr, testenv.WaitLimit, s.tail())
		}
	}
}

// kill ends the server with SIGKILL and waits until it is gone.
func (s *serverProcess) kill(t testing.TB) {
	t.Helper()
	s.proc.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(testenv.WaitLimit):
		t.Fatalf("%s still runs after SIGKILL", s.name)
	}
}

func (s *serverProcess) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stopAtCleanup kills whichever process of the server runs when the test
// ends, and prints its log if the test failed.
func (s *serverProcess) stopAtCleanup(t testing.TB) {
	t.Cleanup(func() {
		if s.proc != nil {
			s.proc.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("%s wrote:\n%s", s.name, s.tail())
		}
	})
}

// startMariaDB starts a mariadbd of the test's own, with a database named
// edustream, and returns it with its DSN.
func startMariaDB(t testing.TB) (*serverProcess, string) {
	t.Helper()
	bin := requireBinary(t, "mysql", "mariadbd")
	install := requireBinary(t, "mysql", "mariadb-install-db")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	addr := testenv.ClosedAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	s := &serverProcess{
		name: "mariadbd", bin: bin, addr: addr, log: filepath.Join(dir, "mariadbd.log"),
		args: []string{"--no-defaults", "--datadir=" + data, "--user=root",
			"--bind-address=127.0.0.1", "--port=" + port, "--socket=" + filepath.Join(dir, "mariadbd.sock"),
			"--pid-file=" + filepath.Join(dir, "mariadbd.pid"), "--skip-grant-tables",
			"--innodb-buffer-pool-size=32M", "--performance-schema=OFF", "--skip-log-bin"},
	}
	s.stopAtCleanup(t)
	s.start(t)
	dsn := fmt.Sprintf("root@tcp(%s)/edustream", addr)
	admin, err := sql.Open("mysql", strings.TrimSuffix(dsn, "edustream"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE edustream"); err != nil {
		t.Fatalf("create the database: %v\n%s", err, s.tail())
	}
	return s, dsn
}

// startRedis starts a redis-server of the test's own that keeps its data in
// an append-only file, so a restart after a SIGKILL finds what was
// acknowledged, and returns it with its URL.
func startRedis(t testing.TB) (*serverProcess, string) {
	t.Helper()
	bin := requireBinary(t, "redis", "redis-server")
	dir := t.TempDir()
	addr := testenv.ClosedAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	s := &serverProcess{
		name: "redis-server", bin: bin, addr: addr, log: filepath.Join(dir, "redis.log"),
		args: []string{"--bind", "127.0.0.1", "--port", port, "--dir", dir, "--save", "",
			"--appendonly", "yes", "--appendfsync", "always"},
	}
	s.stopAtCleanup(t)
	s.start(t)
	return s, "redis://" + addr + "/0"
}
