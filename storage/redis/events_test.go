package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

func encodingEvent(lectureID, videoID int64, progress float64) edustream.Event {
	return edustream.Event{
		Topic: edustream.EncodingTopic(lectureID),
		Encoding: &edustream.EncodingEvent{
			LectureID: lectureID, VideoID: videoID, Status: edustream.VideoProcessing,
			Stage: edustream.StageTranscode, Progress: progress, At: time.Unix(1700000000, 0).UTC(),
		},
	}
}

// subscribe collects a topic's events in a channel, for the test to read.
func subscribe(t *testing.T, ctx context.Context, events *Events, topic string) <-chan edustream.Event {
	t.Helper()
	ch := make(chan edustream.Event, 256)
	if err := events.SubscribeFunc(ctx, topic, func(e edustream.Event) { ch <- e }); err != nil {
		t.Fatal(err)
	}
	return ch
}

// settled returns once events has delivered to its subscribers every event
// pub published before the call: it publishes a marker on a topic of its
// own and waits for it. Redis sends a connection's messages in the order
// it received the publishes, and Events delivers them in that order on one
// goroutine, so whatever was published first has been handed out.
func settled(t *testing.T, pub, events *Events) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	topic := "settled-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	marker := subscribe(t, ctx, events, topic)
	if err := pub.PublishEvent(ctx, edustream.Event{Topic: topic}); err != nil {
		t.Fatal(err)
	}
	receive(t, marker)
}

// nothing fails the test if ch holds an event.
func nothing(t *testing.T, ch <-chan edustream.Event, what string) {
	t.Helper()
	select {
	case e := <-ch:
		t.Errorf("%s: %+v", what, e)
	default:
	}
}

func receive(t *testing.T, ch <-chan edustream.Event) edustream.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(testenv.WaitLimit):
		t.Fatal("no event")
	}
	return edustream.Event{}
}

// Two processes: a worker publishes through its client, an API instance
// with its own client delivers to its subscribers of that topic only.
func TestEventsAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	worker := newRedis(t)
	api := goredis.NewClient(worker.Options())
	t.Cleanup(func() { api.Close() })

	pub := NewEvents(worker, nil)
	defer pub.Close()
	events := NewEvents(api, nil)
	defer events.Close()

	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	lecture7 := subscribe(t, subCtx, events, edustream.EncodingTopic(7))
	lecture7Again := subscribe(t, subCtx, events, edustream.EncodingTopic(7))
	lecture8 := subscribe(t, subCtx, events, edustream.EncodingTopic(8))

	// Published right after Subscribe returned: must not be missed.
	if err := pub.PublishEvent(ctx, encodingEvent(7, 70, 12.5)); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishEvent(ctx, encodingEvent(8, 80, 50)); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []<-chan edustream.Event{lecture7, lecture7Again} {
		e := receive(t, sub)
		if e.Topic != edustream.EncodingTopic(7) || e.Encoding == nil || e.Encoding.VideoID != 70 || e.Encoding.Progress != 12.5 ||
			!e.Encoding.At.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("lecture 7 got %+v %+v", e, e.Encoding)
		}
	}
	if e := receive(t, lecture8); e.Encoding == nil || e.Encoding.VideoID != 80 {
		t.Errorf("lecture 8 got %+v", e)
	}
	settled(t, pub, events)
	nothing(t, lecture8, "lecture 8 got lecture 7's event too")

	// One pub/sub connection per process, whatever the subscriber count.
	if n, ok := pubsubConnections(t, worker); ok && n != 1 {
		t.Errorf("pub/sub connections = %d, want 1 (the API process's only)", n)
	}

	cancel()
	testenv.Eventually(t, "every subscription to end with its context", func() bool {
		events.mu.Lock()
		defer events.mu.Unlock()
		return len(events.topics) == 0
	})
	if err := pub.PublishEvent(ctx, encodingEvent(7, 70, 99)); err != nil {
		t.Fatal(err)
	}
	settled(t, pub, events)
	nothing(t, lecture7, "event after the subscription's context ended")
}

