package edustream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/storage/local"
)

// life is a VideoLifecycle on the in-memory doubles, with a lecture to
// put videos in. Only Remove touches blobs: withBlobs gives it some.
type life struct {
	*edustream.VideoLifecycle
	store   *edustreamtest.Store
	events  *edustreamtest.Events
	jobs    *edustreamtest.Jobs
	blobs   *local.Store
	lecture *edustream.Lecture
}

func newLife(t *testing.T) *life {
	t.Helper()
	ctx := context.Background()
	l := &life{store: edustreamtest.NewStore(nil), events: &edustreamtest.Events{}, jobs: &edustreamtest.Jobs{}}
	l.VideoLifecycle = &edustream.VideoLifecycle{Videos: l.store, Jobs: l.jobs, Events: l.events}
	teacher, err := l.store.UpsertUser(ctx, edustream.Claims{Subject: "ada", Role: edustream.RoleInstructor, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	course := &edustream.Course{InstructorID: teacher.ID, Title: "Course"}
	if err := l.store.CreateCourse(ctx, course); err != nil {
		t.Fatal(err)
	}
	l.lecture = &edustream.Lecture{CourseID: course.ID, Title: "Lecture"}
	if err := l.store.CreateLecture(ctx, l.lecture); err != nil {
		t.Fatal(err)
	}
	return l
}

// withBlobs gives l a blob store.
func (l *life) withBlobs(t *testing.T) *life {
	l.blobs = newBlobs(t)
	l.Blobs = edustream.CheckedBlobStore(l.blobs)
	return l
}

// videoAt stores a video and puts it at state, as the store allows any
// test to (the lifecycle is what keeps production to the table).
func (l *life) videoAt(t *testing.T, state edustream.VideoState) *edustream.Video {
	t.Helper()
	ctx := context.Background()
	v := &edustream.Video{LectureID: l.lecture.ID, UploaderID: 1, FileName: "a.mp4", ContentType: "video/mp4", SizeBytes: 10,
		UploadExpiresAt: time.Now().Add(time.Hour)}
	if err := l.store.CreateVideo(ctx, v); err != nil {
		t.Fatal(err)
	}
	media := &edustream.MediaInfo{DurationSeconds: 10, Width: 640, Height: 360, VideoCodec: "h264"}
	moved, err := l.store.TransitionVideo(ctx, v.ID, v.Status, v.Stage,
		edustream.VideoUpdate{Status: &state.Status, Stage: &state.Stage, Media: media})
	if err != nil {
		t.Fatal(err)
	}
	l.events.Take()
	return moved
}

// move makes one move of v through the lifecycle.
func (l *life) move(ctx context.Context, m edustream.VideoMove, v *edustream.Video) (*edustream.Video, error) {
	switch m {
	case edustream.MoveOpenUpload:
		return l.OpenUpload(ctx, v, "upload-1")
	case edustream.MoveStore:
		return l.Stored(ctx, v)
	case edustream.MoveExpire:
		return l.Expire(ctx, v)
	case edustream.MoveStart:
		return l.Start(ctx, v)
	case edustream.MoveHandOff:
		return l.HandOff(ctx, v, "job-1")
	case edustream.MoveProgress:
		err := l.Progress(ctx, v, edustream.StepProgress{Fraction: 0.5, Message: "half way", Store: true})
		if err != nil {
			return nil, err
		}
		return l.store.FindVideoByID(ctx, v.ID)
	case edustream.MoveAdvance:
		return l.Advance(ctx, v, edustream.VideoUpdate{})
	case edustream.MoveComplete:
		return l.Complete(ctx, v)
	case edustream.MoveFail:
		return l.Fail(ctx, v, edustream.Errorf(edustream.EINVALID, "broken"))
	case edustream.MoveCancel:
		return l.Cancel(ctx, v, "cancelled by the test")
	case edustream.MoveRetry:
		return l.Retry(ctx, v)
	}
	return nil, fmt.Errorf("no such move %q", m)
}

// allStates is every (status, stage) pair, legal or not.
func allStates() []edustream.VideoState {
	var out []edustream.VideoState
	for _, status := range []edustream.VideoStatus{edustream.VideoAwaitingUpload, edustream.VideoUploaded,
		edustream.VideoProcessing, edustream.VideoReady, edustream.VideoFailed} {
		for _, stage := range edustream.Stages {
			out = append(out, edustream.VideoState{Status: status, Stage: stage})
		}
	}
	return out
}

// Every move from every state does what the table says: the legal ones
// move the video there with one conditional write, publish exactly one
// event (the encoding event, with the content change unless only progress
// moved) and queue the step the new state calls for; the others are
// ECONFLICT and change, publish and queue nothing.
func TestVideoMovesFollowTheTable(t *testing.T) {
	t.Parallel()
	var moves []edustream.VideoMove
	for _, tr := range edustream.VideoMoves() {
		if tr.Move != edustream.MoveCreate && !slices.Contains(moves, tr.Move) {
			moves = append(moves, tr.Move)
		}
	}
	if len(moves) != 11 {
		t.Fatalf("the table has moves %v", moves)
	}
	legal := 0
	for _, from := range allStates() {
		for _, m := range moves {
			to, ok := edustream.NextVideoState(m, from)
			if ok {
				legal++
			}
			t.Run(fmt.Sprintf("%s from %s", m, from), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				l := newLife(t)
				v := l.videoAt(t, from)
				moved, err := l.move(ctx, m, v)
				events, tasks := l.events.Take(), l.jobs.VideoTasks()
				after, ferr := l.store.FindVideoByID(ctx, v.ID)
				if ferr != nil {
					t.Fatal(ferr)
				}
				if !ok {
					if edustream.ErrorCode(err) != edustream.ECONFLICT {
						t.Errorf("err = %v, want ECONFLICT", err)
					}
					if diff := cmp.Diff(v, after); diff != "" {
						t.Errorf("a refused move changed the video (-before +after):\n%s", diff)
					}
					if len(events) != 0 || len(tasks) != 0 {
						t.Errorf("a refused move published %+v and queued %v", events, tasks)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := edustream.StateOf(after); got != to || edustream.StateOf(moved) != to {
					t.Errorf("the video is %s (returned %s), want %s", got, edustream.StateOf(moved), to)
				}
				if len(events) != 1 {
					t.Fatalf("published %d events, want 1: %+v", len(events), events)
				}
				e := events[0]
				if e.Topic != edustream.EncodingTopic(l.lecture.ID) || e.Encoding == nil ||
					e.Encoding.VideoID != v.ID || e.Encoding.Status != to.Status || e.Encoding.Stage != to.Stage {
					t.Errorf("published %+v (encoding %+v), want the lecture's encoding event at %s", e, e.Encoding, to)
				}
				if wantContent := m != edustream.MoveProgress; (e.Content != nil) != wantContent {
					t.Errorf("content change %+v, want one: %v", e.Content, wantContent)
				}
				var want []edustreamtest.VideoTask
				if stage, pending := after.PendingStage(); pending && m != edustream.MoveStart && m != edustream.MoveProgress {
					want = append(want, edustreamtest.VideoTask{VideoID: v.ID, Stage: stage})
				}
				if !slices.Equal(tasks, want) {
					t.Errorf("queued %v, want %v", tasks, want)
				}
			})
		}
	}
	if legal != len(edustream.VideoMoves())-1 {
		t.Errorf("walked %d legal moves; the table has %d besides create", legal, len(edustream.VideoMoves())-1)
	}
}

// The moves that record a step's outcome keep it: the error of a failure
// (and a retry clears it), the external job of a hand-off (and a failure
// at transcoding forgets it), the results an advance carries, progress that
// never goes back.
func TestVideoMovesRecordTheirOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLife(t)
	v := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode})
	v, err := l.HandOff(ctx, v, "job-7")
	if err != nil || v.TranscoderJobID != "job-7" {
		t.Fatalf("hand off: %+v, %v", v, err)
	}
	if _, err := l.HandOff(ctx, v, "job-8"); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Errorf("a second hand-off = %v, want ECONFLICT", err)
	}
	l.events.Take()
	if err := l.Progress(ctx, v, edustream.StepProgress{Fraction: 0.5, Store: true}); err != nil {
		t.Fatal(err)
	}
	if v, err = l.store.FindVideoByID(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if err := l.Progress(ctx, v, edustream.StepProgress{Fraction: 0.2, ETA: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ev := l.events.Take()
	if len(ev) != 2 || ev[1].Encoding.Progress < ev[0].Encoding.Progress || ev[1].Encoding.ETASeconds == nil || *ev[1].Encoding.ETASeconds != 3 {
		t.Errorf("progress events %+v %+v: want the second no lower, with its ETA", ev[0].Encoding, ev[1].Encoding)
	}
	v, err = l.Fail(ctx, v, edustream.Errorf(edustream.EINTERNAL, "MediaConvert could not transcode the video"))
	if err != nil || v.Error != "MediaConvert could not transcode the video" || v.TranscoderJobID != "" {
		t.Fatalf("fail: %+v, %v; want the reason and no job", v, err)
	}
	v, err = l.Retry(ctx, v)
	if err != nil || v.Error != "" || v.Status != edustream.VideoUploaded || v.Stage != edustream.StageTranscode {
		t.Fatalf("retry: %+v, %v", v, err)
	}
	if got := l.jobs.VideoTasks(); !slices.Equal(got, []edustreamtest.VideoTask{{VideoID: v.ID, Stage: edustream.StageTranscode}}) {
		t.Errorf("the retry queued %v", got)
	}
	v, _ = l.Start(ctx, v)
	renditions := edustream.Ladder(v.Media)
	v, err = l.Advance(ctx, v, edustream.VideoUpdate{Renditions: renditions})
	if err != nil || v.Stage != edustream.StagePublish || len(v.Renditions) != len(renditions) || v.Progress != edustream.StagePublish.OverallProgress(0) {
		t.Errorf("advance: %+v, %v", v, err)
	}
}

// A move made on a video another attempt has moved since is ECONFLICT:
// the conditional write, not the caller's copy, decides.
func TestVideoMovesAreConditional(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLife(t)
	v := l.videoAt(t, edustream.VideoState{Status: edustream.VideoUploaded, Stage: edustream.StageProbe})
	if _, err := l.Start(ctx, v); err != nil {
		t.Fatal(err)
	}
	l.events.Take()
	if _, err := l.Start(ctx, v); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Errorf("a second start from the same copy = %v, want ECONFLICT", err)
	}
	if got := l.events.Take(); len(got) != 0 {
		t.Errorf("the losing attempt published %+v", got)
	}
}

// Completing swaps the lecture's video, queues the removal of the one it
// replaced, and removing deletes that video's outputs and row and says so
// to the caches.
func TestVideoCompleteAndRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLife(t).withBlobs(t)
	first := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageComplete})
	if _, err := l.Complete(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageComplete})
	ready, err := l.Complete(ctx, second)
	if err != nil || ready.Status != edustream.VideoReady || ready.Progress != 100 {
		t.Fatalf("complete: %+v, %v", ready, err)
	}
	if got := l.jobs.Removals(); !slices.Equal(got, []int64{first.ID}) {
		t.Errorf("queued removals %v, want %d", got, first.ID)
	}
	replaced, err := l.store.FindVideoByID(ctx, first.ID)
	if err != nil || replaced.ReplacedAt == nil {
		t.Fatalf("the first video: %+v, %v; want replaced", replaced, err)
	}
	for _, key := range []string{replaced.SourceKey(), replaced.MasterPlaylistKey(), replaced.PosterKey()} {
		if err := l.blobs.Put(ctx, key, strings.NewReader("x"), 1, edustream.BlobMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	l.events.Take()
	if err := l.Remove(ctx, ready); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Errorf("removing the playing video = %v, want ECONFLICT", err)
	}
	if _, err := l.Fail(ctx, replaced, edustream.Errorf(edustream.EINVALID, "x")); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Errorf("failing a replaced video = %v, want ECONFLICT", err)
	}
	if err := l.Remove(ctx, replaced); err != nil {
		t.Fatal(err)
	}
	if left, _ := l.blobs.List(ctx, edustream.VideoPrefix(first.ID)); len(left) != 0 {
		t.Errorf("outputs left: %v", left)
	}
	if _, err := l.store.FindVideoByID(ctx, first.ID); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("the row: %v, want ENOTFOUND", err)
	}
	if got := l.events.Take(); len(got) != 1 || got[0].Content == nil || got[0].Content.VideoID != first.ID {
		t.Errorf("published %+v, want one content change", got)
	}
}

