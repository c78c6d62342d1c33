package edustreamtest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
)

// inbox collects what a subscriber was handed, without blocking.
type inbox struct {
	mu     sync.Mutex
	events []edustream.Event
}

func (b *inbox) deliver(e edustream.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
}

func (b *inbox) got() []edustream.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// subscribe subscribes a new inbox to topic for as long as ctx lives.
func subscribe(t *testing.T, ctx context.Context, events *edustreamtest.Events, topic string) *inbox {
	t.Helper()
	b := &inbox{}
	if err := events.SubscribeFunc(ctx, topic, b.deliver); err != nil {
		t.Fatal(err)
	}
	return b
}

func publish(t *testing.T, events *edustreamtest.Events, e edustream.Event) {
	t.Helper()
	if err := events.PublishEvent(context.Background(), e); err != nil {
		t.Fatalf("publish on %s: %v", e.Topic, err)
	}
}

// topicsOf lists the topics of events, with "!" for a resync.
func topicsOf(events []edustream.Event) []string {
	var out []string
	for _, e := range events {
		if e.Resync {
			out = append(out, "!"+e.Topic)
		} else {
			out = append(out, e.Topic)
		}
	}
	return out
}

func encodingEvent(lectureID, version int64) edustream.Event {
	return edustream.Event{Topic: edustream.EncodingTopic(lectureID),
		Encoding: &edustream.EncodingEvent{LectureID: lectureID, VideoID: 1, Version: version, Status: edustream.VideoProcessing}}
}

// Each subscriber gets the events of its topic in the order they were
// published, and an event with a content change reaches ContentTopic's
// subscribers as well as its own topic's.
func TestEventsDeliverInOrderToEveryTopic(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var events edustreamtest.Events
	lecture := subscribe(t, ctx, &events, edustream.EncodingTopic(7))
	content := subscribe(t, ctx, &events, edustream.ContentTopic)
	other := subscribe(t, ctx, &events, edustream.EncodingTopic(8))

	moved := encodingEvent(7, 2)
	moved.Content = &edustream.ContentChange{LectureID: 7, VideoID: 1}
	for _, e := range []edustream.Event{
		encodingEvent(7, 1),
		moved,
		{Topic: edustream.ContentTopic, Content: &edustream.ContentChange{CourseID: 3}},
		encodingEvent(7, 3),
	} {
		publish(t, &events, e)
	}
	events.Flush()

	var versions []int64
	for _, e := range lecture.got() {
		versions = append(versions, e.Encoding.Version)
	}
	if diff := cmp.Diff([]int64{1, 2, 3}, versions); diff != "" {
		t.Errorf("the lecture's subscriber got versions (-want +got):\n%s", diff)
	}
	var changes []edustream.ContentChange
	for _, e := range content.got() {
		changes = append(changes, *e.Content)
	}
	if diff := cmp.Diff([]edustream.ContentChange{{LectureID: 7, VideoID: 1}, {CourseID: 3}}, changes); diff != "" {
		t.Errorf("the content subscriber got (-want +got):\n%s", diff)
	}
	if got := content.got(); got[0].Topic != edustream.EncodingTopic(7) || got[0].Encoding == nil {
		t.Errorf("a content change riding along arrived as %+v, want the whole event on its own topic", got[0])
	}
	if got := other.got(); len(got) != 0 {
		t.Errorf("another lecture's subscriber got %v", topicsOf(got))
	}

	tests := []struct {
		topic string
		want  int
	}{
		{edustream.EncodingTopic(7), 3},
		{edustream.ContentTopic, 2},
		{edustream.EncodingTopic(8), 0},
	}
	for _, tt := range tests {
		if got := events.Count(tt.topic); got != tt.want {
			t.Errorf("Count(%s) = %d, want %d", tt.topic, got, tt.want)
		}
	}
	if got := len(events.Published()); got != 4 {
		t.Errorf("%d events published, want 4", got)
	}
}

// A subscriber hears nothing published before it subscribed or after its
// context ended.
func TestEventsSubscriptionLifetime(t *testing.T) {
	t.Parallel()
	var events edustreamtest.Events
	topic := edustream.EncodingTopic(1)
	publish(t, &events, encodingEvent(1, 1))
	ctx, cancel := context.WithCancel(t.Context())
	b := subscribe(t, ctx, &events, topic)
	publish(t, &events, encodingEvent(1, 2))
	events.Flush()
	if got := b.got(); len(got) != 1 || got[0].Encoding.Version != 2 {
		t.Fatalf("subscriber got %+v, want only version 2", got)
	}
	if n := events.Subscribers(topic); n != 1 {
		t.Errorf("Subscribers = %d, want 1", n)
	}
	cancel()
	publish(t, &events, encodingEvent(1, 3))
	events.Flush()
	if got := b.got(); len(got) != 1 {
		t.Errorf("after its context ended the subscriber got %+v", got[1:])
	}
}

// Publishing and subscribers share nothing: each gets the event as it
// was when published, decoded from its JSON as the Redis adapter does.
func TestEventsHandOutCopies(t *testing.T) {
	t.Parallel()
	var events edustreamtest.Events
	b := subscribe(t, t.Context(), &events, edustream.EncodingTopic(1))
	e := encodingEvent(1, 1)
	e.Resync = true // not part of what travels
	publish(t, &events, e)
	e.Encoding.Version = 99
	events.Flush()
	for name, got := range map[string]edustream.Event{"recorded": events.Published()[0], "delivered": b.got()[0]} {
		if got.Encoding.Version != 1 || got.Resync {
			t.Errorf("%s event = %+v %+v, want version 1 without Resync", name, got, got.Encoding)
		}
	}
}

