package testenv

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// LectureScript is the text of the test lecture the automatic captions are
// measured on: a few paragraphs of an introductory lecture on hash tables,
// which espeak-ng speaks (SpeakLecture).
//
//go:embed testdata/lecture-hash-tables.txt
var LectureScript string

// PocketsphinxModelDir is where Debian's pocketsphinx-en-us installs the
// English model the local speech engine uses.
const PocketsphinxModelDir = "/usr/share/pocketsphinx/model/en-us"

// ASR checks what the local speech engine and its tests need: ffmpeg (see
// FFmpeg) with the asr filter, Debian's English pocketsphinx model, and
// espeak-ng to speak the test lecture. It returns espeak-ng's path. Without
// them it skips the test, or fails it when EDUSTREAM_TEST_REQUIRE names
// asr.
func ASR(t testing.TB) (espeak string) {
	t.Helper()
	bins := FFmpeg(t)
	missing := func(what string, err error) {
		t.Helper()
		if Required("asr") {
			t.Fatalf("the local speech engine is required (%s=%q) but %s: %v", EnvRequire, os.Getenv(EnvRequire), what, err)
		}
		t.Skipf("%s: skipping (%v)", what, err)
	}
	espeak, err := exec.LookPath("espeak-ng")
	if err != nil {
		missing("espeak-ng is not installed", err)
	}
	if _, err := os.Stat(filepath.Join(PocketsphinxModelDir, "en-us.lm.bin")); err != nil {
		missing("pocketsphinx-en-us is not installed", err)
	}
	out, err := exec.Command(bins.FFmpeg, "-hide_banner", "-h", "filter=asr").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Automatic Speech Recognition") {
		missing("ffmpeg has no asr filter", fmt.Errorf("%v: %s", err, out))
	}
	return espeak
}

// LectureClip is the test lecture as a video: espeak-ng speaks
// LectureScript (US English, 150 words a minute) over a test pattern.
// It returns the MP4's path in dir and its length in seconds.
func LectureClip(t testing.TB, dir string) (string, float64) {
	t.Helper()
	espeak, bins := ASR(t), FFmpeg(t)
	wav := filepath.Join(dir, "lecture.wav")
	if out, err := exec.Command(espeak, "-v", "en-us", "-s", "150", "-w", wav, LectureScript).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	mp4 := filepath.Join(dir, "lecture.mp4")
	out, err := exec.Command(bins.FFmpeg, "-v", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-i", wav, "-shortest",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-b:a", "96k", "-ar", "48000", mp4).CombinedOutput()
	if err != nil {
		t.Fatalf("mux the lecture: %v\n%s", err, out)
	}
	probe, err := exec.Command(bins.FFprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", mp4).Output()
	if err != nil {
		t.Fatalf("ffprobe the lecture: %v", err)
	}
	var seconds float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(probe)), &seconds); err != nil {
		t.Fatalf("lecture duration %q: %v", probe, err)
	}
	return mp4, seconds
}

// WordErrorRate is the word error rate of hypothesis against reference:
// the fewest substitutions, deletions and insertions of words that turn
// one into the other (Levenshtein over words), per word of the reference.
// Both are normalised first (NormalizeWords).
func WordErrorRate(reference, hypothesis string) float64 {
	ref, hyp := NormalizeWords(reference), NormalizeWords(hypothesis)
	if len(ref) == 0 {
		if len(hyp) == 0 {
			return 0
		}
		return 1
	}
	// prev[j] is the distance between the reference so far and hyp[:j].
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(hyp)]) / float64(len(ref))
}

// NormalizeWords splits text into lower-case words without punctuation, as
// WER is scored: "Today, we're" is [today we're].
func NormalizeWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// LectureWERBound is the word error rate the local engine must stay within
// on the test lecture: 0.72 was measured when the test was written (Debian
// 12's ffmpeg 5.1 and pocketsphinx-en-us 0.8, espeak-ng 1.51), plus a margin
// for the chain's AAC re-encode and the packages' updates. Pocketsphinx on
// espeak's formant voice is poor; the bound catches a broken pipeline (cues
// lost or misplaced, the wrong audio), not a model's quality. See
// docs/benchmarks-captions.md.
const LectureWERBound = 0.80
