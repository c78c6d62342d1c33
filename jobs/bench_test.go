package jobs

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/edustream/edustream/internal/testenv"
)

// BenchmarkChainHop measures what the chain pays between two steps on an
// idle queue: from the moment one step enqueues the next (the last thing a
// step does) to the moment the next step's handler starts, through a real
// worker with the default poll interval. Each op is one hop; the p50 and
// p90 are reported as metrics. Target: p90 ≤ 100 ms.
func BenchmarkChainHop(b *testing.B) {
	opt := redisOpt(b)
	cfg := WorkerConfig{ReconcileInterval: -1, ShutdownTimeout: time.Second}
	logger, _ := newTestLogger()
	w := NewWorker(clientOf(b, opt), cfg, Deps{Courses: &fakeCourses{}, Logger: logger})

	var mu sync.Mutex
	var hops []time.Duration
	started := make(chan struct{}, 1)
	w.mux.HandleFunc("bench:hop", func(ctx context.Context, t *asynq.Task) error {
		at := time.Now()
		var enqueued time.Time
		if err := json.Unmarshal(t.Payload(), &enqueued); err != nil {
			return err
		}
		mu.Lock()
		hops = append(hops, at.Sub(enqueued))
		mu.Unlock()
		started <- struct{}{}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	client := asynq.NewClientFromRedisClient(clientOf(b, opt))

	// Let the worker reach its idle poll loop before measuring.
	time.Sleep(200 * time.Millisecond)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Idle between hops, as a real step would be busy: the hop then
		// starts from a sleeping poll loop, the worst case.
		time.Sleep(time.Duration(i%7) * 10 * time.Millisecond)
		payload, _ := json.Marshal(time.Now())
		if _, err := client.Enqueue(asynq.NewTask("bench:hop", payload), asynq.Queue(QueueVideo)); err != nil {
			b.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(testenv.WaitLimit):
			b.Fatal("the hop never started")
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(hops)
	b.ReportMetric(float64(hops[len(hops)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(hops[len(hops)*9/10].Microseconds())/1000, "p90-ms")
	b.ReportMetric(0, "ns/op")
}
