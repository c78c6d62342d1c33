package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
)

// eventChannelPrefix namespaces EduStream's pub/sub channels on a Redis
// that others may share. Pub/sub ignores database numbers, so the prefix
// also carries the client's database: two deployments (or test runs) on
// databases of one Redis must not hear each other's events.
func eventChannelPrefix(rdb goredis.UniversalClient) string {
	db := 0
	if c, ok := rdb.(*goredis.Client); ok {
		db = c.Options().DB
	}
	return "edustream:" + strconv.Itoa(db) + ":events:"
}

// subscriberBuffer is how many events one subscriber may fall behind before
// events are dropped for it. Progress events are throttled at the source
// (a few a second per video), so a reader this far behind is stuck.
const subscriberBuffer = 32

// Events implements edustream.EventService on Redis pub/sub.
//
// Each process holds ONE pub/sub connection, pattern-subscribed to every
// EduStream channel, and fans events out to its local subscribers in
// memory. So a thousand websocket subscriptions cost one Redis connection,
// and a new local subscriber is listening the moment Subscribe returns,
// with no SUBSCRIBE round trip to wait for. The price is that every process
// receives every event; events are few (progress is throttled per video,
// the rest are state changes), so that is cheap.
//
// When the connection drops, go-redis reconnects and re-subscribes; events
// published meanwhile are lost, so every subscriber then receives an event
// with Resync set, and re-reads the database.
type Events struct {
	rdb    goredis.UniversalClient
	prefix string
	logger *slog.Logger

	startMu sync.Mutex
	pubsub  *goredis.PubSub
	done    chan struct{}

	mu     sync.Mutex
	topics map[string]map[*subscriber]struct{}
	closed bool
}

var _ edustream.EventService = (*Events)(nil)

type subscriber struct {
	ch      chan edustream.Event
	dropped atomic.Int64
}

// NewEvents returns an event service on rdb, which it shares and does not
// close. The pub/sub connection opens with the first Subscribe.
func NewEvents(rdb goredis.UniversalClient, logger *slog.Logger) *Events {
	if logger == nil {
		logger = slog.Default()
	}
	return &Events{
		rdb:    rdb,
		prefix: eventChannelPrefix(rdb),
		logger: logger.With(slog.String("component", "events")),
		done:   make(chan struct{}),
		topics: map[string]map[*subscriber]struct{}{},
	}
}

// PublishEvent publishes e on its topic's channel.
func (s *Events) PublishEvent(ctx context.Context, e edustream.Event) error {
	if e.Topic == "" {
		return errors.New("publish event: empty topic")
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish event on %s: %w", e.Topic, err)
	}
	if err := s.rdb.Publish(ctx, s.prefix+e.Topic, payload).Err(); err != nil {
		return fmt.Errorf("publish event on %s: %w", e.Topic, err)
	}
	return nil
}

// Subscribe returns the events of topic until ctx ends.
func (s *Events) Subscribe(ctx context.Context, topic string) (*edustream.Subscription, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	sub := &subscriber{ch: make(chan edustream.Event, subscriberBuffer)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("subscribe: event service is closed")
	}
	if s.topics[topic] == nil {
		s.topics[topic] = map[*subscriber]struct{}{}
	}
	s.topics[topic][sub] = struct{}{}
	s.mu.Unlock()

	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if subs, ok := s.topics[topic]; ok {
			if _, ok := subs[sub]; ok {
				delete(subs, sub)
				close(sub.ch)
			}
			if len(subs) == 0 {
				delete(s.topics, topic)
			}
		}
	})
	return &edustream.Subscription{C: sub.ch, Dropped: sub.dropped.Load}, nil
}

// start opens the process's pub/sub connection and waits for Redis to
// confirm the subscription, so that nothing published after Subscribe
// returns can be missed.
func (s *Events) start(ctx context.Context) error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.pubsub != nil {
		return nil
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errors.New("subscribe: event service is closed")
	}
	ps := s.rdb.PSubscribe(ctx, s.prefix+"*")
	// Receive once by hand: the first reply is the confirmation, or the
	// reason there is none. A failure here leaves pubsub nil, so the next
	// Subscribe tries again (Redis may have been restarting).
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg, err := ps.Receive(waitCtx)
	if err == nil {
		if _, ok := msg.(*goredis.Subscription); !ok {
			err = fmt.Errorf("unexpected first pub/sub reply %T", msg)
		}
	}
	if err != nil {
		ps.Close()
		return fmt.Errorf("subscribe to events: %w", err)
	}
	s.pubsub = ps
	go s.deliver(ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024)))
	return nil
}

// deliver fans the connection's messages out to the local subscribers
// until the connection is closed.
func (s *Events) deliver(ch <-chan any) {
	defer close(s.done)
	for msg := range ch {
		switch msg := msg.(type) {
		case *goredis.Subscription:
			// A confirmation after the first means go-redis reconnected:
			// whatever was published in between is lost.
			if msg.Kind == "psubscribe" {
				s.logger.Warn("event connection re-established; subscribers resync")
				s.broadcastResync()
			}
		case *goredis.Message:
			topic, ok := strings.CutPrefix(msg.Channel, s.prefix)
			if !ok {
				continue
			}
			var e edustream.Event
			if err := json.Unmarshal([]byte(msg.Payload), &e); err != nil {
				s.logger.Warn("undecodable event", slog.String("topic", topic), slog.String("error", err.Error()))
				continue
			}
			e.Topic = topic
			s.fanOut(topic, e)
		}
	}
}

func (s *Events) fanOut(topic string, e edustream.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.topics[topic] {
		select {
		case sub.ch <- e:
		default:
			sub.dropped.Add(1)
		}
	}
}

func (s *Events) broadcastResync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, subs := range s.topics {
		for sub := range subs {
			select {
			case sub.ch <- edustream.Event{Topic: topic, Resync: true}:
			default:
				sub.dropped.Add(1)
			}
		}
	}
}

// Close ends every subscription and closes the pub/sub connection (not the
// shared client).
func (s *Events) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for topic, subs := range s.topics {
		for sub := range subs {
			close(sub.ch)
		}
		delete(s.topics, topic)
	}
	s.mu.Unlock()
	s.startMu.Lock()
	ps := s.pubsub
	s.startMu.Unlock()
	if ps == nil {
		return nil
	}
	err := ps.Close()
	<-s.done
	return err
}
