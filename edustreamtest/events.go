package edustreamtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// waitLimit bounds WaitFor, as testenv.WaitLimit bounds the other waits
// of the tests, so a broken test fails instead of hanging.
const waitLimit = 30 * time.Second

// Events is an edustream.EventService and edustream.ConfirmedPublisher in
// memory. It records every event published, and delivers it the way the
// Redis adapter (storage/redis) does: on one delivery goroutine, in the
// order of publishing, to the subscribers of every topic in Event.Topics
// (an event carrying a content change reaches ContentTopic's subscribers
// too) who subscribed before it was published, until their context ends.
// Like the adapter, it hands subscribers a copy of the event decoded from
// its JSON, shared by the subscribers of one publish, so a field that does
// not survive the wire does not survive here either.
//
// The zero value is ready to use.
type Events struct {
	mu         sync.Mutex
	published  []edustream.Event
	publishErr error
	topics     map[string]map[*subscription]struct{}
	// changed is closed, and replaced, whenever an event is recorded.
	changed chan struct{}

	// queue is what the delivery goroutine has still to hand out; pumping
	// says that goroutine runs. It runs only while there is something to
	// deliver, so an Events needs no closing.
	queue   []delivery
	pumping bool
}

var (
	_ edustream.EventService       = (*Events)(nil)
	_ edustream.ConfirmedPublisher = (*Events)(nil)
)

// subscription is one SubscribeFunc; the pointer is its identity.
type subscription struct {
	ctx context.Context
	fn  func(edustream.Event)
}

// delivery is one call of a subscriber's fn, or, without a subscription,
// a marker that closes done once everything queued before it is
// delivered.
type delivery struct {
	sub   *subscription
	event edustream.Event
	done  chan struct{}
}

// PublishEvent records e and queues it for the subscribers of its topics.
// It fails, and neither records nor delivers anything, for an empty topic,
// an event that does not encode, a context that has ended, or while
// SetPublishError holds an error.
func (s *Events) PublishEvent(ctx context.Context, e edustream.Event) error {
	if e.Topic == "" {
		return errors.New("publish event: empty topic")
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish event on %s: %w", e.Topic, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish event on %s: %w", e.Topic, err)
	}
	var recorded, delivered edustream.Event
	if err := errors.Join(json.Unmarshal(payload, &recorded), json.Unmarshal(payload, &delivered)); err != nil {
		return fmt.Errorf("publish event on %s: %w", e.Topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publishErr != nil {
		return s.publishErr
	}
	s.published = append(s.published, recorded)
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	for _, topic := range e.Topics() {
		for _, sub := range s.subscribers(topic) {
			s.enqueue(delivery{sub: sub, event: delivered})
		}
	}
	return nil
}

// PublishEventConfirmed publishes e like PublishEvent and returns once
// every subscriber it was queued for has been handed it, or ctx ended.
func (s *Events) PublishEventConfirmed(ctx context.Context, e edustream.Event) error {
	if err := s.PublishEvent(ctx, e); err != nil {
		return err
	}
	if err := s.wait(ctx); err != nil {
		return fmt.Errorf("publish confirmed event on %s: %w", e.Topic, err)
	}
	return nil
}

// SubscribeFunc calls fn with the events published to topic from the
// moment it returns until ctx ends, in order, on the delivery goroutine:
// fn must not block.
func (s *Events) SubscribeFunc(ctx context.Context, topic string, fn func(edustream.Event)) error {
	sub := &subscription{ctx: ctx, fn: fn}
	s.mu.Lock()
	if s.topics == nil {
		s.topics = map[string]map[*subscription]struct{}{}
	}
	if s.topics[topic] == nil {
		s.topics[topic] = map[*subscription]struct{}{}
	}
	s.topics[topic][sub] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.topics[topic], sub)
		if len(s.topics[topic]) == 0 {
			delete(s.topics, topic)
		}
	})
	return nil
}

// subscribers returns the live subscriptions of topic. Callers hold mu.
func (s *Events) subscribers(topic string) []*subscription {
	subs := make([]*subscription, 0, len(s.topics[topic]))
	for sub := range s.topics[topic] {
		subs = append(subs, sub)
	}
	return subs
}

// enqueue queues d and starts the delivery goroutine if it is not
// running. Callers hold mu.
func (s *Events) enqueue(d delivery) {
	s.queue = append(s.queue, d)
	if !s.pumping {
		s.pumping = true
		go s.pump()
	}
}

// pump delivers the queue in order, and ends when it is empty.
func (s *Events) pump() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.pumping = false
			s.mu.Unlock()
			return
		}
		d := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		switch {
		case d.sub == nil:
			close(d.done)
		case d.sub.ctx.Err() == nil:
			d.sub.fn(d.event)
		}
	}
}

// wait returns once everything queued so far has been delivered, or ctx
// ended.
func (s *Events) wait(ctx context.Context) error {
	done := make(chan struct{})
	s.mu.Lock()
	s.enqueue(delivery{done: done})
	s.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush returns once every event published so far has been handed to its
// subscribers: after it, a subscriber that did not get an event never
// will. It must not be called from a subscriber's fn, which runs on the
// delivery goroutine Flush waits for.
func (s *Events) Flush() {
	_ = s.wait(context.Background())
}

// Resync sends an event with Resync set to every subscriber, on its
// topic, as the Redis adapter does when its connection came back and
// events may have been lost. It is not recorded as published.
func (s *Events) Resync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	topics := make([]string, 0, len(s.topics))
	for topic := range s.topics {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	for _, topic := range topics {
		for _, sub := range s.subscribers(topic) {
			s.enqueue(delivery{sub: sub, event: edustream.Event{Topic: topic, Resync: true}})
		}
	}
}

// SetPublishError makes every publish fail with err from now on (nil:
// succeed again), as when Redis is unreachable.
func (s *Events) SetPublishError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishErr = err
}

// Published returns the events published so far (and not taken), in
// order.
func (s *Events) Published() []edustream.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.published)
}

// Take returns the events published so far, like Published, and forgets
// them, so the next call returns only what came after.
func (s *Events) Take() []edustream.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.published
	s.published = nil
	return out
}

// Count returns how many of the events published so far (and not taken)
// reach topic's subscribers: those published on it, and for ContentTopic
// those that carry a content change (see Event.Topics).
func (s *Events) Count(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.published {
		if slices.Contains(e.Topics(), topic) {
			n++
		}
	}
	return n
}

// Subscribers returns how many subscriptions of topic are live: a test
// that publishes to a subscriber running on a goroutine of its own waits
// for it to be there first.
func (s *Events) Subscribers(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.topics[topic])
}

// WaitFor returns the first event published (and not taken) that match
// accepts, waiting for one to come if there is none yet. It fails the
// test if none comes within 30 seconds.
func (s *Events) WaitFor(t testing.TB, match func(edustream.Event) bool) edustream.Event {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		for _, e := range s.published {
			if match(e) {
				s.mu.Unlock()
				return e
			}
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("no matching event published within %v; published: %+v", waitLimit, s.Published())
		}
	}
}
