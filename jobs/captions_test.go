package jobs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captions"
	"github.com/edustream/edustream/ffmpeg"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/jobs"
)

// recordedCaptions is the captions service as the step sees it: it keeps
// what it is given, refuses a track the real one's parser refuses
// (EINVALID, with the line), and can fail like a database.
type recordedCaptions struct {
	mu       sync.Mutex
	tracks   map[int64][]byte
	failures map[int64]string
	puts     int
	fail     error
}

func newRecordedCaptions() *recordedCaptions {
	return &recordedCaptions{tracks: map[int64][]byte{}, failures: map[int64]string{}}
}

func (r *recordedCaptions) PutAutomaticCaption(_ context.Context, v *edustream.Video, lang string, vtt []byte) (*edustream.Caption, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.puts++
	if r.fail != nil {
		return nil, r.fail
	}
	duration := time.Duration(v.Media.DurationSeconds * float64(time.Second))
	if _, err := captions.Parse(vtt, captions.Limits{Duration: duration}); err != nil {
		return nil, edustream.Errorf(edustream.EINVALID, "%v", err)
	}
	r.tracks[v.ID] = vtt
	return &edustream.Caption{VideoID: v.ID, Language: lang, Source: edustream.CaptionAutomatic, Status: edustream.CaptionReady}, nil
}

func (r *recordedCaptions) RecordAutomaticCaptionFailure(_ context.Context, v *edustream.Video, lang, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures[v.ID] = lang + ": " + reason
	return nil
}

func (r *recordedCaptions) get(id int64) (track []byte, failure string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tracks[id], r.failures[id]
}

// fakeSpeech is an engine that answers what a test tells it to.
type fakeSpeech struct {
	answer func(ctx context.Context, path string) ([]byte, error)
	mu     sync.Mutex
	calls  int
}

func (f *fakeSpeech) Name() string { return "the fake engine" }

func (f *fakeSpeech) called() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeSpeech) Transcribe(ctx context.Context, path, lang string) ([]byte, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return f.answer(ctx, path)
}

// TestChainCaptionsLecture runs the espeak-ng lecture through the whole
// chain with the local engine: the video is READY with an automatic
// English track whose words are within testenv.LectureWERBound of the
// script.
func TestChainCaptionsLecture(t *testing.T) {
	c := setupChain(t)
	src, _ := testenv.LectureClip(t, t.TempDir())
	bins := testenv.FFmpeg(t)
	tools := ffmpeg.New(ffmpeg.Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe})
	captions := newRecordedCaptions()
	c.startWorker(t, workerOptions{speech: tools.Speech(ffmpeg.DebianEnglishModel()), captions: captions})

	started := time.Now()
	v := c.waitLecture(t, c.upload(t, src))
	if v.Status != edustream.VideoReady {
		t.Fatalf("video = %s at %s (%s), want READY", v.Status, v.Stage, v.Error)
	}
	track, failure := captions.get(v.ID)
	if failure != "" || len(track) == 0 {
		t.Fatalf("no automatic track (failure %q)", failure)
	}
	var words []string
	for _, line := range strings.Split(string(track), "\n") {
		if line != "WEBVTT" && !strings.Contains(line, "-->") {
			words = append(words, line)
		}
	}
	wer := testenv.WordErrorRate(testenv.LectureScript, strings.Join(words, " "))
	t.Logf("chain wall time %v; WER %.3f", time.Since(started).Round(time.Millisecond), wer)
	if wer > testenv.LectureWERBound {
		t.Errorf("WER %.3f is above the bound %.2f; the track:\n%s", wer, testenv.LectureWERBound, track)
	}
}

// waitLecture waits until v is READY or FAILED, longer than waitDone: 86 s
// of speech take the local engine some 45 CPU seconds, minutes on a loaded
// machine.
func (c *chain) waitLecture(t testing.TB, v *edustream.Video) *edustream.Video {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Minute); !v.Status.Terminal(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lecture is still %s at %s after 30 minutes", v.Status, v.Stage)
		}
		var err error
		if v, err = c.videos.FindVideoByID(context.Background(), v.ID); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// BenchmarkChainCaptions is the chain's wall time on the espeak-ng
