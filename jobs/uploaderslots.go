package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fairness between uploaders. asynq runs tasks in their queue's order,
// whoever they are for, so one instructor uploading twenty lectures would
// take every worker's ffmpeg slots and everyone else's videos would wait
// behind all twenty. A step of the video queues therefore takes one of
// its uploader's slots first, counted across the fleet in Redis; when the
// uploader holds every slot allowed (WorkerConfig.VideoConcurrencyPerUploader),
// the step is put back in its queue (errUploaderBusy, not counted as a
// failure) and the worker takes another uploader's video meanwhile.

// DefaultVideoConcurrencyPerUploader is how many ffmpeg steps of one
// uploader's videos run at once across the fleet by default.
const DefaultVideoConcurrencyPerUploader = 2

// errUploaderBusy puts back a step whose uploader holds every slot
// allowed: asynq retries it after uploaderBusyDelay without counting a
// failure (Worker.Run's IsFailure).
var errUploaderBusy = errors.New("the uploader's other videos hold every ffmpeg slot one uploader may have; the step waits for one of them to finish")

// uploaderBusyDelay is how long a step put back waits before it is tried
// again (plus up to the worker's RetryCheckInterval).
const uploaderBusyDelay = time.Second

// uploaderSlotLease is how long a slot is held without being renewed: a
// worker that dies holding slots loses them after this.
const uploaderSlotLease = 30 * time.Second

// uploaderSlots counts the running steps of each uploader's videos. A slot
// is a member of the uploader's sorted set in Redis, scored with the time
// its lease ends (milliseconds); expired members are dropped before each
// count.
type uploaderSlots struct {
	rdb   redis.UniversalClient
	limit int
	lease time.Duration
}

// takeSlot adds ARGV[3] to KEYS[1] with the score ARGV[2] if it is there
// already or fewer than ARGV[4] unexpired members are, and returns 1;
// otherwise 0. ARGV[1] is now.
var takeSlot = redis.NewScript(`
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[1])
if redis.call("ZSCORE", KEYS[1], ARGV[3]) or redis.call("ZCARD", KEYS[1]) < tonumber(ARGV[4]) then
  redis.call("ZADD", KEYS[1], ARGV[2], ARGV[3])
  redis.call("PEXPIRE", KEYS[1], ARGV[5])
  return 1
end
return 0`)

func uploaderSlotKey(uploaderID int64) string {
	return "edustream:uploader-slots:" + strconv.FormatInt(uploaderID, 10)
}

// take takes a slot of uploaderID for the task id. It returns false when
// the uploader holds every slot allowed, and otherwise a release that
// gives the slot back; the lease is renewed until then.
func (s *uploaderSlots) take(ctx context.Context, uploaderID int64, id string) (release func(), ok bool, err error) {
	key := uploaderSlotKey(uploaderID)
	try := func(ctx context.Context) (bool, error) {
		now := time.Now()
		n, err := takeSlot.Run(ctx, s.rdb, []string{key}, now.UnixMilli(), now.Add(s.lease).UnixMilli(), id, s.limit, s.lease.Milliseconds()).Int()
		return n == 1, err
	}
	if ok, err := try(ctx); err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("take a slot of uploader %d: %w", uploaderID, err)
		}
		return nil, false, err
	}
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
				try(renewCtx) // a failed renewal is tried again at the next tick
			}
		}
	})
	return func() {
		stop()
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.rdb.ZRem(ctx, key, id) // a slot not given back expires with its lease
	}, true, nil
}
