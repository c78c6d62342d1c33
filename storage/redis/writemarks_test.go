package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream/internal/testenv"
)

func newRedis(t *testing.T) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestWriteMarks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := newRedis(t)

	t.Run("mark and check", func(t *testing.T) {
		marks := NewWriteMarks(rdb, time.Minute)
		if err := marks.MarkWrite(ctx, 1); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			user int64
			want bool
		}{{1, true}, {2, false}} {
			got, err := marks.WroteRecently(ctx, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("WroteRecently(%d) = %v, want %v", tt.user, got, tt.want)
			}
		}
		ttl, err := rdb.TTL(ctx, writeMarkKey(1)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > time.Minute {
			t.Errorf("TTL = %v, want (0, 1m]", ttl)
		}
	})

	t.Run("seen by every instance", func(t *testing.T) {
		// Two API instances: two clients, one Redis.
		other := goredis.NewClient(rdb.Options())
		t.Cleanup(func() { other.Close() })
		if err := NewWriteMarks(rdb, time.Minute).MarkWrite(ctx, 7); err != nil {
			t.Fatal(err)
		}
		got, err := NewWriteMarks(other, time.Minute).WroteRecently(ctx, 7)
		if err != nil || !got {
			t.Errorf("other instance: WroteRecently = %v, %v", got, err)
		}
	})

	t.Run("expires after the window", func(t *testing.T) {
		marks := NewWriteMarks(rdb, 200*time.Millisecond)
		if err := marks.MarkWrite(ctx, 3); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := marks.WroteRecently(ctx, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !got {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("write mark did not expire")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("default window", func(t *testing.T) {
		if w := NewWriteMarks(rdb, 0).window; w != DefaultWriteMarkWindow {
			t.Errorf("window = %v", w)
		}
	})

	t.Run("redis down is an error", func(t *testing.T) {
		dead := goredis.NewClient(&goredis.Options{Addr: testenv.ClosedAddr(t), MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { dead.Close() })
		marks := NewWriteMarks(dead, time.Minute)
		if err := marks.MarkWrite(ctx, 1); err == nil {
			t.Error("MarkWrite succeeded without Redis")
		}
		if _, err := marks.WroteRecently(ctx, 1); err == nil {
			t.Error("WroteRecently succeeded without Redis")
		}
	})
}
