package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ClientConfig says how to reach Redis: EDUSTREAM_REDIS_URL and
// EDUSTREAM_REDIS_CA_FILE.
type ClientConfig struct {
	// URL is one of:
	//   - redis://[user:password@]host:port[/db]: one server, plain text;
	//   - rediss://…: the same over TLS (ElastiCache in-transit encryption);
	//   - unix://[user:password@]/path/to/socket[?db=N];
	//   - the Sentinel form, recognised by its master_name parameter:
	//     redis[s]://[sentinel-user:sentinel-password@]sentinel1:port[/db]?master_name=NAME&addr=sentinel2:port&addr=sentinel3:port[&password=PRIMARY-PASSWORD]
	//     (go-redis's ParseFailoverURL): the client asks the sentinels for
	//     the primary and follows it when they promote a replica.
	// go-redis's other query parameters (dial_timeout, pool_size,
	// skip_verify, …) are accepted too.
	URL string
	// CAFile is a PEM bundle of the certificate authorities that sign the
	// server's certificate, for a private CA (rediss:// only; empty: the
	// system's roots).
	CAFile string
}

// Client is the process's Redis client with what it reaches.
type Client struct {
	*goredis.Client
	// Endpoint names what it talks to, for logs and errors, without
	// secrets: "127.0.0.1:6379", or "sentinel master edustream via
	// [a:26379 b:26379]".
	Endpoint string
	// Sentinel is set for the Sentinel form.
	Sentinel bool
}

// dialTimeout bounds each dial: a black-holed address must fail a start-up
// check (and a failover's reconnects must move on) within seconds, not the
// kernel's minutes.
const dialTimeout = 5 * time.Second

// NewClient returns the client cfg describes. It does not connect yet: a
// bad URL is an error here, an unreachable server at the first command. A
// Sentinel client is a *goredis.Client like the others (go-redis's
// failover client), so asynq, pub/sub and every command follow a failover
// without knowing of it.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse's error quotes the whole URL, password included.
		return nil, errors.New("not a URL (want redis://host:port/db, rediss://…, unix://… or the Sentinel form)")
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("scheme %q: want redis:// (plain), rediss:// (TLS) or unix://", u.Scheme)
	}
	if u.Scheme != "unix" && u.Host == "" {
		return nil, fmt.Errorf("%s has no host:port", redact(u))
	}
	query := u.Query()
	sentinel := query.Has("master_name")
	if !sentinel && query.Has("addr") {
		return nil, fmt.Errorf("%s: addr= lists more sentinels, which needs master_name= (the Sentinel form)", redact(u))
	}
	if sentinel && query.Get("master_name") == "" {
		return nil, fmt.Errorf("%s: master_name= is empty: name the primary the sentinels monitor", redact(u))
	}
	if sentinel && u.Scheme == "unix" {
		return nil, errors.New("the Sentinel form needs redis:// or rediss:// sentinel addresses, not unix://")
	}
	var roots *x509.CertPool
	if cfg.CAFile != "" {
		if u.Scheme != "rediss" {
			return nil, fmt.Errorf("EDUSTREAM_REDIS_CA_FILE is set but %s is not TLS: use rediss://", redact(u))
		}
		if roots, err = loadCAFile(cfg.CAFile); err != nil {
			return nil, err
		}
	}

	if sentinel {
		opts, err := goredis.ParseFailoverURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", redact(u), err)
		}
		opts.DialTimeout = orDefault(opts.DialTimeout, dialTimeout)
		setRoots(opts.TLSConfig, roots)
		return &Client{
			Client:   goredis.NewFailoverClient(opts),
			Endpoint: fmt.Sprintf("sentinel master %s via %v", opts.MasterName, opts.SentinelAddrs),
			Sentinel: true,
		}, nil
	}
	opts, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redact(u), err)
	}
	// Maintenance notifications are a Redis Enterprise/Cloud feature; asking
	// other servers for them only adds a failed handshake to each
	// connection.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opts.DialTimeout = orDefault(opts.DialTimeout, dialTimeout)
	setRoots(opts.TLSConfig, roots)
	return &Client{Client: goredis.NewClient(opts), Endpoint: opts.Addr}, nil
}

// loadCAFile reads a PEM bundle of CA certificates.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("EDUSTREAM_REDIS_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("EDUSTREAM_REDIS_CA_FILE: %s holds no PEM certificate", path)
	}
	return pool, nil
}

func setRoots(c *tls.Config, roots *x509.CertPool) {
	if c != nil && roots != nil {
		c.RootCAs = roots
	}
}

// orDefault returns d unless the URL set a timeout of its own (go-redis
// reads 0 as its default and a negative one as none).
func orDefault(set, d time.Duration) time.Duration {
	if set != 0 {
		return set
	}
	return d
}

// redact returns u for messages: the password of the user info and of the
// password= parameter (the primary's, in the Sentinel form) hidden.
func redact(u *url.URL) string {
	r := *u
	q := r.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		r.RawQuery = q.Encode()
	}
	return r.Redacted()
}