// A failing event service or queue never fails a move that was written:
// the subscribers catch up from the database, the reconciler queues.
func TestVideoMovesSurviveTheirTransports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLife(t)
	l.events.SetPublishError(errors.New("redis: connection refused"))
	l.jobs.SetError(errors.New("redis: connection refused"))
	v := l.videoAt(t, edustream.VideoState{Status: edustream.VideoAwaitingUpload, Stage: edustream.StageUpload})
	moved, err := l.Stored(ctx, v)
	if err != nil || moved.Status != edustream.VideoUploaded {
		t.Fatalf("stored: %+v, %v", moved, err)
	}
}

// Create announces the new video.
func TestVideoCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLife(t)
	v := &edustream.Video{LectureID: l.lecture.ID, UploaderID: 1, FileName: "a.mp4", ContentType: "video/mp4", SizeBytes: 10}
	if err := l.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	to, _ := edustream.NextVideoState(edustream.MoveCreate, edustream.VideoState{})
	if edustream.StateOf(v) != to {
		t.Errorf("created at %s, want %s", edustream.StateOf(v), to)
	}
	if got := l.events.Take(); len(got) != 1 || got[0].Encoding == nil || got[0].Content == nil {
		t.Errorf("published %+v, want one event with both parts", got)
	}
}

