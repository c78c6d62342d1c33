package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edustream/edustream/internal/testenv"
)

// Each attempt is measured with the outcome asynq then acts on, as a real
// asynq server runs the tasks: done, retried, or failed for good (a retry
// refused, or the last retry spent).
func TestTaskOutcomes(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	rdb := clientOf(t, opt)
	m := NewMetrics(prometheus.NewRegistry())
	const queue = "metrics-test"
	var flaky atomic.Int32
	mux := asynq.NewServeMux()
	mux.Use(measureTasks(m))
	mux.HandleFunc("test:flaky", func(context.Context, *asynq.Task) error {
		if flaky.Add(1) == 1 {
			return errors.New("database down")
		}
		return nil
	})
	mux.HandleFunc("test:refused", func(context.Context, *asynq.Task) error {
		return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
	})
	mux.HandleFunc("test:spent", func(context.Context, *asynq.Task) error { return errors.New("database down") })
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              1,
		Queues:                   map[string]int{queue: 1},
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 0 },
		TaskCheckInterval:        20 * time.Millisecond,
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		LogLevel:                 asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	client := asynq.NewClientFromRedisClient(rdb)
	for typ, retries := range map[string]int{"test:flaky": 1, "test:refused": 5, "test:spent": 0} {
		if _, err := client.Enqueue(asynq.NewTask(typ, nil), asynq.Queue(queue), asynq.MaxRetry(retries)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[[2]string]int{
		{"test:flaky", outcomeRetry}:    1,
		{"test:flaky", outcomeOK}:       1,
		{"test:refused", outcomeFailed}: 1,
		{"test:spent", outcomeFailed}:   1,
	}
	measured := func(typ, outcome string) uint64 {
		return sampleCount(t, m.tasks.WithLabelValues(typ, outcome).(prometheus.Histogram))
	}
	testenv.Eventually(t, "every attempt to be measured", func() bool {
		var n uint64
		for k := range want {
			n += measured(k[0], k[1])
		}
		return n == 4
	})
	for k, n := range want {
		if got := measured(k[0], k[1]); got != uint64(n) {
			t.Errorf("%s measured %d times as %s, want %d", k[0], got, k[1], n)
		}
	}
}

func sampleCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	h.Collect(ch)
	var pb dto.Metric
	if err := (<-ch).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount()
}

// A task type no handler knows is named by whoever enqueued it: past
// maxTaskTypes distinct types, the rest are "other".
func TestTaskTypesAreBounded(t *testing.T) {
	t.Parallel()
	m := NewMetrics(prometheus.NewRegistry())
	h := measureTasks(m)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
	for i := range 2 * maxTaskTypes {
		h.ProcessTask(context.Background(), asynq.NewTask(fmt.Sprintf("junk:%d", i), nil))
	}
	h.ProcessTask(context.Background(), asynq.NewTask(TypeVideoProbe, nil))
	types := map[string]bool{}
	for _, m := range gather(t, m.tasks) {
		for _, l := range m.GetLabel() {
			if l.GetName() == "type" {
				types[l.GetValue()] = true
			}
		}
	}
	// The types EduStream knows are never crowded out.
	if len(types) != maxTaskTypes+1 || !types["other"] || !types[TypeVideoProbe] || !types[TypeLiveMeetingSync] {
		t.Errorf("%d type labels, want %d and other, the known ones among them", len(types), maxTaskTypes)
	}
	if got := sampleCount(t, m.tasks.WithLabelValues(TypeVideoProbe, outcomeOK).(prometheus.Histogram)); got != 1 {
		t.Errorf("%s = %d, want 1", TypeVideoProbe, got)
	}
}

// gather returns the series of c.
func gather(t *testing.T, c prometheus.Collector) []*dto.Metric {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, f := range families {
		out = append(out, f.GetMetric()...)
	}
	return out
}
