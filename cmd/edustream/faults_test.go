package main

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// The fault suite (TestFaultSuite*): each test starts a fleet of real processes
// (fleet_test.go), breaks one thing under it while clients work, and ends
// with fleet.check: nothing acknowledged lost, every video READY or FAILED
// with a reason, no task and no ffmpeg left, every playlist and segment in
// the store. The tests run one after another: each fleet keeps the
// machine's cores busy.

// faultClip is the clip most scenarios upload: a few seconds, small, so a
// fleet on two shared cores finishes it in seconds.
var faultClip = testenv.Clip{Width: 854, Height: 480, Seconds: 6, Audio: true}

// longClip transcodes long enough (tens of seconds on two cores) for a
// fault to land in the middle of it.
var longClip = testenv.Clip{Width: 1280, Height: 720, Seconds: 10, Audio: true}

// faultSuite skips the scenario in -short mode: each runs a fleet for
// tens of seconds.
func faultSuite(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the fault suite starts a fleet of processes")
	}
}

// Subscriptions cross instances: a subscriber on serve-1 follows, through
// Redis, a video uploaded and completed on serve-2 and transcoded by a
// worker, to READY, seeing each status once and progress that never goes
// back.
func TestFaultSuiteCrossInstanceSubscriptions(t *testing.T) {
	faultSuite(t)
	db := testenv.StartMariaDBReplication(t)
	f := startFleet(t, fleetBackends{MySQLDSN: db.PrimaryDSN, MySQLReplicaDSN: db.ReplicaDSN, RedisURL: testenv.RedisURL(t)})
	clip := sharedClip(t, faultClip)
	courseID, lectureID := f.publishedLecture(t, f.serves[1])
	sam := token(t, testSecret, "sam", edustream.RoleStudent, time.Hour)
	f.serves[1].api().graphql(t, sam, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": courseID}).ok(t)
	f.acked.enrollment("sam", courseID)

	subscribers := map[string]*subscription{}
	for name, tok := range map[string]string{"instructor": f.instructor, "enrolled student": sam} {
		s, err := f.serves[0].api().subscribe(t, tok, lectureID)
		if err != nil {
			t.Fatalf("%s subscribes on serve-1: %v", name, err)
		}
		if first := s.next(t); first.Status != "AWAITING_UPLOAD" {
			t.Errorf("%s: first event %+v, want AWAITING_UPLOAD", name, first)
		}
		subscribers[name] = s
	}
	id := f.upload(t, f.serves[1], lectureID, clip)
	for name, s := range subscribers {
		events := s.until(t, "READY", 2*time.Minute)
		last := -1.0
		for _, e := range events {
			if e.Progress < last {
				t.Errorf("%s: progress went back from %.1f to %.1f", name, last, e.Progress)
			}
			last = e.Progress
		}
		if got := deref(events[len(events)-1].VideoID); got != id {
			t.Errorf("%s: READY for video %q, want %s", name, got, id)
		}
		if n := countEvents(events, "READY"); n != 1 {
			t.Errorf("%s: READY seen %d times, want once", name, n)
		}
		t.Logf("%s on serve-1: %d events from serve-2's upload to READY", name, len(events))
	}
	f.check(t, time.Minute)

	// The checks can fail: writes the database does not hold are found
	// lost, and a segment deleted behind the fleet's back is found
	// missing, and nothing else is.
	var never ledger
	never.course("999999")
	never.enrollment("sam", "999999")
	if lost := never.lost(t, f.openDB(t)); len(lost) != 2 {
		t.Errorf("writes never made, found lost: %q, want both", lost)
	}
	key := f.deleteSegment(t)
	missing, _ := f.missingObjects(t, f.acked.videos[0])
	if len(missing) != 1 || !strings.Contains(missing[0], key) {
		t.Errorf("with %s deleted, the check found %q missing, want that segment alone", key, missing)
	}
}

// A worker killed with SIGKILL in the middle of a transcode: its ffmpeg
// dies with it, the other worker (or the killed one, restarted) runs the
// transcode again, and the video ends READY, once.
func TestFaultSuiteWorkerKilledMidTranscode(t *testing.T) {
	faultSuite(t)
	db := testenv.StartMariaDBReplication(t)
	f := startFleet(t, fleetBackends{MySQLDSN: db.PrimaryDSN, MySQLReplicaDSN: db.ReplicaDSN, RedisURL: testenv.RedisURL(t)})
	clip := sharedClip(t, longClip)
	_, lectureID := f.publishedLecture(t, f.serves[0])
	progress, err := f.serves[0].api().subscribe(t, f.instructor, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	id := f.upload(t, f.serves[1], lectureID, clip)

	events := untilTranscoding(t, progress)
	var victim *member
	var orphans []int
	for _, w := range f.workers {
		if pids := f.ffmpegOf(t, w); len(pids) > 0 {
			victim, orphans = w, pids
		}
	}
	if victim == nil {
		t.Fatal("no worker runs ffmpeg while the video transcodes: the test would prove nothing")
	}
	killed := time.Now()
	victim.proc.kill(t)
	t.Logf("killed %s (pid %d) with its ffmpeg %v at %.0f %%", victim.name, victim.pid(), orphans, events[len(events)-1].Progress)
	testenv.Eventually(t, "the killed worker's ffmpeg to die with it", func() bool {
		for _, pid := range orphans {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				return false
			}
		}
		return true
	})
	victim.restart(t)

	// asynq hands the task of a dead worker to another once the lease has
	// run out and a recoverer has looked; the bound is the lease plus the
	// recoverer's interval, with room for a slow machine.
	recovered := waitFor(t, "a worker to run the transcode again", 3*time.Minute, func() bool {
		for _, w := range f.workers {
			if len(f.ffmpegOf(t, w)) > 0 {
				return true
			}
		}
		return false
	})
	t.Logf("recovery: the transcode ran again %v after the SIGKILL", recovered.Round(100*time.Millisecond))
	events = append(events, progress.until(t, "READY", 3*time.Minute)...)
	if n := countEvents(events, "READY"); n != 1 {
		t.Errorf("READY seen %d times, want once", n)
	}
	if got := deref(events[len(events)-1].VideoID); got != id {
		t.Errorf("READY for video %q, want %s", got, id)
	}
	t.Logf("READY %v after the SIGKILL", time.Since(killed).Round(100*time.Millisecond))
	f.check(t, time.Minute)
}

// untilTranscoding reads the subscription's events until the transcode is
// under way, and returns them: the moment a fault hurts most.
func untilTranscoding(t testing.TB, progress *subscription) []encodingEvent {
	t.Helper()
	var events []encodingEvent
	for {
		e := progress.next(t)
		events = append(events, e)
		if e.Status == "READY" || e.Status == "FAILED" {
			t.Fatalf("the video reached %s before the fault: the clip is too short to prove anything", e.Status)
		}
		if e.Stage == "TRANSCODE" && e.Progress > 5 {
			return events
		}
	}
}

// The Redis primary killed in the middle of a chain: the sentinels promote
// the replica, the fleet follows them, the API keeps taking writes, the
// chain finishes on the promoted primary, and subscribers, old and new, see
// the end.
func TestFaultSuiteRedisPrimaryKilled(t *testing.T) {
	faultSuite(t)
	db := testenv.StartMariaDBReplication(t)
	rds := testenv.StartRedisSentinel(t)
	f := startFleet(t, fleetBackends{MySQLDSN: db.PrimaryDSN, MySQLReplicaDSN: db.ReplicaDSN, RedisURL: rds.URL})
	clip := sharedClip(t, longClip)
	courseID, lectureID := f.publishedLecture(t, f.serves[0])
	progress, err := f.serves[0].api().subscribe(t, f.instructor, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	id := f.upload(t, f.serves[1], lectureID, clip)
	untilTranscoding(t, progress)

	w := f.startWriting(courseID)
	old := rds.KillPrimary()
	killed := time.Now()
	t.Logf("killed the Redis primary %s in the middle of the transcode", old)
	promoted := rds.WaitFailover()
	failedOver := time.Now()
	t.Logf("the sentinels promoted %s %v after the kill", promoted, failedOver.Sub(killed).Round(100*time.Millisecond))
	w.stopWriting(t, failedOver)
	for _, m := range append(f.serves, f.workers...) {
		m.waitReady(t)
	}
	t.Logf("every process ready on the promoted primary %v after the kill", time.Since(killed).Round(100*time.Millisecond))

	late, err := f.serves[1].api().subscribe(t, f.instructor, lectureID)
	if err != nil {
		t.Fatalf("subscribe after the failover: %v", err)
	}
	for name, s := range map[string]*subscription{"the subscriber of before": progress, "a new subscriber": late} {
		events := s.until(t, "READY", 3*time.Minute)
		if got := deref(events[len(events)-1].VideoID); got != id {
			t.Errorf("%s: READY for video %q, want %s", name, got, id)
		}
	}
	t.Logf("READY %v after the Redis primary was killed", time.Since(killed).Round(100*time.Millisecond))
	f.check(t, time.Minute)
}

// The primary database killed for 10 s in the middle of a chain: writes
// during the outage are refused as UNAVAILABLE or acknowledged, never
// acknowledged and lost, and the chain ends READY (or FAILED with its
// reason) once the primary is back.
func TestFaultSuiteDatabaseKilled(t *testing.T) {
	faultSuite(t)
	db := testenv.StartMariaDBReplication(t)
	f := startFleet(t, fleetBackends{MySQLDSN: db.PrimaryDSN, MySQLReplicaDSN: db.ReplicaDSN, RedisURL: testenv.RedisURL(t)})
	clip := sharedClip(t, longClip)
	courseID, lectureID := f.publishedLecture(t, f.serves[0])
	progress, err := f.serves[0].api().subscribe(t, f.instructor, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	f.upload(t, f.serves[1], lectureID, clip)
	untilTranscoding(t, progress)

	w := f.startWriting(courseID)
	db.KillPrimary(t)
	killed := time.Now()
	t.Log("killed the primary mariadbd in the middle of the transcode")
	waitFor(t, "serve-1 to report the database down", time.Minute, func() bool {
		return f.serves[0].api().getStatus(t, "/readyz") != http.StatusOK
	})
	// The outage lasts 10 s, as the operator saw it: long enough for
	// the chain's next step and every pooled connection to hit it.
	time.Sleep(time.Until(killed.Add(10 * time.Second)))
	db.StartPrimary(t)
	back := time.Now()
	t.Logf("the primary back after %v", back.Sub(killed).Round(100*time.Millisecond))
	for _, m := range append(f.serves, f.workers...) {
		m.waitReady(t)
	}
	t.Logf("every process ready again %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	w.stopWriting(t, back)
	// A client must be able to tell a refusal worth retrying from a bug.
	refused := w.refusals()
	if len(refused) == 0 {
		t.Error("no write was refused while the primary was down: the fault never reached the API")
	}
	for code, n := range refused {
		if code != "UNAVAILABLE" {
			t.Errorf("%d writes refused with %s while the primary was down, want UNAVAILABLE", n, code)
		}
	}
	f.check(t, 3*time.Minute)
}
