package jobs_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/storage/redis"
)

// useRedis points the chain at rdb: its queue, its events and the
// lifecycle and uploads that use them.
func (c *chain) useRedis(t testing.TB, rdb *goredis.Client) {
	t.Helper()
	c.rdb = rdb
	c.events = redis.NewEvents(rdb, c.logger)
	t.Cleanup(func() { c.events.Close() })
	c.queue = jobs.NewQueue(rdb)
	life := *c.life
	life.Jobs, life.Events = c.queue, c.events
	c.life = &life
	uploads := *c.uploads
	uploads.Life = c.life
	c.uploads = &uploads
}

// The Redis primary dies in the middle of a video's chain: the sentinels
// promote the replica, the worker's client follows them, the chain
// finishes on the promoted primary with every output, nothing is left in
// the queues, and a subscriber is told to resync and then sees READY.
func TestChainSurvivesRedisFailover(t *testing.T) {
	rs := testenv.StartRedisSentinel(t)
	c := setupChain(t)
	client, err := redis.NewClient(redis.ClientConfig{URL: rs.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c.useRedis(t, client.Client)

	events := c.record(t)
	var mu sync.Mutex
	var resyncs []time.Time
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.events.SubscribeFunc(ctx, edustream.EncodingTopic(c.lecture.ID), func(e edustream.Event) {
		if e.Resync {
			mu.Lock()
			resyncs = append(resyncs, time.Now())
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	// The interval is long: a round after the failover is the trigger's.
	w := c.newWorker(workerOptions{reconcile: time.Hour})
	w.TestSignals.Init()
	runUntilStopped(t, w)
	if r := w.TestSignals.ReconcileRound.WaitOrTimeout(t); r.Trigger != "start" {
		t.Fatalf("first round %+v, want the start's", r)
	}

	src := testenv.MakeClip(t, testenv.Clip{Width: 1280, Height: 720, Seconds: 8, Audio: true})
	v := c.upload(t, src)
	testenv.Eventually(t, "the transcode to be under way", func() bool {
		return slices.ContainsFunc(events(), func(e edustream.EncodingEvent) bool {
			return e.VideoID == v.ID && e.Stage == edustream.StageTranscode && e.Progress > 0
		})
	})
	killed := rs.KillPrimary()
	killedAt := time.Now()
	promoted := rs.WaitFailover()
	t.Logf("primary %s killed mid-transcode; %s promoted after %v", killed, promoted, time.Since(killedAt).Round(10*time.Millisecond))

	if r := w.TestSignals.ReconcileRound.WaitOrTimeout(t); r.Trigger != "redis returned" {
		t.Errorf("round after the failover %+v, want one because Redis returned", r)
	}
	v = c.waitDone(t, v.ID)
	t.Logf("READY %v after the kill", time.Since(killedAt).Round(10*time.Millisecond))
	if v.Status != edustream.VideoReady {
		t.Fatalf("video = %s at %s (%s), want READY", v.Status, v.Stage, v.Error)
	}
	keys := c.keys(t, edustream.VideoPrefix(v.ID))
	for _, want := range []string{v.MasterPlaylistKey(), v.HLSPrefix() + "720p/index.m3u8", v.PosterKey(), v.MetadataKey()} {
		if !slices.Contains(keys, want) {
			t.Errorf("no %s among %v", want, keys)
		}
	}

	// The subscriber was told to resync after the kill, and heard READY
	// from the promoted primary.
	mu.Lock()
	resynced := len(resyncs) > 0 && resyncs[0].After(killedAt)
	mu.Unlock()
	if !resynced {
		t.Error("the subscriber was not told to resync after the failover")
	}
	testenv.Eventually(t, "the subscriber to hear READY", func() bool {
		evs := events()
		return len(evs) > 0 && evs[len(evs)-1].Status == edustream.VideoReady
	})

	// Nothing is left in the queues of the promoted primary.
	ins := asynq.NewInspectorFromRedisClient(client.Client)
	testenv.Eventually(t, "the queues to be empty", func() bool {
		for _, q := range []string{jobs.QueueDefault, jobs.QueueVideo} {
			info, err := ins.GetQueueInfo(q)
			if err != nil {
				return false
			}
			if info.Pending+info.Active+info.Scheduled+info.Retry+info.Archived != 0 {
				return false
			}
		}
		return true
	})
}
