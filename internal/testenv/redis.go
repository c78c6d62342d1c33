package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisMasterName is the name the sentinels of StartRedisSentinel monitor
// their primary under.
const RedisMasterName = "edustream"

// RedisServer is a redis-server (or redis-sentinel) process that a test
// started on a free loopback port, stopped when the test ends.
type RedisServer struct {
	// Addr is host:port.
	Addr string
	// URL is its address in EDUSTREAM_REDIS_URL form: redis://Addr/0, or
	// rediss://Addr/0 when it speaks only TLS.
	URL string
	// CAFile is the PEM file of the CA that signed the server's
	// certificate (TLS only), for EDUSTREAM_REDIS_CA_FILE.
	CAFile string

	t    testing.TB
	args []string // the command line, for Restart
	dir  string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a throwaway redis-server without persistence on a free
// loopback port. Destroy it at will: it is this test's alone. It skips
// without redis-server (fails when EDUSTREAM_TEST_REQUIRE names redis).
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	return startRedisServer(t, nil)
}

// StartRedisTLS starts a redis-server that accepts only TLS, with a CA and
// a certificate for 127.0.0.1 the test generates; its URL is rediss:// and
// CAFile names the CA.
func StartRedisTLS(t testing.TB) *RedisServer {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile := WriteTLSCerts(t, dir)
	s := startRedisServer(t, func(port string) []string {
		return []string{"--port", "0", "--tls-port", port,
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile,
			// Clients authenticate with the server's password (if any),
			// not with certificates of their own.
			"--tls-auth-clients", "no"}
	})
	s.URL = "rediss://" + s.Addr + "/0"
	s.CAFile = caFile
	return s
}

// RedisSentinel is a primary, its replica and three sentinels watching them
// (quorum 2), the way ElastiCache Multi-AZ or a self-run Sentinel fleet
// runs, on loopback. The sentinels declare the primary down after one
// second, so a failover takes a few seconds; when their first election
// splits, they try again after twice the failover timeout (2 s here).
type RedisSentinel struct {
	// URL is the Sentinel form of EDUSTREAM_REDIS_URL:
	// redis://<sentinel1>/0?master_name=edustream&addr=<sentinel2>&addr=<sentinel3>.
	URL string
	// MasterName is the name the sentinels know the primary by.
	MasterName string
	// Sentinels are the three sentinel processes.
	Sentinels []*RedisServer

	t testing.TB
	// servers are the two data servers; their roles change at a failover.
	servers []*RedisServer
	killed  *RedisServer
}

