package redis

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

func TestNewClientURLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile, _, _ := testenv.WriteTLSCerts(t, dir)
	for _, tc := range []struct {
		name, url, caFile string
		// endpoint, sentinel and tls are what a good URL gives.
		endpoint string
		sentinel bool
		tls      bool
		db       int
		// err is part of a bad URL's error.
		err string
	}{
		{name: "plain", url: "redis://127.0.0.1:6379/2", endpoint: "127.0.0.1:6379", db: 2},
		{name: "plain with password", url: "redis://:s3cret@cache.internal:6380/0", endpoint: "cache.internal:6380"},
		{name: "tls", url: "rediss://master.edu.cache.amazonaws.com:6379/0", endpoint: "master.edu.cache.amazonaws.com:6379", tls: true},
		{name: "tls, private CA", url: "rediss://127.0.0.1:6380", caFile: caFile, endpoint: "127.0.0.1:6380", tls: true},
		{name: "unix socket", url: "unix:///run/redis.sock?db=3", endpoint: "/run/redis.sock", db: 3},
		{name: "sentinel", url: "redis://10.0.0.1:26379/1?master_name=edustream&addr=10.0.0.2:26379&addr=10.0.0.3:26379",
			endpoint: "sentinel master edustream via [10.0.0.1:26379 10.0.0.2:26379 10.0.0.3:26379]", sentinel: true, db: 1},
		{name: "sentinel with passwords and tls", url: "rediss://sentinel:s3cret@10.0.0.1:26379/0?master_name=edustream&addr=10.0.0.2:26379&password=s3cret",
			endpoint: "sentinel master edustream via [10.0.0.1:26379 10.0.0.2:26379]", sentinel: true, tls: true},

		{name: "not a URL", url: "redis://:s3cret@[::1", err: "not a URL"},
		{name: "other scheme", url: "http://127.0.0.1:6379", err: `scheme "http"`},
		{name: "host:port only", url: "127.0.0.1:6379", err: "want redis://host:port/db"},
		{name: "bare host", url: "cache.internal", err: `scheme ""`},
		{name: "no host", url: "redis:///0", err: "no host:port"},
		{name: "bad database", url: "redis://127.0.0.1:6379/x", err: "invalid database number"},
		{name: "unknown option", url: "redis://:s3cret@127.0.0.1:6379/0?colour=blue", err: "unexpected option: colour"},
		{name: "sentinels without master_name", url: "redis://10.0.0.1:26379?addr=10.0.0.2:26379", err: "needs master_name="},
		{name: "empty master_name", url: "redis://10.0.0.1:26379?master_name=", err: "master_name= is empty"},
		{name: "bad sentinel addr", url: "redis://10.0.0.1:26379?master_name=m&addr=nowhere", err: "unable to parse addr param"},
		{name: "sentinel over unix", url: "unix:///run/redis.sock?master_name=m", err: "Sentinel form needs redis://"},
		{name: "CA file without TLS", url: "redis://127.0.0.1:6379", caFile: notPEM, err: "is not TLS: use rediss://"},
		{name: "CA file missing", url: "rediss://127.0.0.1:6379", caFile: filepath.Join(dir, "missing.pem"), err: "no such file"},
		{name: "CA file not PEM", url: "rediss://127.0.0.1:6379", caFile: notPEM, err: "holds no PEM certificate"},
		{name: "password in an error", url: "redis://u:s3cret@10.0.0.1:26379?master_name=m&password=s3cret&addr=bad", err: "unable to parse addr param"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(ClientConfig{URL: tc.url, CAFile: tc.caFile})
			if tc.err != "" {
				if err == nil {
					c.Close()
					t.Fatalf("NewClient(%q) succeeded, want an error with %q", tc.url, tc.err)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %q, want it to contain %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient(%q): %v", tc.url, err)
			}
			defer c.Close()
			opts := c.Options()
			if c.Endpoint != tc.endpoint || c.Sentinel != tc.sentinel || (opts.TLSConfig != nil) != tc.tls || opts.DB != tc.db {
				t.Errorf("got endpoint %q, sentinel %v, tls %v, db %d; want %q, %v, %v, %d",
					c.Endpoint, c.Sentinel, opts.TLSConfig != nil, opts.DB, tc.endpoint, tc.sentinel, tc.tls, tc.db)
			}
			if tc.caFile != "" && (opts.TLSConfig == nil || opts.TLSConfig.RootCAs == nil) {
				t.Errorf("the CA file did not reach the TLS config")
			}
			if opts.DialTimeout != dialTimeout {
				t.Errorf("dial timeout %v, want %v", opts.DialTimeout, dialTimeout)
			}
		})
	}
}

// TLS for real: a redis-server that speaks only TLS, with a certificate
// from a CA the test made.
func TestNewClientTLS(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedisTLS(t)
	ctx := context.Background()

	c, err := NewClient(ClientConfig{URL: srv.URL, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set over TLS: %v", err)
	}

	// Without the private CA the server's certificate is refused.
	untrusted, err := NewClient(ClientConfig{URL: srv.URL + "?max_retries=-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	if err := untrusted.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("ping without the CA: %v, want a certificate error", err)
	}
	// Nor does plain text reach a TLS port.
	plain, err := NewClient(ClientConfig{URL: "redis://" + srv.Addr + "?max_retries=-1&read_timeout=2s"})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Error("a plain-text ping of the TLS port succeeded")
	}
}

// Sentinel for real: the client follows the sentinels to the promoted
// replica when the primary dies, for commands and for the events'
// pub/sub connection, whose subscribers are told to resync.
func TestNewClientSentinelFailover(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedisSentinel(t)
	ctx := context.Background()
	c, err := NewClient(ClientConfig{URL: rs.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Replication is asynchronous; make sure this write is on the replica.
	if err := c.Wait(ctx, 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	events := NewEvents(c, nil)
	defer events.Close()
	sub := subscribe(t, ctx, events, "t")
	publisher := NewEvents(c, nil)

	old := rs.KillPrimary()
	promoted := rs.WaitFailover()
	t.Logf("primary %s killed, %s promoted", old, promoted)

	if e := receive(t, sub); !e.Resync || e.Topic != "t" {
		t.Fatalf("after the failover the subscriber got %+v, want a resync", e)
	}
	testenv.Eventually(t, "writes to reach the promoted primary", func() bool {
		return c.Set(ctx, "after", "1", 0).Err() == nil
	})
	if got := c.Get(ctx, "before").Val(); got != "1" {
		t.Errorf("the write made before the failover is %q on the promoted primary", got)
	}
	// Events flow again, through the new primary.
	testenv.Eventually(t, "an event after the failover", func() bool {
		if err := publisher.PublishEvent(ctx, edustream.Event{Topic: "t", QueueMoved: &struct{}{}}); err != nil {
			return false
		}
		select {
		case e := <-sub:
			return e.QueueMoved != nil
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(promoted, ":")
	if !strings.Contains(info, "tcp_port:"+port) {
		t.Errorf("the client talks to a server other than the promoted %s:\n%s", promoted, info)
	}
}