// blippingStore fails the next writes of a move with EUNAVAILABLE, as a
// database does during a failover; committing makes the first failure
// happen after the write was committed (its answer lost).
type blippingStore struct {
	*edustreamtest.Store
	failures   int
	committing bool
	calls      int
}

func (s *blippingStore) TransitionVideo(ctx context.Context, id int64, status edustream.VideoStatus, stage edustream.VideoStage, upd edustream.VideoUpdate) (*edustream.Video, error) {
	s.calls++
	if s.failures > 0 {
		s.failures--
		if s.committing {
			s.committing = false
			s.Store.TransitionVideo(ctx, id, status, stage, upd)
		}
		return nil, edustream.Errorf(edustream.EUNAVAILABLE, "the database is unavailable")
	}
	return s.Store.TransitionVideo(ctx, id, status, stage, upd)
}

func (s *blippingStore) CompleteVideo(ctx context.Context, id int64) (*edustream.Video, *edustream.Video, error) {
	s.calls++
	if s.failures > 0 {
		s.failures--
		if s.committing {
			s.committing = false
			s.Store.CompleteVideo(ctx, id)
		}
		return nil, nil, edustream.Errorf(edustream.EUNAVAILABLE, "the database is unavailable")
	}
	return s.Store.CompleteVideo(ctx, id)
}

