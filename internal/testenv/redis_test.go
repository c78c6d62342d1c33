package testenv_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/edustream/edustream/internal/testenv"
)

func TestStartRedisSentinel(t *testing.T) {
	t.Parallel()
	s := testenv.StartRedisSentinel(t)
	opts, err := redis.ParseFailoverURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewFailoverClient(opts)
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The write must reach the replica before the kill, or the promoted one
	// would not have it: that is asynchronous replication, not the harness.
	if err := c.Wait(ctx, 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	old := s.KillPrimary()
	promoted := s.WaitFailover()
	if promoted == old {
		t.Fatalf("the primary is still %s", old)
	}
	testenv.Eventually(t, "the failover client to reach the promoted primary", func() bool {
		return c.Set(ctx, "k2", "after", 0).Err() == nil
	})
	if got := c.Get(ctx, "k").Val(); got != "before" {
		t.Errorf("k = %q on the promoted primary, want before", got)
	}
	s.RestartKilled()
	if got := s.PrimaryAddr(); got != promoted {
		t.Errorf("primary after the old one came back = %s, want %s", got, promoted)
	}
}

func TestStartRedisTLS(t *testing.T) {
	t.Parallel()
	s := testenv.StartRedisTLS(t)
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	ctx := context.Background()
	good := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	defer good.Close()
	if err := good.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping over TLS with the test CA: %v", err)
	}
	// Without the CA the certificate is refused: the server really is TLS
	// with the generated certificate.
	bad := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: &tls.Config{ServerName: "127.0.0.1"}, MaxRetries: -1})
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil {
		t.Fatal("ping over TLS without the CA succeeded")
	}
	plain := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Fatal("plain-text ping of a TLS-only server succeeded")
	}
}

func TestStartRedisRestartEmpty(t *testing.T) {
	t.Parallel()
	s := testenv.StartRedis(t)
	c := testenv.RedisClient(t, s.URL)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	testenv.Eventually(t, "the restarted server to answer", func() bool { return c.Ping(ctx).Err() == nil })
	if n := c.Exists(ctx, "k").Val(); n != 0 {
		t.Errorf("the restarted server kept k")
	}
}
