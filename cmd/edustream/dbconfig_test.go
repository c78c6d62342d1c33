package main

import (
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/storage/sqldb"
)

// Database pools (issue 13): the bounds come from the environment, the
// replica's default to the primary's, and bounds that cannot hold stop
// the start with an error naming the variable.
func TestDBPoolConfig(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string) (config, error) {
		return parseConfig("serve", nil, func(k string) string { return env[k] })
	}

	c, err := parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	primary, replica := c.dbPools()
	want := sqldb.PoolConfig{MaxOpenConns: sqldb.DefaultMaxOpenConns, ConnMaxLifetime: sqldb.DefaultConnMaxLifetime,
		ConnMaxIdleTime: sqldb.DefaultConnMaxIdleTime, WaitTimeout: sqldb.DefaultWaitTimeout}
	if primary != want || replica != want {
		t.Errorf("defaults: primary %+v, replica %+v, want %+v", primary, replica, want)
	}

	c, err = parse(map[string]string{
		"EDUSTREAM_DB_MAX_OPEN_CONNS":         "30",
		"EDUSTREAM_DB_MAX_IDLE_CONNS":         "10",
		"EDUSTREAM_DB_REPLICA_MAX_OPEN_CONNS": "50",
		"EDUSTREAM_DB_CONN_MAX_LIFETIME":      "10m",
		"EDUSTREAM_DB_CONN_MAX_IDLE_TIME":     "30s",
		"EDUSTREAM_DB_POOL_WAIT_TIMEOUT":      "500ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	primary, replica = c.dbPools()
	if primary != (sqldb.PoolConfig{MaxOpenConns: 30, MaxIdleConns: 10, ConnMaxLifetime: 10 * time.Minute, ConnMaxIdleTime: 30 * time.Second, WaitTimeout: 500 * time.Millisecond}) {
		t.Errorf("primary %+v", primary)
	}
	// The replica's idle count is its own (0: its max open), not the
	// primary's 10.
	if replica.MaxOpenConns != 50 || replica.MaxIdleConns != 0 || replica.WaitTimeout != 500*time.Millisecond {
		t.Errorf("replica %+v", replica)
	}

	for name, tt := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no connections":     {map[string]string{"EDUSTREAM_DB_MAX_OPEN_CONNS": "0"}, "EDUSTREAM_DB_MAX_OPEN_CONNS"},
		"idle above open":    {map[string]string{"EDUSTREAM_DB_MAX_IDLE_CONNS": "21"}, "EDUSTREAM_DB_MAX_IDLE_CONNS"},
		"replica idle above": {map[string]string{"EDUSTREAM_DB_REPLICA_MAX_OPEN_CONNS": "2", "EDUSTREAM_DB_REPLICA_MAX_IDLE_CONNS": "3"}, "EDUSTREAM_DB_REPLICA_MAX_IDLE_CONNS"},
		"negative replica":   {map[string]string{"EDUSTREAM_DB_REPLICA_MAX_OPEN_CONNS": "-1"}, "EDUSTREAM_DB_REPLICA_MAX_OPEN_CONNS"},
		"zero wait":          {map[string]string{"EDUSTREAM_DB_POOL_WAIT_TIMEOUT": "0s"}, "EDUSTREAM_DB_POOL_WAIT_TIMEOUT"},
		"negative lifetime":  {map[string]string{"EDUSTREAM_DB_CONN_MAX_LIFETIME": "-1m"}, "EDUSTREAM_DB_CONN_MAX_LIFETIME"},
		"not a number":       {map[string]string{"EDUSTREAM_DB_MAX_OPEN_CONNS": "many"}, "EDUSTREAM_DB_MAX_OPEN_CONNS"},
		"not a duration":     {map[string]string{"EDUSTREAM_DB_CONN_MAX_IDLE_TIME": "5"}, "EDUSTREAM_DB_CONN_MAX_IDLE_TIME"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}