// A move whose write finds the database unavailable is tried again, with
// a bounded backoff, before it fails; a write committed whose answer was
// lost is found, not taken for a conflict.
func TestVideoMovesRetryAcrossBlips(t *testing.T) {
	t.Parallel()
	processing := edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode}
	completing := edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageComplete}
	tests := []struct {
		name       string
		from       edustream.VideoState
		move       edustream.VideoMove
		failures   int
		committing bool
		retryFor   time.Duration
		wantCode   string
		wantCalls  int
	}{
		{"advance after three blips", processing, edustream.MoveAdvance, 3, false, time.Second, "", 4},
		{"advance whose answer was lost", processing, edustream.MoveAdvance, 1, true, time.Second, "", 2},
		{"complete after two blips", completing, edustream.MoveComplete, 2, false, time.Second, "", 3},
		{"complete whose answer was lost", completing, edustream.MoveComplete, 1, true, time.Second, "", 2},
		{"an outage longer than the bound", processing, edustream.MoveAdvance, 1000, false, 50 * time.Millisecond, edustream.EUNAVAILABLE, 3},
		{"no retries", processing, edustream.MoveAdvance, 1, false, -1, edustream.EUNAVAILABLE, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLife(t)
			v := l.videoAt(t, tt.from)
			store := &blippingStore{Store: l.store, failures: tt.failures, committing: tt.committing}
			l.Videos, l.RetryWait, l.RetryFor = store, 10*time.Millisecond, tt.retryFor
			moved, err := l.move(context.Background(), tt.move, v)
			if code := edustream.ErrorCode(err); code != tt.wantCode && !(tt.wantCode == "" && err == nil) {
				t.Fatalf("%s = %v, want code %q", tt.move, err, tt.wantCode)
			}
			if store.calls != tt.wantCalls {
				t.Errorf("%d writes, want %d", store.calls, tt.wantCalls)
			}
			if tt.wantCode != "" {
				return
			}
			want, _ := edustream.NextVideoState(tt.move, tt.from)
			if edustream.StateOf(moved) != want {
				t.Errorf("moved to %s, want %s", edustream.StateOf(moved), want)
			}
			if tt.move == edustream.MoveAdvance && len(l.jobs.VideoTasks()) != 1 {
				t.Errorf("queued %v, want the next step once", l.jobs.VideoTasks())
			}
		})
	}
}