// With a publish error set, publishing fails and nothing is recorded or
// delivered; so does a publish without a topic, or after ctx ended.
func TestEventsPublishFailures(t *testing.T) {
	t.Parallel()
	down := errors.New("redis: connection refused")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		setup func(*edustreamtest.Events)
		ctx   context.Context
		event edustream.Event
		want  error // nil: any error
	}{
		{"injected error", func(e *edustreamtest.Events) { e.SetPublishError(down) }, context.Background(), encodingEvent(1, 1), down},
		{"empty topic", func(*edustreamtest.Events) {}, context.Background(), edustream.Event{}, nil},
		{"context ended", func(*edustreamtest.Events) {}, cancelled, encodingEvent(1, 1), context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var events edustreamtest.Events
			b := subscribe(t, t.Context(), &events, edustream.EncodingTopic(1))
			tt.setup(&events)
			for name, publish := range map[string]func(context.Context, edustream.Event) error{
				"PublishEvent": events.PublishEvent, "PublishEventConfirmed": events.PublishEventConfirmed,
			} {
				err := publish(tt.ctx, tt.event)
				if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
					t.Errorf("%s = %v, want %v", name, err, tt.want)
				}
			}
			events.Flush()
			if len(events.Published()) != 0 || len(b.got()) != 0 {
				t.Errorf("a failed publish left %v and delivered %v", events.Published(), b.got())
			}
		})
	}
	t.Run("publishing again after the error is cleared", func(t *testing.T) {
		t.Parallel()
		var events edustreamtest.Events
		events.SetPublishError(down)
		events.SetPublishError(nil)
		publish(t, &events, encodingEvent(1, 1))
		if n := len(events.Published()); n != 1 {
			t.Errorf("%d events published", n)
		}
	})
}

// PublishEventConfirmed returns once the subscribers have the event.
func TestEventsPublishEventConfirmed(t *testing.T) {
	t.Parallel()
	var events edustreamtest.Events
	b := subscribe(t, t.Context(), &events, edustream.ContentTopic)
	if err := events.PublishEventConfirmed(t.Context(), edustream.Event{Topic: edustream.ContentTopic, Content: &edustream.ContentChange{CourseID: 1}}); err != nil {
		t.Fatal(err)
	}
	if got := b.got(); len(got) != 1 {
		t.Errorf("after a confirmed publish the subscriber has %d events, want 1", len(got))
	}
}

// Resync reaches every subscriber on its own topic, after what was
// published before it, and is not a published event.
func TestEventsResync(t *testing.T) {
	t.Parallel()
	var events edustreamtest.Events
	lecture := subscribe(t, t.Context(), &events, edustream.EncodingTopic(1))
	content := subscribe(t, t.Context(), &events, edustream.ContentTopic)
	publish(t, &events, encodingEvent(1, 1))
	events.Resync()
	events.Flush()
	want := map[*inbox][]string{
		lecture: {edustream.EncodingTopic(1), "!" + edustream.EncodingTopic(1)},
		content: {"!" + edustream.ContentTopic},
	}
	for b, want := range want {
		if diff := cmp.Diff(want, topicsOf(b.got())); diff != "" {
			t.Errorf("subscriber got (-want +got):\n%s", diff)
		}
	}
	if n := len(events.Published()); n != 1 {
		t.Errorf("%d events published, want 1: a resync is not one", n)
	}
}

// A subscriber's fn runs on the delivery goroutine, so it may subscribe
// or end subscriptions without deadlocking it.
func TestEventsSubscribeFromASubscriber(t *testing.T) {
	t.Parallel()
	var events edustreamtest.Events
	inner := &inbox{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	subscribed := make(chan error, 1)
	if err := events.SubscribeFunc(ctx, "outer", func(edustream.Event) {
		subscribed <- events.SubscribeFunc(t.Context(), "inner", inner.deliver)
		cancel()
	}); err != nil {
		t.Fatal(err)
	}
	publish(t, &events, edustream.Event{Topic: "outer"})
	if err := <-subscribed; err != nil {
		t.Fatal(err)
	}
	publish(t, &events, edustream.Event{Topic: "inner"})
	events.Flush()
	if got := topicsOf(inner.got()); !slices.Equal(got, []string{"inner"}) {
		t.Errorf("inner subscriber got %v", got)
	}
}

// WaitFor finds an event published already, or waits for it.
func TestEventsWaitFor(t *testing.T) {
	t.Parallel()
	var events edustreamtest.Events
	publish(t, &events, encodingEvent(1, 1))
	version := func(v int64) func(edustream.Event) bool {
		return func(e edustream.Event) bool { return e.Encoding != nil && e.Encoding.Version == v }
	}
	if got := events.WaitFor(t, version(1)); got.Encoding.Version != 1 {
		t.Errorf("WaitFor = %+v", got)
	}
	go func() {
		for v := range int64(3) {
			if err := events.PublishEvent(context.Background(), encodingEvent(1, 2+v)); err != nil {
				t.Error(err)
			}
		}
	}()
	if got := events.WaitFor(t, version(4)); got.Encoding.Version != 4 {
		t.Errorf("WaitFor = %+v", got)
	}
	if taken := events.Take(); len(taken) != 4 || len(events.Published()) != 0 {
		t.Errorf("Take = %d events, then %d left; want 4, then none", len(taken), len(events.Published()))
	}
}
