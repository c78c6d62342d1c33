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

// Events implements edustream.EventService on Redis pub/sub.
//
// Each process holds ONE pub/sub connection, pattern-subscribed to every
// EduStream channel, and fans events out to its local subscribers in
// memory. So a thousand websocket subscriptions cost one Redis connection,
// and a new local subscriber is listening the moment SubscribeFunc returns,
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

	// confirmations are the PublishEventConfirmed calls waiting for their
	// acknowledgements, by id.
	confirmMu     sync.Mutex
	confirmations map[string]*confirmation
	confirmWait   time.Duration
}

var (
	_ edustream.EventService       = (*Events)(nil)
	_ edustream.ConfirmedPublisher = (*Events)(nil)
)

// subscriber is one SubscribeFunc; the pointer is its identity in topics.
type subscriber struct {
	// deliver is called on the delivery goroutine, in order; it must not
	// block.
	deliver func(edustream.Event)
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

		confirmations: map[string]*confirmation{},
		confirmWait:   defaultConfirmWait,
	}
}

// PublishEvent publishes e on its topic's channel.
func (s *Events) PublishEvent(ctx context.Context, e edustream.Event) error {
	_, err := s.publish(ctx, wireEvent{Event: e})
	return err
}

// publish sends w and returns how many connections received it.
func (s *Events) publish(ctx context.Context, w wireEvent) (int64, error) {
	if w.Topic == "" {
		return 0, errors.New("publish event: empty topic")
	}
	if strings.HasPrefix(w.Topic, ackTopicPrefix) {
		return 0, fmt.Errorf("publish event: topic %s is reserved", w.Topic)
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return 0, fmt.Errorf("publish event on %s: %w", w.Topic, err)
	}
	n, err := s.rdb.Publish(ctx, s.prefix+w.Topic, payload).Result()
	if err != nil {
		return 0, fmt.Errorf("publish event on %s: %w", w.Topic, err)
	}
	return n, nil
}

// SubscribeFunc calls fn with the events of topic until ctx ends.
func (s *Events) SubscribeFunc(ctx context.Context, topic string, fn func(edustream.Event)) error {
	sub := &subscriber{deliver: fn}
	if err := s.start(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("subscribe: event service is closed")
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
			delete(subs, sub)
			if len(subs) == 0 {
				delete(s.topics, topic)
			}
		}
	})
	return nil
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
			if id, ok := strings.CutPrefix(topic, ackTopicPrefix); ok {
				s.acknowledged(id)
				continue
			}
			var w wireEvent
			if err := json.Unmarshal([]byte(msg.Payload), &w); err != nil {
				s.logger.Warn("undecodable event", slog.String("topic", topic), slog.String("error", err.Error()))
				continue
			}
			w.Topic = topic
			for _, t := range w.Event.Topics() {
				s.fanOut(t, w.Event)
			}
			if w.Ack != "" {
				// Off the delivery goroutine: a round trip to Redis
				// would hold up every other event.
				go s.acknowledge(w.Ack)
			}
		}
	}
}

// fanOut hands e to the topic's subscribers. The list is copied first, so
// a subscriber's callback may subscribe or end subscriptions without
// deadlocking.
func (s *Events) fanOut(topic string, e edustream.Event) {
	s.mu.Lock()
	subs := make([]*subscriber, 0, len(s.topics[topic]))
	for sub := range s.topics[topic] {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.deliver(e)
	}
}

func (s *Events) broadcastResync() {
	s.mu.Lock()
	var topics []string
	for topic := range s.topics {
		topics = append(topics, topic)
	}
	s.mu.Unlock()
	for _, topic := range topics {
		s.fanOut(topic, edustream.Event{Topic: topic, Resync: true})
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
	clear(s.topics)
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