// StopProcessing cancels a video being processed and stops its step; a
// video not being processed is returned as it is, and a replaced one is
// Remove's.
func TestVideoStopProcessing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, from := range allStates() {
		t.Run(from.String(), func(t *testing.T) {
			t.Parallel()
			l := newLife(t)
			v := l.videoAt(t, from)
			got, err := l.StopProcessing(ctx, v, "stopped by the test")
			if err != nil {
				t.Fatal(err)
			}
			processing := (from.Status == edustream.VideoUploaded || from.Status == edustream.VideoProcessing) && from.Stage != edustream.StageUpload
			if !processing {
				if edustream.StateOf(got) != from || len(l.jobs.Cancels()) != 0 || len(l.events.Take()) != 0 {
					t.Errorf("a video %s was moved to %s, its work stopped %v", from, edustream.StateOf(got), l.jobs.Cancels())
				}
				return
			}
			if got.Status != edustream.VideoFailed || got.Stage != from.Stage || got.Error != "stopped by the test" {
				t.Errorf("stopped video %s %q, want FAILED at %s with the reason", edustream.StateOf(got), got.Error, from.Stage)
			}
			if !slices.Equal(l.jobs.Cancels(), []int64{v.ID}) {
				t.Errorf("work stopped for %v, want %d", l.jobs.Cancels(), v.ID)
			}
			// Again: nothing more happens.
			if again, err := l.StopProcessing(ctx, got, "again"); err != nil || again.Error != got.Error || len(l.jobs.Cancels()) != 1 {
				t.Errorf("stopping again: %+v, %v, cancels %v", again, err, l.jobs.Cancels())
			}
		})
	}
	t.Run("a stale copy", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		v := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode})
		if _, err := l.Advance(ctx, v, edustream.VideoUpdate{}); err != nil {
			t.Fatal(err)
		}
		got, err := l.StopProcessing(ctx, v, "stopped")
		if err != nil || got.Status != edustream.VideoFailed || got.Stage != edustream.StagePublish {
			t.Errorf("stopping a video that moved on: %+v, %v; want FAILED at PUBLISH", got, err)
		}
	})
}

// A new upload stops the lecture's video being processed; deleting the
// lecture stops it and queues its removal.
func TestVideoStoppedByReplacement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("new upload", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		old := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode})
		v := &edustream.Video{LectureID: l.lecture.ID, UploaderID: 1, FileName: "b.mp4", ContentType: "video/mp4", SizeBytes: 10}
		if err := l.Create(ctx, v); err != nil {
			t.Fatalf("create while a video is processed: %v", err)
		}
		got, _ := l.store.FindVideoByID(ctx, old.ID)
		if got.Status != edustream.VideoFailed || !strings.Contains(got.Error, "new upload") || !slices.Equal(l.jobs.Cancels(), []int64{old.ID}) {
			t.Errorf("the old video: %s %q, cancels %v; want FAILED by the new upload, its work stopped", got.Status, got.Error, l.jobs.Cancels())
		}
	})
	t.Run("lecture deleted", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		v := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode})
		if err := l.store.DeleteLecture(ctx, l.lecture.ID); err != nil {
			t.Fatal(err)
		}
		if err := l.StopLectures(ctx, []int64{l.lecture.ID}, "the lecture was deleted"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(l.jobs.Cancels(), []int64{v.ID}) || !slices.Equal(l.jobs.Removals(), []int64{v.ID}) {
			t.Errorf("cancels %v, removals %v; want video %d's work stopped and its removal queued", l.jobs.Cancels(), l.jobs.Removals(), v.ID)
		}
	})
}

