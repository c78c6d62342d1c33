// Package testsignal lets a component tell a test that something happened
// ("a reconciler round finished", "a subscriber is subscribed"), so a test
// that proves something did not happen waits for the moment it had its
// chance instead of sleeping and hoping. It is modelled on river's
// rivershared/testsignal.
//
// A component holds a Signal per moment and calls Signal at that moment;
// until a test calls Init, that is a no-op costing one atomic load, so the
// hooks stay in production code. The package imports neither testing nor
// anything else a binary would not want to link.
package testsignal

import (
	"sync"
	"sync/atomic"
	"time"
)

// WaitLimit bounds every wait for a signal, so a broken test fails instead
// of hanging (testenv.WaitLimit is the same figure).
const WaitLimit = 30 * time.Second

// TB is the part of testing.TB a wait needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Signal is one moment a component reports, with a value saying what
// happened. Its zero value is ready and off. A Signal must not be copied
// after first use.
type Signal[T any] struct {
	q atomic.Pointer[queue[T]]
}

// queue holds the values sent and not yet waited for. It is unbounded: a
// component must never block or fail because a test reads slowly, and a
// periodic signal (a reconciler round every few milliseconds) may pile up
// while a test waits for something else.
type queue[T any] struct {
	mu     sync.Mutex
	values []T
	// ready has a token while values is not empty.
	ready chan struct{}
}

// Init turns the signal on: from now on every value sent is kept until a
// wait takes it. Call it before the component can send (before it starts),
// so nothing is missed. Calling it again drops what was kept.
func (s *Signal[T]) Init() {
	s.q.Store(&queue[T]{ready: make(chan struct{}, 1)})
}

// Signal reports v to a test that called Init, and does nothing otherwise.
// It never blocks.
func (s *Signal[T]) Signal(v T) {
	q := s.q.Load()
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.values = append(q.values, v)
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// WaitOrTimeout returns the oldest value not yet waited for, waiting for
// one to be sent if there is none, and fails the test after WaitLimit.
func (s *Signal[T]) WaitOrTimeout(tb TB) T {
	tb.Helper()
	q := s.q.Load()
	if q == nil {
		notStarted[T](tb)
		var zero T
		return zero
	}
	timeout := time.NewTimer(WaitLimit)
	defer timeout.Stop()
	for {
		if v, ok := q.take(); ok {
			return v
		}
		select {
		case <-q.ready:
		case <-timeout.C:
			var zero T
			tb.Fatalf("testsignal: no %T signal within %v", zero, WaitLimit)
			return zero
		}
	}
}

// Drain drops the values sent so far and returns them, oldest first. A
// test calls it to wait, afterwards, only for what happens from now on.
func (s *Signal[T]) Drain(tb TB) []T {
	tb.Helper()
	q := s.q.Load()
	if q == nil {
		notStarted[T](tb)
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.values
	q.values = nil
	return out
}

func notStarted[T any](tb TB) {
	tb.Helper()
	var zero T
	tb.Fatalf("testsignal: a %T signal was waited for without Init (call it before the component starts)", zero)
}

func (q *queue[T]) take() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.values) == 0 {
		var zero T
		return zero, false
	}
	v := q.values[0]
	q.values = q.values[1:]
	if len(q.values) > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return v, true
}
