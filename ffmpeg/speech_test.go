package ffmpeg

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// TestSpeechLecture runs the local engine on the espeak-ng lecture: its
// audio extracted from the video as the chain does, then transcribed. The
// track must be well-formed WebVTT within the audio's length, and its
// words within testenv.LectureWERBound of the script. It logs the word
// error rate and the real-time factor (see docs/benchmarks-captions.md).
func TestSpeechLecture(t *testing.T) {
	tools, speech, src, seconds, dir := lectureSetup(t)
	ctx := context.Background()
	if err := speech.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	info, err := tools.Probe(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	audio := filepath.Join(dir, edustream.SpeechAudioName)
	if err := tools.ExtractAudio(ctx, src, info, audio); err != nil {
		t.Fatalf("ExtractAudio: %v", err)
	}
	if d, err := flacDuration(audio); err != nil || d.Seconds() < seconds-0.5 || d.Seconds() > seconds+0.5 {
		t.Fatalf("the extracted audio is %v long (%v), want about %.1fs", d, err, seconds)
	}

	var mu sync.Mutex
	var cpu time.Duration
	tools.onEnd = func(res result) { mu.Lock(); cpu += res.cpu; mu.Unlock() }
	vtt, err := speech.Transcribe(ctx, audio, "en-US")
	if err != nil {
		t.Fatalf("Transcribe: %v", err)
	}
	cues := readCues(t, vtt, time.Duration(seconds*float64(time.Second)))
	if len(cues) < 5 {
		t.Fatalf("%d cues from a %.0fs lecture, want at least 5:\n%s", len(cues), seconds, vtt)
	}
	var heard []string
	for _, c := range cues {
		heard = append(heard, c.Text)
	}
	wer := testenv.WordErrorRate(testenv.LectureScript, strings.Join(heard, " "))
	t.Logf("%d cues; WER %.3f over %d words; %.1fs of audio in %.1f CPU s: real-time factor %.2f media s per CPU s",
		len(cues), wer, len(testenv.NormalizeWords(testenv.LectureScript)), seconds, cpu.Seconds(), seconds/cpu.Seconds())
	if wer > testenv.LectureWERBound {
		t.Errorf("WER %.3f is above the bound %.2f; the track:\n%s", wer, testenv.LectureWERBound, vtt)
	}
}

// lectureSetup returns Tools, the local engine, and the espeak-ng lecture
// (its path, its length in seconds, and the directory it is in).
func lectureSetup(t testing.TB) (tools *Tools, speech *Speech, src string, seconds float64, dir string) {
	t.Helper()
	tools, _ = newTools(t)
	dir = t.TempDir()
	src, seconds = testenv.LectureClip(t, dir)
	return tools, tools.Speech(DebianEnglishModel()), src, seconds, dir
}

// readCues reads a WebVTT file as SpeechWebVTT writes it, failing the test
// unless every cue has text and times that are ordered and within length.
func readCues(t testing.TB, vtt []byte, length time.Duration) []edustream.SpeechCue {
	t.Helper()
	blocks := strings.Split(strings.TrimSpace(string(vtt)), "\n\n")
	if blocks[0] != "WEBVTT" {
		t.Fatalf("the track does not start with WEBVTT:\n%s", vtt)
	}
	var cues []edustream.SpeechCue
	var last time.Duration
	for _, b := range blocks[1:] {
		timing, text, _ := strings.Cut(b, "\n")
		from, to, ok := strings.Cut(timing, " --> ")
		start, end := parseVTTTime(t, from), parseVTTTime(t, to)
		if !ok || strings.TrimSpace(text) == "" || start < last || end <= start || end > length {
			t.Fatalf("bad cue %q (after %v, within %v):\n%s", b, last, length, vtt)
		}
		last = start
		cues = append(cues, edustream.SpeechCue{Start: start, End: end, Text: text})
	}
	return cues
}

func parseVTTTime(t testing.TB, s string) time.Duration {
	t.Helper()
	var h, m, sec, ms int
	if _, err := fmt.Sscanf(s, "%d:%d:%d.%d", &h, &m, &sec, &ms); err != nil {
		t.Fatalf("bad WebVTT time %q: %v", s, err)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond
}

// TestSpeechRefusals: what the local engine cannot do is EINVALID, with a
// reason the instructor can read on the failed track.
func TestSpeechRefusals(t *testing.T) {
	tools, bins := newTools(t)
	testenv.ASR(t)
	speech := tools.Speech(DebianEnglishModel())
	ctx := context.Background()
	dir := t.TempDir()
	silent := makeClip(t, bins, clip{width: 320, height: 240, seconds: 1})
	err := tools.ExtractAudio(ctx, silent, nil, filepath.Join(dir, "a.flac"))
	wantCode(t, err, edustream.EINVALID, "reading the audio")

	_, err = speech.Transcribe(ctx, writeFile(t, dir, "x.flac", []byte("fLaC")), "de")
	wantCode(t, err, edustream.EINVALID, "English only")
	_, err = speech.Transcribe(ctx, writeFile(t, dir, "y.flac", []byte("RIFF....WAVE")), "en")
	wantCode(t, err, edustream.EINVALID, "not FLAC")

	missing := tools.Speech(SpeechModel{HMM: "/nonexistent/en-us", Dict: "/nonexistent/d", LM: "/nonexistent/lm"})
	if err := missing.Check(ctx); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("Check with a missing model = %v, want the missing path", err)
	}
}

// TestSpeechCancel: cancelling the context kills the asr run at once.
func TestSpeechCancel(t *testing.T) {
	tools, speech, src, _, dir := lectureSetup(t)
	audio := filepath.Join(dir, edustream.SpeechAudioName)
	if err := tools.ExtractAudio(context.Background(), src, nil, audio); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tools.onStart = func(int) { time.AfterFunc(200*time.Millisecond, cancel) }
	started := time.Now()
	_, err := speech.Transcribe(ctx, audio, "en")
	if err == nil || ctx.Err() == nil || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Fatalf("Transcribe = %v, want it cancelled", err)
	}
	if took := time.Since(started); took > 20*time.Second {
		t.Errorf("a cancelled transcription took %v to end", took)
	}
	if _, err := os.Stat(audio); err != nil {
		t.Errorf("the input went away: %v", err)
	}
}

