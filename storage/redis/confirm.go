package redis

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edustream/edustream"
)

// Confirmed publishing: the publisher asks every process that receives an
// event to acknowledge it once its subscribers have had it, and counts the
// acknowledgements against the number of connections Redis says it
// delivered to. Every process with subscribers holds exactly one such
// connection (the pattern subscription), and acknowledges from its
// delivery goroutine after the fan-out, so "all acknowledged" means every
// subscriber on every process was called. Acknowledgements travel on the
// same pattern, so every process hears them all; the others ignore ids
// they are not waiting for. Processes without subscribers hold no
// connection and are not counted.

// ackTopicPrefix is the reserved topic of acknowledgements.
const ackTopicPrefix = "_ack."

// defaultConfirmWait bounds how long PublishEventConfirmed waits for a
// process that does not answer (one being restarted, or one whose event
// service predates confirmations, during the deploy that brings them).
// The write it follows is done either way; answers take milliseconds.
const defaultConfirmWait = time.Second

// wireEvent is an event as it travels: the domain's, and the id under
// which the publisher wants it acknowledged.
type wireEvent struct {
	edustream.Event
	Ack string `json:"ack,omitempty"`
}

// confirmation counts the acknowledgements of one event.
type confirmation struct {
	mu       sync.Mutex
	received int64
	want     int64 // -1 until Redis said how many connections got it
	done     chan struct{}
	closed   bool
}

func (c *confirmation) add(received, want int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received += received
	if want >= 0 {
		c.want = want
	}
	if !c.closed && c.want >= 0 && c.received >= c.want {
		c.closed = true
		close(c.done)
	}
}

// PublishEventConfirmed publishes e and waits until every process that
// received it has delivered it to its subscribers, for at most a second.
func (s *Events) PublishEventConfirmed(ctx context.Context, e edustream.Event) error {
	// This process must hear the acknowledgements, so it listens first.
	if err := s.start(ctx); err != nil {
		return fmt.Errorf("publish confirmed event on %s: %w", e.Topic, err)
	}
	id := rand.Text()
	c := &confirmation{want: -1, done: make(chan struct{})}
	s.confirmMu.Lock()
	s.confirmations[id] = c
	s.confirmMu.Unlock()
	defer func() {
		s.confirmMu.Lock()
		delete(s.confirmations, id)
		s.confirmMu.Unlock()
	}()

	n, err := s.publish(ctx, wireEvent{Event: e, Ack: id})
	if err != nil {
		return err
	}
	c.add(0, n)
	timer := time.NewTimer(s.confirmWait)
	defer timer.Stop()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish confirmed event on %s: %w", e.Topic, ctx.Err())
	case <-timer.C:
		c.mu.Lock()
		received := c.received
		c.mu.Unlock()
		return fmt.Errorf("publish confirmed event on %s: %d of %d processes confirmed within %v", e.Topic, received, n, s.confirmWait)
	}
}

// acknowledge tells the publisher of an event that this process delivered
// it.
func (s *Events) acknowledge(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.confirmWait)
	defer cancel()
	if err := s.rdb.Publish(ctx, s.prefix+ackTopicPrefix+id, "").Err(); err != nil {
		s.logger.Warn("acknowledge event", slog.String("error", err.Error()))
	}
}

// acknowledged counts an acknowledgement, if this process is waiting for
// it.
func (s *Events) acknowledged(id string) {
	s.confirmMu.Lock()
	c := s.confirmations[id]
	s.confirmMu.Unlock()
	if c != nil {
		c.add(1, -1)
	}
}