// StartRedisSentinel starts a primary, a replica and three sentinels, and
// returns once the replica is in sync and every sentinel knows the others
// and the replica, so a failover can happen. Everything stops when the
// test ends. It skips without redis-server and redis-sentinel (fails when
// EDUSTREAM_TEST_REQUIRE names redis).
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	needBinary(t, "redis-sentinel")
	primary := startRedisServer(t, nil)
	replica := startRedisServer(t, func(port string) []string {
		host, pport, _ := net.SplitHostPort(primary.Addr)
		return []string{"--port", port, "--replicaof", host, pport}
	})
	s := &RedisSentinel{t: t, MasterName: RedisMasterName, servers: []*RedisServer{primary, replica}}
	host, pport, _ := net.SplitHostPort(primary.Addr)
	// Each sentinel is told its id, the replica and the other sentinels up
	// front: discovering them (the primary's INFO every 10 s, hellos every
	// 2 s) would cost a test about 20 s before a failover can happen.
	ports := make([]string, 3)
	ids := make([]string, 3)
	for i := range ports {
		ports[i] = strconv.Itoa(freePort(t))
		ids[i] = randomHex(t, 20)
	}
	_, rport, _ := net.SplitHostPort(replica.Addr)
	for i := range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		port := ports[i]
		lines := []string{
			"port " + port,
			"bind 127.0.0.1",
			"daemonize no",
			"dir " + dir,
			"sentinel myid " + ids[i],
			fmt.Sprintf("sentinel monitor %s %s %s 2", RedisMasterName, host, pport),
			fmt.Sprintf("sentinel down-after-milliseconds %s 1000", RedisMasterName),
			fmt.Sprintf("sentinel failover-timeout %s 2000", RedisMasterName),
			fmt.Sprintf("sentinel parallel-syncs %s 1", RedisMasterName),
			fmt.Sprintf("sentinel known-replica %s 127.0.0.1 %s", RedisMasterName, rport),
		}
		for j := range 3 {
			if j != i {
				lines = append(lines, fmt.Sprintf("sentinel known-sentinel %s 127.0.0.1 %s %s", RedisMasterName, ports[j], ids[j]))
			}
		}
		// Sentinel rewrites its config file with what it learns, so each
		// one has its own, writable.
		body := strings.Join(append(lines, ""), "\n")
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		sen := &RedisServer{t: t, Addr: net.JoinHostPort("127.0.0.1", port), dir: dir,
			log:  filepath.Join(dir, fmt.Sprintf("sentinel-%d.log", i)),
			args: []string{"redis-sentinel", conf, "--logfile", filepath.Join(dir, fmt.Sprintf("sentinel-%d.log", i))}}
		sen.URL = "redis://" + sen.Addr
		sen.start()
		s.Sentinels = append(s.Sentinels, sen)
	}
	s.URL = fmt.Sprintf("redis://%s/0?master_name=%s&addr=%s&addr=%s",
		s.Sentinels[0].Addr, RedisMasterName, s.Sentinels[1].Addr, s.Sentinels[2].Addr)

	// Ready means a failover could happen now: the replica is in sync and
	// each sentinel sees the replica and both other sentinels.
	s.waitReplicaInSync(replica)
	ctx := context.Background()
	for _, sen := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr})
		s.eventually("sentinel "+sen.Addr+" to know the replica and the other sentinels", func() bool {
			replicas, err1 := c.Replicas(ctx, RedisMasterName).Result()
			others, err2 := c.Sentinels(ctx, RedisMasterName).Result()
			return err1 == nil && err2 == nil && len(replicas) == 1 && len(others) == 2
		})
		c.Close()
	}
	return s
}

// PrimaryAddr returns the address the sentinels give for the primary now.
func (s *RedisSentinel) PrimaryAddr() string {
	s.t.Helper()
	addr, err := s.askPrimary()
	if err != nil {
		s.t.Fatalf("ask the sentinels for the primary: %v", err)
	}
	return addr
}

func (s *RedisSentinel) askPrimary() (string, error) {
	var last error
	for _, sen := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr})
		hp, err := c.GetMasterAddrByName(context.Background(), s.MasterName).Result()
		c.Close()
		if err == nil && len(hp) == 2 {
			return net.JoinHostPort(hp[0], hp[1]), nil
		}
		last = err
	}
	return "", last
}

// Primary returns the data server that is the primary now.
func (s *RedisSentinel) Primary() *RedisServer {
	s.t.Helper()
	addr := s.PrimaryAddr()
	for _, srv := range s.servers {
		if srv.Addr == addr {
			return srv
		}
	}
	s.t.Fatalf("the sentinels name %s as the primary, which is none of %v", addr, s.servers)
	return nil
}

// KillPrimary SIGKILLs the current primary and returns its address. The
// sentinels notice within a second and promote the replica; WaitFailover
// waits for that.
func (s *RedisSentinel) KillPrimary() string {
	s.t.Helper()
	p := s.Primary()
	p.Kill()
	s.killed = p
	return p.Addr
}

// WaitFailover waits until the sentinels name a primary other than the one
// KillPrimary killed and that server answers as a writable primary, and
// returns its address.
func (s *RedisSentinel) WaitFailover() string {
	s.t.Helper()
	if s.killed == nil {
		s.t.Fatal("WaitFailover without KillPrimary")
	}
	var addr string
	s.eventually("the sentinels to promote the replica", func() bool {
		a, err := s.askPrimary()
		if err != nil || a == s.killed.Addr {
			return false
		}
		c := redis.NewClient(&redis.Options{Addr: a})
		defer c.Close()
		info, err := c.Info(context.Background(), "replication").Result()
		addr = a
		return err == nil && strings.Contains(info, "role:master")
	})
	return addr
}

