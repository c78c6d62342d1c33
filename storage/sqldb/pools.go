package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/edustream/edustream"
)

// # Bounded pools
//
// Every pool (the primary's, the replica's, on either engine) holds at
// most PoolConfig.MaxOpenConns connections, and keeps up to MaxIdleConns
// of them open between requests, so that a steady load reuses them instead
// of dialling anew for each statement. A statement, or a transaction from
// BEGIN to COMMIT, takes one of MaxOpenConns slots first, waiting at most
// WaitTimeout: a request that finds the pool full for that long fails with
// EUNAVAILABLE (retry later) instead of queueing without end, and the
// server never sees more connections than the bound. database/sql's own
// MaxOpenConns is set to the same number as a second guard; since no more
// callers than that hold a slot, it never makes anyone wait.

// Pool defaults: what an instance uses when the configuration says
// nothing. A fleet of N processes (API and workers), each with a primary
// pool of 20, needs MariaDB's max_connections ≥ 20·N plus headroom for
// administrators and replication; the default 151 fits about six.
const (
	DefaultMaxOpenConns    = 20
	DefaultConnMaxLifetime = 5 * time.Minute
	DefaultConnMaxIdleTime = time.Minute
	DefaultWaitTimeout     = 2 * time.Second
)

// DefaultSQLiteBusyTimeout is how long an SQLite writer waits for the
// database's write lock before it gives up with SQLITE_BUSY.
const DefaultSQLiteBusyTimeout = 10 * time.Second

// PoolConfig bounds one connection pool. Zero fields take the defaults.
type PoolConfig struct {
	// MaxOpenConns is the most connections the pool holds, idle or in use
	// (default DefaultMaxOpenConns).
	MaxOpenConns int
	// MaxIdleConns is the most it keeps open while idle (default:
	// MaxOpenConns, so a steady load does not churn connections).
	MaxIdleConns int
	// ConnMaxLifetime recycles a connection this long after it was opened,
	// before a server's wait_timeout or a failover makes it stale.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes a connection unused for this long, so a pool
	// shrinks back after a burst.
	ConnMaxIdleTime time.Duration
	// WaitTimeout is how long a statement waits for a connection when all
	// MaxOpenConns are in use, before it fails with EUNAVAILABLE.
	WaitTimeout time.Duration
}

// withDefaults fills the zero fields.
func (c PoolConfig) withDefaults() PoolConfig {
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = DefaultMaxOpenConns
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = c.MaxOpenConns
	}
	if c.ConnMaxLifetime == 0 {
		c.ConnMaxLifetime = DefaultConnMaxLifetime
	}
	if c.ConnMaxIdleTime == 0 {
		c.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	return c
}

// Validate reports a configuration that cannot be honoured: negative
// numbers, or more idle connections than open ones.
func (c PoolConfig) Validate() error {
	switch {
	case c.MaxOpenConns < 0 || c.MaxIdleConns < 0:
		return fmt.Errorf("connection counts must not be negative (max open %d, max idle %d)", c.MaxOpenConns, c.MaxIdleConns)
	case c.ConnMaxLifetime < 0 || c.ConnMaxIdleTime < 0 || c.WaitTimeout < 0:
		return errors.New("connection lifetimes and the wait timeout must not be negative")
	case c.MaxOpenConns > 0 && c.MaxIdleConns > c.MaxOpenConns:
		return fmt.Errorf("max idle connections (%d) exceed max open connections (%d)", c.MaxIdleConns, c.MaxOpenConns)
	}
	return nil
}

// Option configures OpenMySQL, OpenSQLite and OpenSQLiteWithReplica.
type Option func(*options)

type options struct {
	primary, replica PoolConfig
	replicaSet       bool
	busyTimeout      time.Duration
}

// WithPools bounds the primary's pool and the replica's. A zero replica
// config takes the primary's.
func WithPools(primary, replica PoolConfig) Option {
	return func(o *options) {
		o.primary = primary
		o.replica, o.replicaSet = replica, replica != PoolConfig{}
	}
}

// WithSQLiteBusyTimeout sets how long an SQLite writer waits for the write
// lock (default DefaultSQLiteBusyTimeout); MySQL ignores it.
func WithSQLiteBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// resolve applies opts over the defaults and validates the result.
func resolve(opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.primary.Validate(); err != nil {
		return o, fmt.Errorf("primary pool: %w", err)
	}
	if err := o.replica.Validate(); err != nil {
		return o, fmt.Errorf("replica pool: %w", err)
	}
	if o.busyTimeout < 0 {
		return o, errors.New("the SQLite busy timeout must not be negative")
	}
	if !o.replicaSet {
		o.replica = o.primary
	}
	o.primary, o.replica = o.primary.withDefaults(), o.replica.withDefaults()
	if o.busyTimeout == 0 {
		o.busyTimeout = DefaultSQLiteBusyTimeout
	}
	return o, nil
}

