package testsignal

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// recordingTB stands in for a test whose failure is the thing under test.
type recordingTB struct{ failures []string }

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func TestSignalIsOffUntilInit(t *testing.T) {
	t.Parallel()
	var s Signal[int]
	s.Signal(1) // no test listens: dropped, and it must not block
	var tb recordingTB
	if v := s.WaitOrTimeout(&tb); v != 0 || len(tb.failures) != 1 || !strings.Contains(tb.failures[0], "without Init") {
		t.Errorf("WaitOrTimeout before Init = %d with failures %q, want 0 and one failure naming Init", v, tb.failures)
	}
	if got := s.Drain(&tb); got != nil || len(tb.failures) != 2 {
		t.Errorf("Drain before Init = %v with failures %q, want nil and a second failure", got, tb.failures)
	}

	s.Init()
	s.Signal(2)
	if v := s.WaitOrTimeout(t); v != 2 {
		t.Errorf("after Init got %d, want 2: the value sent before Init must not be kept", v)
	}
}

func TestSignalKeepsValuesInOrder(t *testing.T) {
	t.Parallel()
	var s Signal[int]
	s.Init()
	for i := range 100 {
		s.Signal(i)
	}
	for i := range 50 {
		if v := s.WaitOrTimeout(t); v != i {
			t.Fatalf("wait %d got %d", i, v)
		}
	}
	if got := s.Drain(t); !slices.Equal(got, seq(50, 100)) {
		t.Errorf("Drain = %v, want 50..99", got)
	}
	if got := s.Drain(t); len(got) != 0 {
		t.Errorf("a second Drain = %v, want nothing", got)
	}
	s.Signal(7)
	if v := s.WaitOrTimeout(t); v != 7 {
		t.Errorf("after Drain got %d, want the value sent after it", v)
	}
}

// A wait that starts before the value is sent wakes when it comes, and
// senders on many goroutines lose nothing.
func TestSignalWakesWaiters(t *testing.T) {
	t.Parallel()
	var s Signal[int]
	s.Init()
	const senders, each = 8, 50
	for g := range senders {
		go func() {
			for i := range each {
				s.Signal(g*each + i)
			}
		}()
	}
	seen := make([]bool, senders*each)
	for range senders * each {
		v := s.WaitOrTimeout(t)
		if seen[v] {
			t.Fatalf("%d received twice", v)
		}
		seen[v] = true
	}
}

func TestInitAgainDropsWhatWasKept(t *testing.T) {
	t.Parallel()
	var s Signal[string]
	s.Init()
	s.Signal("old")
	s.Init()
	s.Signal("new")
	if v := s.WaitOrTimeout(t); v != "new" {
		t.Errorf("got %q, want new", v)
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