// RestartKilled starts the server KillPrimary killed again, empty, on its
// old port; the sentinels make it a replica of the new primary, and
// RestartKilled returns once it is in sync.
func (s *RedisSentinel) RestartKilled() {
	s.t.Helper()
	if s.killed == nil {
		s.t.Fatal("RestartKilled without KillPrimary")
	}
	k := s.killed
	s.killed = nil
	// Started as a replica of the new primary, as the sentinels would
	// make it anyway (they look at a returning server only every 10 s).
	host, port, _ := net.SplitHostPort(s.PrimaryAddr())
	k.start("--replicaof", host, port)
	s.waitReplicaInSync(k)
}

func (s *RedisSentinel) waitReplicaInSync(r *RedisServer) {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	s.eventually("replica "+r.Addr+" to be in sync", func() bool {
		info, err := c.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up")
	})
}

// eventually is Eventually with the processes' logs in the failure.
func (s *RedisSentinel) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, srv := range append(append([]*RedisServer{}, s.servers...), s.Sentinels...) {
				fmt.Fprintf(&logs, "\n--- %s:\n%s", srv.Addr, srv.Log())
			}
			s.t.Fatalf("gave up after %v waiting for %s%s", WaitLimit, what, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startRedisServer starts redis-server without persistence; args, if
// given, returns the arguments that set its ports from the free port
// picked for it (default: --port).
func startRedisServer(t testing.TB, args func(port string) []string) *RedisServer {
	t.Helper()
	needBinary(t, "redis-server")
	dir := t.TempDir()
	port := strconv.Itoa(freePort(t))
	portArgs := []string{"--port", port}
	if args != nil {
		portArgs = args(port)
	}
	s := &RedisServer{t: t, Addr: net.JoinHostPort("127.0.0.1", port), dir: dir, log: filepath.Join(dir, "redis.log")}
	s.URL = "redis://" + s.Addr + "/0"
	s.args = append([]string{"redis-server", "--bind", "127.0.0.1", "--dir", dir, "--logfile", s.log,
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		// A replica's full sync would otherwise wait 5 s for more replicas.
		"--repl-diskless-sync-delay", "0"}, portArgs...)
	s.start()
	return s
}

// start runs the process, with extra arguments if any, and waits until it
// answers PING.
func (s *RedisServer) start(extra ...string) {
	s.t.Helper()
	args := append(slices.Clone(s.args), extra...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.args[0], err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	s.t.Cleanup(s.Kill)

	opts := &redis.Options{Addr: s.Addr, DialTimeout: time.Second}
	if slices.Contains(s.args, "--tls-port") {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true} // only to see it is up
	}
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(WaitLimit)
	for c.Ping(context.Background()).Err() != nil {
		select {
		case <-done:
			s.t.Fatalf("%s on %s exited at start:\n%s", s.args[0], s.Addr, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s on %s not answering after %v:\n%s", s.args[0], s.Addr, WaitLimit, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill SIGKILLs the process (nothing if it is not running) and waits for
// it to be gone.
func (s *RedisServer) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts the server again after Kill, on the same port and empty
// (it keeps nothing on disk): Redis coming back after losing its data.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// Log returns what the process logged so far.
func (s *RedisServer) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// String names the server in messages.
func (s *RedisServer) String() string { return s.Addr }

// needBinary skips (or fails, when Redis is required) without name on PATH.
func needBinary(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if Required("redis") {
			t.Fatalf("%s is required (%s=%q) but not installed: %v", name, EnvRequire, os.Getenv(EnvRequire), err)
		}
		t.Skipf("%s not installed: skipping (%v)", name, err)
	}
}

// randomHex returns n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// WriteTLSCerts writes a CA and a server certificate for 127.0.0.1 and
// localhost, signed by it, into dir, and returns the files' paths.
func WriteTLSCerts(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "EduStream test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "redis.pem"), filepath.Join(dir, "redis-key.pem")
	for file, block := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}
