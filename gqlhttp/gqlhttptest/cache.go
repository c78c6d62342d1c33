package gqlhttptest

import (
	"context"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
)

// NewCache returns a response cache of 1 MiB that hears of the writes of
// other instances through events (nil: of its own instance's only).
func NewCache(events edustream.EventService) *gqlhttp.ResponseCache {
	return gqlhttp.NewResponseCache(gqlhttp.ResponseCacheConfig{MaxBytes: 1 << 20, Events: events})
}

// SlowDelivery is an event service that hands every event to its
// subscribers Delay late, as a busy instance would: a write must wait for
// every instance's cache to hear of it, however slow.
type SlowDelivery struct {
	edustream.EventService
	Delay time.Duration
}

// SubscribeFunc subscribes fn, called Delay after each delivery.
func (s SlowDelivery) SubscribeFunc(ctx context.Context, topic string, fn func(edustream.Event)) error {
	return s.EventService.SubscribeFunc(ctx, topic, func(e edustream.Event) {
		time.Sleep(s.Delay)
		fn(e)
	})
}