// pool is one bounded pool: database/sql's, and the slots that bound the
// wait for it.
type pool struct {
	db    *sql.DB
	role  string // "primary" or "replica", in spans and errors
	slots chan struct{}
	wait  time.Duration
	// What the waits cost, for PoolWaits: database/sql's own wait
	// statistics stay at zero, since no caller beyond the bound reaches it.
	waits, waitedNs, timeouts atomic.Int64
}

func newPool(db *sql.DB, role string, c PoolConfig) *pool {
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	db.SetConnMaxLifetime(c.ConnMaxLifetime)
	db.SetConnMaxIdleTime(c.ConnMaxIdleTime)
	return &pool{db: db, role: role, slots: make(chan struct{}, c.MaxOpenConns), wait: c.WaitTimeout}
}

// errPoolTimeout is the cause of EUNAVAILABLE when no connection came free
// within the wait timeout.
var errPoolTimeout = errors.New("no database connection came free")

// acquire takes a slot, waiting at most p.wait, and returns its release.
// A caller whose ctx ends first gets ctx's error.
func (p *pool) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-p.slots }
	select {
	case p.slots <- struct{}{}:
		return release, nil
	default:
	}
	start := time.Now()
	p.waits.Add(1)
	defer func() { p.waitedNs.Add(int64(time.Since(start))) }()
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		p.timeouts.Add(1)
		return nil, fmt.Errorf("%s pool: all %d connections busy for %v: %w", p.role, cap(p.slots), p.wait, errPoolTimeout)
	}
}

// PoolWaits says how often statements of a pool found every connection
// busy.
type PoolWaits struct {
	Waits    int64         // statements (or transactions) that had to wait
	Waited   time.Duration // their total wait
	Timeouts int64         // waits that ran out: EUNAVAILABLE
}

func (p *pool) stats() PoolWaits {
	return PoolWaits{Waits: p.waits.Load(), Waited: time.Duration(p.waitedNs.Load()), Timeouts: p.timeouts.Load()}
}

// PrimaryWaits returns the waits for the primary's connections.
func (db *DB) PrimaryWaits() PoolWaits { return db.primary.stats() }

// ReplicaWaits returns the waits for the replica's connections (zero
// without a replica).
func (db *DB) ReplicaWaits() PoolWaits {
	if db.replica == nil {
		return PoolWaits{}
	}
	return db.replica.stats()
}

// Pools returns the connection pools of db, for what reports their
// statistics (sql.DB.Stats): the primary's, and the replica's or nil.
// Queries go through db's services, never through these.
func (db *DB) Pools() (primary, replica *sql.DB) {
	if db.replica != nil {
		replica = db.replica.db
	}
	return db.primary.db, replica
}

// replicaProbeInterval is how often a replica marked down is pinged.
const replicaProbeInterval = time.Second

// replicaFailed reports whether err, from a read on the replica, says the
// replica is out of reach. If so the replica is marked down, so that reads
// go to the primary, until a probe, every replicaProbeInterval, finds it
// answering again. Requests never wait on the probe.
func (db *DB) replicaFailed(ctx context.Context, err error) bool {
	if !isConnectionFailure(err) {
		return false
	}
	if db.replicaDown.CompareAndSwap(false, true) {
		log := edustream.Logger(ctx)
		log.WarnContext(ctx, "database replica unreachable: reads go to the primary", "error", err)
		go db.probeReplica(log)
	}
	return true
}

// probeReplica pings the replica until it answers, then sends reads back
// to it. log is the logger of the request that found it down.
func (db *DB) probeReplica(log *slog.Logger) {
	ticker := time.NewTicker(replicaProbeInterval)
	defer ticker.Stop()
	for {
		select {
		case <-db.closed:
			return
		case <-ticker.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), replicaProbeInterval)
		err := db.replica.db.PingContext(ctx)
		cancel()
		if err == nil {
			db.replicaDown.Store(false)
			log.Info("database replica back: reads return to it")
			return
		}
	}
}

// ReplicaDown reports whether reads have left the replica for the primary
// because it could not be reached.
func (db *DB) ReplicaDown() bool { return db.replicaDown.Load() }
