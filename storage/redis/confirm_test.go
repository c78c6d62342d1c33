package redis

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// Three processes on one Redis: two subscribers and a publisher that
// subscribes to nothing. PublishEventConfirmed returns only after both
// subscribers' callbacks ran, so a write followed by it is visible to a
// read on any process.
func TestPublishEventConfirmed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := newRedis(t)
	process := func() *Events {
		client := goredis.NewClient(rdb.Options())
		t.Cleanup(func() { client.Close() })
		e := NewEvents(client, nil)
		t.Cleanup(func() { e.Close() })
		return e
	}
	a, b, writer := process(), process(), process()
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seenA, seenB atomic.Int64
	for _, s := range []struct {
		events *Events
		seen   *atomic.Int64
	}{{a, &seenA}, {b, &seenB}} {
		err := s.events.SubscribeFunc(subCtx, edustream.ContentTopic, func(e edustream.Event) {
			// A slow subscriber: confirmation must wait for it.
			time.Sleep(20 * time.Millisecond)
			if e.Content != nil && e.Content.CourseID == 7 {
				s.seen.Add(1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := writer.PublishEventConfirmed(ctx, edustream.Event{Topic: edustream.ContentTopic, Content: &edustream.ContentChange{CourseID: 7}}); err != nil {
			t.Fatal(err)
		}
		if got := []int64{seenA.Load(), seenB.Load()}; got[0] != int64(i+1) || got[1] != int64(i+1) {
			t.Fatalf("after confirmation %d the subscribers had seen %v events", i+1, got)
		}
	}

	t.Run("a process that does not answer", func(t *testing.T) {
		// A bare pattern subscription, as a process predating
		// confirmations holds: it receives the event and never answers.
		mute := goredis.NewClient(rdb.Options()).PSubscribe(ctx, eventChannelPrefix(rdb)+"*")
		t.Cleanup(func() { mute.Close() })
		if _, err := mute.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		writer.confirmWait = 200 * time.Millisecond
		start := time.Now()
		err := writer.PublishEventConfirmed(ctx, edustream.Event{Topic: edustream.ContentTopic, Content: &edustream.ContentChange{CourseID: 7}})
		if err == nil || !strings.Contains(err.Error(), "3 of 4 processes confirmed") {
			t.Errorf("error %v, want 3 of 4 confirmed", err)
		}
		if waited := time.Since(start); waited > 2*time.Second {
			t.Errorf("waited %v for the silent process", waited)
		}
		if seenA.Load() != 4 || seenB.Load() != 4 {
			t.Errorf("the event did not reach the subscribers: %d, %d", seenA.Load(), seenB.Load())
		}
	})

	t.Run("reserved topics", func(t *testing.T) {
		if err := writer.PublishEvent(ctx, edustream.Event{Topic: ackTopicPrefix + "x"}); err == nil {
			t.Error("published on the acknowledgement topic")
		}
	})
}
