package redis

import (
	"context"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

func TestMessageLogClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := NewMessageLog(newRedis(t))

	claim := func(t *testing.T, id string, want edustream.MessageState) {
		t.Helper()
		got, err := log.ClaimMessage(ctx, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("ClaimMessage(%s) = %v, want %v", id, got, want)
		}
	}

	claim(t, "m1", edustream.MessageClaimed)
	claim(t, "m1", edustream.MessageInFlight)
	if err := log.FinishMessage(ctx, "m1", time.Hour); err != nil {
		t.Fatal(err)
	}
	claim(t, "m1", edustream.MessageHandled)
	// A release after the finish (a late, failed duplicate) keeps the mark.
	if err := log.ReleaseMessage(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	claim(t, "m1", edustream.MessageHandled)

	claim(t, "m2", edustream.MessageClaimed)
	if err := log.ReleaseMessage(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	claim(t, "m2", edustream.MessageClaimed)
}

// Of many concurrent deliveries of one message, exactly one is handled.
func TestMessageLogOneClaimWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := newRedis(t)
	var mu sync.Mutex
	claimed := 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			// Each delivery on its own connection, as on several instances.
			c := goredis.NewClient(rdb.Options())
			defer c.Close()
			st, err := NewMessageLog(c).ClaimMessage(ctx, "same", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if st == edustream.MessageClaimed {
				mu.Lock()
				claimed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if claimed != 1 {
		t.Errorf("%d deliveries claimed the message, want 1", claimed)
	}
}

func TestMessageLogClaimExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := newRedis(t)
	log := NewMessageLog(rdb)
	if st, err := log.ClaimMessage(ctx, "crashed", 50*time.Millisecond); err != nil || st != edustream.MessageClaimed {
		t.Fatalf("ClaimMessage = %v, %v", st, err)
	}
	// The holder died without finishing or releasing: the lease ends and
	// the sender's retry is handled. Until then a retry finds the message
	// in flight, and claims nothing.
	testenv.Eventually(t, "the claim's lease to end", func() bool {
		st, err := log.ClaimMessage(ctx, "crashed", time.Minute)
		if err != nil || (st != edustream.MessageClaimed && st != edustream.MessageInFlight) {
			t.Fatalf("ClaimMessage = %v, %v; want in flight, then claimed", st, err)
		}
		return st == edustream.MessageClaimed
	})
}

func TestMessageLogSequencers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := NewMessageLog(newRedis(t))
	key := "bucket/videos/1/source"
	tests := []struct {
		record, check string
		seen          bool
	}{
		{"", "0055AED6DCD90281E5", false},
		{"0055AED6DCD90281E5", "0055AED6DCD90281E5", true},
		{"", "0055AED6DCD90281E6", false},
		{"", "0055AED6DCD90281E4", true},
		// A lower record does not lower what was seen.
		{"0055AED6DCD90281E0", "0055AED6DCD90281E5", true},
		{"0055AED6DCD90281FF", "0055AED6DCD90281F0", true},
	}
	for _, tt := range tests {
		if tt.record != "" {
			if err := log.RecordSequencer(ctx, key, tt.record, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		seen, err := log.SequencerSeen(ctx, key, tt.check)
		if err != nil {
			t.Fatal(err)
		}
		if seen != tt.seen {
			t.Errorf("after recording %q, SequencerSeen(%q) = %v, want %v", tt.record, tt.check, seen, tt.seen)
		}
	}
	if seen, err := log.SequencerSeen(ctx, "bucket/other", "00"); err != nil || seen {
		t.Errorf("another key: SequencerSeen = %v, %v; want false", seen, err)
	}
}