// Stopping a video handed to an external transcoder queues the cancel of
// its job, once; a job that failed on its own is not cancelled; a job
// submitted for a video stopped meanwhile is cancelled by HandOff, unless
// another attempt of the step stored it.
func TestVideoStopCancelsTranscodeJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	transcoding := edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageTranscode}
	handedOff := func(t *testing.T, l *life) *edustream.Video {
		t.Helper()
		v, err := l.HandOff(ctx, l.videoAt(t, transcoding), "job-1")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		v := handedOff(t, l)
		got, err := l.StopProcessing(ctx, v, "stopped by the test")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != edustream.VideoFailed || got.TranscoderJobID != "" {
			t.Errorf("the stopped video is %s with job %q, want FAILED without a job", got.Status, got.TranscoderJobID)
		}
		want := []edustreamtest.TranscodeCancel{{VideoID: v.ID, JobID: "job-1"}}
		if !slices.Equal(l.jobs.TranscodeCancels(), want) {
			t.Errorf("transcode cancels %v, want %v", l.jobs.TranscodeCancels(), want)
		}
		if _, err := l.StopProcessing(ctx, got, "again"); err != nil || len(l.jobs.TranscodeCancels()) != 1 {
			t.Errorf("stopping again: %v, cancels %v", err, l.jobs.TranscodeCancels())
		}
	})
	t.Run("queue down", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		v := handedOff(t, l)
		l.jobs.SetError(edustream.Errorf(edustream.EUNAVAILABLE, "redis is down"))
		if got, err := l.StopProcessing(ctx, v, "stopped by the test"); err != nil || got.Status != edustream.VideoFailed {
			t.Errorf("stop with the queue down: %+v, %v; want FAILED all the same", got, err)
		}
	})
	t.Run("failed on its own", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		if _, err := l.Fail(ctx, handedOff(t, l), edustream.Errorf(edustream.EINTERNAL, "MediaConvert could not")); err != nil {
			t.Fatal(err)
		}
		if n := len(l.jobs.TranscodeCancels()); n != 0 {
			t.Errorf("%d cancels of a job that failed", n)
		}
	})
	t.Run("not handed off", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		if _, err := l.StopProcessing(ctx, l.videoAt(t, transcoding), "stopped"); err != nil {
			t.Fatal(err)
		}
		if n := len(l.jobs.TranscodeCancels()); n != 0 {
			t.Errorf("%d transcode cancels for a video without a job", n)
		}
	})
	t.Run("submitted while stopped", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		v := l.videoAt(t, transcoding)
		if _, err := l.StopProcessing(ctx, v, "stopped"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.HandOff(ctx, v, "job-2"); edustream.ErrorCode(err) != edustream.ECONFLICT {
			t.Fatalf("hand off to a stopped video: %v, want ECONFLICT", err)
		}
		want := []edustreamtest.TranscodeCancel{{VideoID: v.ID, JobID: "job-2"}}
		if !slices.Equal(l.jobs.TranscodeCancels(), want) {
			t.Errorf("transcode cancels %v, want %v", l.jobs.TranscodeCancels(), want)
		}
	})
	t.Run("stored by another attempt, moved on", func(t *testing.T) {
		t.Parallel()
		l := newLife(t)
		v := l.videoAt(t, transcoding)
		stored, err := l.HandOff(ctx, v, "job-1")
		if err != nil {
			t.Fatal(err)
		}
		// The job's COMPLETE came before the other attempt's hand off.
		if _, err := l.Advance(ctx, stored, edustream.VideoUpdate{}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.HandOff(ctx, v, "job-1"); edustream.ErrorCode(err) != edustream.ECONFLICT {
			t.Fatalf("second hand off: %v, want ECONFLICT", err)
		}
		if n := len(l.jobs.TranscodeCancels()); n != 0 {
			t.Errorf("the stored job was cancelled (%d cancels)", n)
		}
	})
}