// lecture (86 s, 320×180) without the captions step's engine and with the
// local one, in alternating rounds so both see the same machine; ratio is
// with over without. See docs/benchmarks-captions.md.
func BenchmarkChainCaptions(b *testing.B) {
	src, _ := testenv.LectureClip(b, b.TempDir())
	bins := testenv.FFmpeg(b)
	local := ffmpeg.New(ffmpeg.Config{FFmpegPath: bins.FFmpeg, FFprobePath: bins.FFprobe}).Speech(ffmpeg.DebianEnglishModel())
	// Two chains, each with its worker for the whole run: one without an
	// engine, one with the local engine. Only one works at a time.
	plain, captioned := setupChain(b), setupChain(b)
	plain.startWorker(b, workerOptions{})
	captioned.startWorker(b, workerOptions{speech: local, captions: newRecordedCaptions()})
	run := func(c *chain) time.Duration {
		start := time.Now()
		v := c.waitLecture(b, c.upload(b, src))
		if v.Status != edustream.VideoReady {
			b.Fatalf("video %s: %s", v.Status, v.Error)
		}
		return time.Since(start)
	}
	var without, with time.Duration
	b.ResetTimer()
	for range b.N {
		without += run(plain)
		with += run(captioned)
	}
	b.StopTimer()
	b.ReportMetric(without.Seconds()/float64(b.N), "without-s/op")
	b.ReportMetric(with.Seconds()/float64(b.N), "with-s/op")
	b.ReportMetric(with.Seconds()/without.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
}

// TestChainCaptionsNeverFailTheVideo: whatever the engine does, the video
// goes READY; what went wrong is on the failed track.
func TestChainCaptionsNeverFailTheVideo(t *testing.T) {
	c := setupChain(t)
	src := testenv.MakeClip(t, testenv.Clip{Width: 320, Height: 240, Seconds: 2, Audio: true})
	for _, tc := range []struct {
		name    string
		answer  func(ctx context.Context, path string) ([]byte, error)
		timeout time.Duration
		// failure is what the failed track must say; empty: a track.
		failure string
	}{
		{name: "transcribed", answer: func(context.Context, string) ([]byte, error) {
			return []byte("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhello\n"), nil
		}},
		{name: "refused", answer: func(context.Context, string) ([]byte, error) {
			return nil, edustream.Errorf(edustream.EINVALID, "the audio is too long for this engine")
		}, failure: "en: the fake engine: the audio is too long for this engine"},
		{name: "garbage", answer: func(context.Context, string) ([]byte, error) {
			return []byte("<html>gateway</html>"), nil
		}, failure: "the fake engine made captions that do not pass validation: line 1"},
		{name: "slow", answer: func(ctx context.Context, _ string) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, timeout: time.Second, failure: "the fake engine took longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			captions := newRecordedCaptions()
			engine := &fakeSpeech{answer: func(ctx context.Context, path string) ([]byte, error) {
				if !strings.HasSuffix(path, edustream.SpeechAudioName) {
					t.Errorf("the engine was given %s, want the extracted audio", path)
				}
				return tc.answer(ctx, path)
			}}
			stop := c.startWorker(t, workerOptions{speech: engine, captions: captions, captionsTimeout: tc.timeout})
			defer stop()
			v := c.waitDone(t, c.upload(t, src).ID)
			if v.Status != edustream.VideoReady {
				t.Fatalf("video = %s at %s (%s), want READY", v.Status, v.Stage, v.Error)
			}
			track, failure := captions.get(v.ID)
			switch {
			case tc.failure == "" && (len(track) == 0 || failure != ""):
				t.Errorf("track %q, failure %q; want the engine's track", track, failure)
			case tc.failure != "" && !strings.Contains(failure, tc.failure):
				t.Errorf("failure %q, want it to contain %q", failure, tc.failure)
			}
			// The timeout bounds the extraction too: on a loaded machine
			// the slow case may end before the engine is asked.
			if n := engine.called(); n > 1 || (n == 0 && tc.timeout == 0) {
				t.Errorf("the engine ran %d times, want once", n)
			}
		})
	}
	t.Run("no engine", func(t *testing.T) {
		stop := c.startWorker(t, workerOptions{})
		defer stop()
		if v := c.waitDone(t, c.upload(t, src).ID); v.Status != edustream.VideoReady {
			t.Fatalf("video = %s at %s (%s), want READY", v.Status, v.Stage, v.Error)
		}
	})
}

// TestChainCaptionsStop: stopping a video in its captions step kills the
// engine's work; the video ends cancelled, and no failed track is
// recorded (nothing failed).
func TestChainCaptionsStop(t *testing.T) {
	c := setupChain(t)
	src := testenv.MakeClip(t, testenv.Clip{Width: 320, Height: 240, Seconds: 2, Audio: true})
	started, ended := make(chan struct{}), make(chan error, 1)
	engine := &fakeSpeech{answer: func(ctx context.Context, _ string) ([]byte, error) {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}}
	captions := newRecordedCaptions()
	c.startWorker(t, workerOptions{speech: engine, captions: captions})
	v := c.upload(t, src)
	select {
	case <-started:
	case <-time.After(testenv.WaitLimit):
		t.Fatal("the captions step never started")
	}
	v, err := c.videos.FindVideoByID(context.Background(), v.ID)
	if err != nil || v.Stage != edustream.StageCaptions {
		t.Fatalf("video at %v (%v), want at CAPTIONS", v, err)
	}
	if _, err := c.life.StopProcessing(context.Background(), v, edustream.CancelledBy(c.instructor)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the engine's context ended with %v, want cancelled", err)
		}
	case <-time.After(testenv.WaitLimit):
		t.Fatal("the engine's work was not stopped")
	}
	v = c.waitDone(t, v.ID)
	if v.Status != edustream.VideoFailed || !strings.Contains(v.Error, "cancelled") {
		t.Errorf("video = %s (%s), want FAILED as cancelled", v.Status, v.Error)
	}
	if _, failure := captions.get(v.ID); failure != "" {
		t.Errorf("a stopped step recorded a failed track: %q", failure)
	}
}

var _ jobs.AutomaticCaptions = (*recordedCaptions)(nil)
