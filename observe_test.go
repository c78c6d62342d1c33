package edustream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/edustream/edustream"
)

// moveRecorder is a VideoObserver that keeps what it heard.
type moveRecorder struct {
	mu    sync.Mutex
	heard []edustream.VideoMoveReport
}

func (r *moveRecorder) VideoMoved(_ context.Context, m edustream.VideoMoveReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heard = append(r.heard, m)
}

func (r *moveRecorder) take() []edustream.VideoMoveReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.heard
	r.heard = nil
	return out
}

// The observer hears every legal move the table lists, once, from where
// the video was to where the move left it, with the failure class of the
// moves that end a video FAILED; it hears nothing of a refused move, nor of
// progress within a step.
func TestObserverHearsEveryWrittenMove(t *testing.T) {
	t.Parallel()
	wantFailure := map[edustream.VideoMove]edustream.FailureClass{
		edustream.MoveFail:   edustream.FailureInput, // the walk fails with EINVALID
		edustream.MoveCancel: edustream.FailureCancelled,
		edustream.MoveExpire: edustream.FailureExpired,
	}
	for _, tr := range edustream.VideoMoves() {
		if tr.Move == edustream.MoveCreate {
			continue
		}
		t.Run(fmt.Sprintf("%s from %s", tr.Move, tr.From), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := newLife(t)
			rec := &moveRecorder{}
			l.Observer = rec
			v := l.videoAt(t, tr.From)
			if _, err := l.move(ctx, tr.Move, v); err != nil {
				t.Fatal(err)
			}
			heard := rec.take()
			if tr.Move == edustream.MoveProgress {
				if len(heard) != 0 {
					t.Errorf("progress was heard as a move: %+v", heard)
				}
				return
			}
			if len(heard) != 1 {
				t.Fatalf("heard %d reports, want 1: %+v", len(heard), heard)
			}
			m := heard[0]
			if m.Move != tr.Move || m.From != tr.From || m.To != tr.To || m.Video == nil || m.Video.ID != v.ID || m.Failure != wantFailure[tr.Move] {
				t.Errorf("heard %+v, want %s from %s to %s with failure %q", m, tr.Move, tr.From, tr.To, wantFailure[tr.Move])
			}
			// The same move again is refused, and not heard.
			if _, err := l.move(ctx, tr.Move, v); err == nil && tr.From != tr.To {
				t.Errorf("the move was made twice from %s", tr.From)
			}
			if tr.From != tr.To {
				if again := rec.take(); len(again) != 0 {
					t.Errorf("a refused move was heard: %+v", again)
				}
			}
		})
	}
}

// A new video is heard as created, from no state.
func TestObserverHearsCreate(t *testing.T) {
	t.Parallel()
	l := newLife(t)
	rec := &moveRecorder{}
	l.Observer = rec
	v := &edustream.Video{LectureID: l.lecture.ID, UploaderID: 1, FileName: "a.mp4", ContentType: "video/mp4", SizeBytes: 10}
	if err := l.Create(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	heard := rec.take()
	want := edustream.VideoState{Status: edustream.VideoAwaitingUpload, Stage: edustream.StageUpload}
	if len(heard) != 1 || heard[0].Move != edustream.MoveCreate || heard[0].From != (edustream.VideoState{}) || heard[0].To != want {
		t.Errorf("heard %+v, want one create to %s", heard, want)
	}
}

// Fail sorts its cause: the input's codes, the pipeline's (anything else),
// and a worker without ffmpeg, which is EINVALID so that it is not retried
// but is an operator's to fix. The cause's safe message is the reason.
func TestFailureClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cause  error
		class  edustream.FailureClass
		reason string
	}{
		{"invalid", edustream.Errorf(edustream.EINVALID, "not a video"), edustream.FailureInput, "not a video"},
		{"missing", fmt.Errorf("probe: %w", edustream.Errorf(edustream.ENOTFOUND, "the file is missing")), edustream.FailureInput, "the file is missing"},
		{"internal", edustream.Errorf(edustream.EINTERNAL, "the probe step failed 3 times"), edustream.FailureProcessing, "the probe step failed 3 times"},
		{"no ffmpeg", edustream.ErrNoMediaTools, edustream.FailureProcessing, edustream.ErrorMessage(edustream.ErrNoMediaTools)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLife(t)
			rec := &moveRecorder{}
			l.Observer = rec
			v := l.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageProbe})
			failed, err := l.Fail(context.Background(), v, tt.cause)
			if err != nil {
				t.Fatal(err)
			}
			if failed.Error != tt.reason {
				t.Errorf("reason %q, want %q", failed.Error, tt.reason)
			}
			if heard := rec.take(); len(heard) != 1 || heard[0].Failure != tt.class {
				t.Errorf("heard %+v, want one failure of class %s", heard, tt.class)
			}
		})
	}
}