// TestASRCues turns ffmpeg's log into cues: each utterance from the end
// of the pause before it to the start of the pause asr said it in.
func TestASRCues(t *testing.T) {
	t.Parallel()
	var e asrEvents
	for _, l := range strings.Split(`[silencedetect @ 0x55] silence_start: 0
[silencedetect @ 0x55] silence_end: 0.5 | silence_duration: 0.5
[silencedetect @ 0x55] silence_start: 3.2
[Parsed_ametadata_3 @ 0x56] frame:100  pts:148592  pts_time:3.9
[Parsed_ametadata_3 @ 0x56] lavfi.asr.text=hash tables store <sil> keys
[silencedetect @ 0x55] silence_end: 4.1 | silence_duration: 0.9
[Parsed_ametadata_3 @ 0x56] frame:120  pts:148592  pts_time:6.0
[Parsed_ametadata_3 @ 0x56] lavfi.asr.text=and values < & >
[silencedetect @ 0x55] silence_start: 9.5
[Parsed_ametadata_3 @ 0x56] frame:130  pts:148592  pts_time:9.9
[Parsed_ametadata_3 @ 0x56] lavfi.asr.text=`, "\n") {
		e.line(l)
	}
	got := e.cues(9 * time.Second)
	want := []edustream.SpeechCue{
		{Start: 500 * time.Millisecond, End: 3200 * time.Millisecond, Text: "hash tables store keys"},
		// No pause before asr's moment: it ends there.
		{Start: 4100 * time.Millisecond, End: 6 * time.Second, Text: "and values &lt; &amp; &gt;"},
	}
	if len(got) != len(want) {
		t.Fatalf("cues = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cue %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