// pubsubConnections counts the pattern-subscribed connections on this
// test's database, on a Redis that can list its clients (miniredis cannot).
func pubsubConnections(t *testing.T, rdb *goredis.Client) (n int, ok bool) {
	t.Helper()
	ids, err := pubsubClientIDs(context.Background(), rdb)
	if err != nil {
		if testenv.Required("redis") {
			t.Fatal(err)
		}
		return 0, false
	}
	return len(ids), true
}

// pubsubClientIDs returns the ids of the pattern-subscribed connections
// on rdb's database.
func pubsubClientIDs(ctx context.Context, rdb *goredis.Client) ([]string, error) {
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		return nil, err
	}
	var ids []string
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["psub"] == "1" && fields["db"] == strconv.Itoa(rdb.Options().DB) {
			ids = append(ids, fields["id"])
		}
	}
	return ids, nil
}

// When the pub/sub connection drops, subscribers are told to resync, and
// events flow again afterwards.
func TestEventsResyncAfterReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := newRedis(t)
	events := NewEvents(rdb, nil)
	defer events.Close()
	sub := subscribe(t, ctx, events, "t")
	// Only this test's connection: others' (parallel tests, other
	// packages) share the server.
	ids, err := pubsubClientIDs(ctx, rdb)
	if err != nil {
		if testenv.Required("redis") {
			t.Fatal(err)
		}
		t.Skipf("this Redis cannot list clients (%v); runs against a real Redis", err)
	}
	if len(ids) != 1 {
		t.Fatalf("%d pub/sub connections on this test's database, want 1", len(ids))
	}
	if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if e := receive(t, sub); !e.Resync || e.Topic != "t" {
		t.Fatalf("after the connection dropped got %+v, want a resync", e)
	}
	testenv.Eventually(t, "an event after the reconnect", func() bool {
		if err := events.PublishEvent(ctx, edustream.Event{Topic: "t", QueueMoved: &struct{}{}}); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-sub:
			return e.QueueMoved != nil
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

func TestEventsUnreachableRedis(t *testing.T) {
	t.Parallel()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.ClosedAddr(t), DialTimeout: time.Second})
	defer rdb.Close()
	events := NewEvents(rdb, nil)
	defer events.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitLimit)
	defer cancel()
	if err := events.SubscribeFunc(ctx, "t", func(edustream.Event) {}); err == nil {
		t.Fatal("SubscribeFunc succeeded without a Redis")
	}
	if err := events.PublishEvent(ctx, edustream.Event{Topic: "t"}); err == nil {
		t.Fatal("PublishEvent succeeded without a Redis")
	}
}

// SubscribeFunc delivers in order on the service's goroutine, and stops
// when its context ends.
func TestEventsSubscribeFunc(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	events := NewEvents(newRedis(t), nil)
	defer events.Close()
	subCtx, cancel := context.WithCancel(ctx)
	got := make(chan float64, 100)
	if err := events.SubscribeFunc(subCtx, "f", func(e edustream.Event) { got <- e.Encoding.Progress }); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := events.PublishEvent(ctx, edustream.Event{Topic: "f", Encoding: &edustream.EncodingEvent{Progress: float64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		select {
		case p := <-got:
			if p != float64(i) {
				t.Fatalf("event %d has progress %v: out of order", i, p)
			}
		case <-time.After(testenv.WaitLimit):
			t.Fatalf("event %d never came", i)
		}
	}
	cancel()
	testenv.Eventually(t, "the subscription to end", func() bool {
		events.mu.Lock()
		defer events.mu.Unlock()
		return len(events.topics) == 0
	})
	if err := events.PublishEvent(ctx, edustream.Event{Topic: "f", Encoding: &edustream.EncodingEvent{Progress: 99}}); err != nil {
		t.Fatal(err)
	}
	settled(t, events, events)
	select {
	case p := <-got:
		t.Errorf("event %v after the subscription ended", p)
	default:
	}
}
