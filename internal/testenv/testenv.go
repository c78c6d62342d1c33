// Package testenv points tests at the real MySQL/MariaDB, Redis and
// S3-compatible server named by EDUSTREAM_TEST_MYSQL_DSN,
// EDUSTREAM_TEST_REDIS_URL and EDUSTREAM_TEST_S3_ENDPOINT, and decides what
// happens when one is not set: a skip on a laptop, a failure wherever
// EDUSTREAM_TEST_REQUIRE names the service (CI), so nothing quietly skips there.
package testenv

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// Environment variables that configure the tests.
const (
	EnvMySQLDSN = "EDUSTREAM_TEST_MYSQL_DSN"
	EnvRedisURL = "EDUSTREAM_TEST_REDIS_URL"
	EnvRequire  = "EDUSTREAM_TEST_REQUIRE"

	// EnvS3Endpoint is the URL of an S3-compatible server (e.g.
	// http://127.0.0.1:8333); the other S3 variables are optional.
	EnvS3Endpoint  = "EDUSTREAM_TEST_S3_ENDPOINT"
	EnvS3Bucket    = "EDUSTREAM_TEST_S3_BUCKET"     // default edustream-test
	EnvS3Region    = "EDUSTREAM_TEST_S3_REGION"     // default us-east-1
	EnvS3AccessKey = "EDUSTREAM_TEST_S3_ACCESS_KEY" // default: the AWS credential chain
	EnvS3SecretKey = "EDUSTREAM_TEST_S3_SECRET_KEY"
)

// Required reports whether EDUSTREAM_TEST_REQUIRE names service.
func Required(service string) bool {
	return slices.Contains(strings.Split(os.Getenv(EnvRequire), ","), service)
}

// skipOrFail skips the test, unless the service is required, which fails it.
func skipOrFail(t testing.TB, service, env string) {
	t.Helper()
	if Required(service) {
		t.Fatalf("%s is required (%s=%q) but %s is not set", service, EnvRequire, os.Getenv(EnvRequire), env)
	}
	t.Skipf("%s not set: skipping the %s tests", env, service)
}

// MySQLConfigured reports whether tests should run against MySQL: its DSN is
// set, or it is required (and MySQLDSN will then fail loudly without one).
func MySQLConfigured() bool {
	return os.Getenv(EnvMySQLDSN) != "" || Required("mysql")
}

// MySQLDSN returns the DSN of a new, empty database on the test server, which
// is dropped when the test ends. It skips (or fails, when required) without
// EDUSTREAM_TEST_MYSQL_DSN. The configured user needs CREATE and DROP on
// databases named after the DSN's database with a suffix.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvMySQLDSN)
	if raw == "" {
		skipOrFail(t, "mysql", EnvMySQLDSN)
	}
	cfg, err := mysql.ParseDSN(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvMySQLDSN, err)
	}
	base := cfg.DBName
	if base == "" {
		base = "edustream_test"
	}
	name := base + "_" + randomSuffix(t)
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// RedisURL returns the URL of a Redis database that this test has to itself,
// emptied before and after. With EDUSTREAM_TEST_REDIS_URL it claims one of the
// server's numbered databases 1..15 (so parallel test packages do not see each
// other's queues); without it, it starts a miniredis with the clock-driven
// TTLs asynq needs, unless Redis is required.
func RedisURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvRedisURL)
	if raw == "" {
		if Required("redis") {
			skipOrFail(t, "redis", EnvRedisURL)
		}
		m := miniredis.RunT(t)
		m.ClockTTL(true)
		return "redis://" + m.Addr()
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvRedisURL, err)
	}
	ctx := context.Background()
	owner := randomSuffix(t)
	// Claims live in database 0, so flushing a claimed database keeps them.
	claims := redis.NewClient(opts)
	defer claims.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for db := 1; db <= 15; db++ {
			key := fmt.Sprintf("edustream:test:claim:%d", db)
			ok, err := claims.SetNX(ctx, key, owner, 10*time.Minute).Result()
			if err != nil {
				t.Fatalf("redis at %s: %v", raw, err)
			}
			if !ok {
				continue
			}
			o := *opts
			o.DB = db
			c := redis.NewClient(&o)
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				c.FlushDB(context.Background())
				c.Close()
				release := redis.NewClient(opts)
				release.Del(context.Background(), key)
				release.Close()
			})
			return withDB(raw, db)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no free Redis database on %s after 60s", raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// S3Env is the S3-compatible server the tests may use.
type S3Env struct {
	Endpoint  string
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
}

// S3 returns the server named by EDUSTREAM_TEST_S3_ENDPOINT. It skips (or
// fails, when EDUSTREAM_TEST_REQUIRE names s3) without one. The bucket
// must exist; tests share it, so each keeps to a key prefix of its own
// (see UniquePrefix).
func S3(t testing.TB) S3Env {
	t.Helper()
	env := S3Env{
		Endpoint:  os.Getenv(EnvS3Endpoint),
		Bucket:    cmp.Or(os.Getenv(EnvS3Bucket), "edustream-test"),
		Region:    cmp.Or(os.Getenv(EnvS3Region), "us-east-1"),
		AccessKey: os.Getenv(EnvS3AccessKey),
		SecretKey: os.Getenv(EnvS3SecretKey),
	}
	if env.Endpoint == "" {
		skipOrFail(t, "s3", EnvS3Endpoint)
	}
	return env
}

// UniquePrefix returns a key prefix ("test-<pid>_<random>/") no other test,
// in this process or another, uses.
func UniquePrefix(t testing.TB) string {
	t.Helper()
	return "test-" + randomSuffix(t) + "/"
}

func withDB(raw string, db int) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d_%s", os.Getpid()%100000, hex.EncodeToString(b))
}

// RedisClient returns a client of the Redis database at url (one of
// RedisURL's), closed when the test ends.
func RedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}
