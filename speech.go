package edustream

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Automatic captions: the chain's captions step gives a video's audio to a
// speech-to-text engine and stores what it heard as the video's automatic
// track (Captions.PutAutomaticCaption). Engines are adapters: ffmpeg's asr
// filter on the worker, AWS Transcribe, or any OpenAI-compatible
// /v1/audio/transcriptions endpoint (whisper.cpp's server, faster-whisper).

// SpeechToText transcribes speech into timed captions.
type SpeechToText interface {
	// Transcribe returns the speech of the audio file at path (16 kHz mono
	// FLAC, see SpeechAudio) in language (a BCP 47 tag) as WebVTT.
	// EINVALID when the engine refused the audio or answered with
	// something that is not WebVTT (retrying cannot help); other errors
	// (the engine down, throttled) may be retried.
	Transcribe(ctx context.Context, path, language string) ([]byte, error)
	// Name says which engine this is, for logs and for the reason of a
	// failed track ("AWS Transcribe").
	Name() string
}

// AudioExtractor writes a video's audio in the form speech engines take.
type AudioExtractor interface {
	// ExtractAudio writes the audio of src (a file, or an HLS playlist on
	// the worker's loopback) to dst as SpeechAudio; info, if known, bounds
	// the run. EINVALID when src has no audio that decodes.
	ExtractAudio(ctx context.Context, src string, info *MediaInfo, dst string) error
}

// SpeechAudio is the audio every engine is given: 16 kHz mono FLAC, what
// speech models are trained on (more says nothing to them) and about a
// tenth of the WAV's size, which matters to the remote engines' upload
// limits (OpenAI's is 25 MB: about 1 h 40 of speech in FLAC).
const (
	SpeechAudioRate = 16000
	SpeechAudioName = "speech.flac"
)

// SpeechCue is one timed piece of transcribed text.
type SpeechCue struct {
	Start, End time.Duration
	Text       string
}

// Bounds of the cues SpeechWebVTT writes: an utterance the engine heard
// whole (ffmpeg's asr filter gives one per pause) is split into cues a
// viewer can read in their time, about two lines each.
const (
	maxCueWords    = 14
	maxCueDuration = 7 * time.Second
)

// SpeechWebVTT writes cues as a WebVTT file, splitting each long cue into
// pieces of at most maxCueWords words, its time shared among them by their
// length in characters (the engines that give no word times only know when
// an utterance started and ended). Empty cues are left out.
func SpeechWebVTT(cues []SpeechCue) []byte {
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	for _, c := range cues {
		for _, piece := range splitCue(c) {
			fmt.Fprintf(&b, "\n%s --> %s\n%s\n", vttTime(piece.Start.Seconds()), vttTime(piece.End.Seconds()), piece.Text)
		}
	}
	return []byte(b.String())
}

func splitCue(c SpeechCue) []SpeechCue {
	words := strings.Fields(c.Text)
	if len(words) == 0 || c.End <= c.Start {
		return nil
	}
	pieces := max((len(words)+maxCueWords-1)/maxCueWords, int((c.End-c.Start+maxCueDuration-1)/maxCueDuration))
	pieces = min(pieces, len(words))
	if pieces == 1 {
		return []SpeechCue{{c.Start, c.End, strings.Join(words, " ")}}
	}
	total := len(strings.Join(words, " "))
	out := make([]SpeechCue, 0, pieces)
	start, done := c.Start, 0
	for i := range pieces {
		// Words i*n/pieces up to (i+1)*n/pieces: as even as whole words go.
		part := strings.Join(words[i*len(words)/pieces:(i+1)*len(words)/pieces], " ")
		done += len(part)
		if i > 0 {
			done++ // the space between pieces
		}
		end := c.Start + time.Duration(float64(c.End-c.Start)*float64(done)/float64(total))
		if i == pieces-1 {
			end = c.End
		}
		end = end.Truncate(time.Millisecond)
		if end > start {
			out = append(out, SpeechCue{start, end, part})
		} else if len(out) > 0 {
			out[len(out)-1].Text += " " + part
		}
		start = end
	}
	return out
}
