package metrics_test

import (
	"testing"
	"time"

	"github.com/edustream/edustream/metrics"
)

// Database pools (issue 13): each pool's waits are served under its name.
func TestDBWaits(t *testing.T) {
	t.Parallel()
	reg, h := newRegistry(t)
	metrics.RegisterDBWaits(reg, "primary", func() (int64, time.Duration, int64) { return 7, 1500 * time.Millisecond, 2 })
	metrics.RegisterDBWaits(reg, "replica", func() (int64, time.Duration, int64) { return 0, 0, 0 })
	families := scrape(t, h)
	for _, tt := range []struct {
		name, db string
		want     float64
	}{
		{"edustream_db_pool_waits_total", "primary", 7},
		{"edustream_db_pool_wait_seconds_total", "primary", 1.5},
		{"edustream_db_pool_timeouts_total", "primary", 2},
		{"edustream_db_pool_waits_total", "replica", 0},
	} {
		if got, ok := value(families, tt.name, map[string]string{"db_name": tt.db}); !ok || got != tt.want {
			t.Errorf("%s{db_name=%s} = %v (%v), want %v", tt.name, tt.db, got, ok, tt.want)
		}
	}
}
