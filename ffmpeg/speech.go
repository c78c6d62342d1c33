package ffmpeg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// Automatic captions on the worker: ExtractAudio writes the audio speech
// engines take, and Speech is the local engine, ffmpeg's asr filter
// (CMU pocketsphinx) with the English model Debian ships.

// ExtractAudio implements edustream.AudioExtractor: src's first audio
// stream, as 16 kHz mono FLAC. src is a file, or the URL of a rendition's
// HLS playlist on the worker's loopback (its audio is the source's,
// re-encoded once, and reading it spares downloading the source).
func (t *Tools) ExtractAudio(ctx context.Context, src string, info *edustream.MediaInfo, dst string) error {
	if t.err != nil {
		return t.err
	}
	var err error
	if isURL(src) {
		dst, err = filepath.Abs(dst)
	} else {
		src, dst, err = absPaths(src, dst)
	}
	if err != nil {
		return fmt.Errorf("extract audio: %w", err)
	}
	input := t.inputArgs
	if isURL(src) && strings.HasSuffix(src, ".m3u8") {
		input = renditionInputArgs
	}
	args := append(globalArgs(), input(src)...)
	args = append(args, "-map", "0:a:0", "-vn", "-sn", "-dn",
		"-ac", "1", "-ar", strconv.Itoa(edustream.SpeechAudioRate), "-sample_fmt", "s16", "-c:a", "flac")
	args = append(args, outputArgs(dst)...)
	duration := 0.0
	if info != nil {
		duration = info.DurationSeconds
	}
	if _, err := t.run(ctx, proc{bin: t.ffmpeg, args: args, dir: filepath.Dir(dst), cpu: t.cpuLimit(duration)}); err != nil {
		return t.failure(ctx, "extract audio", err, "reading the audio", src, filepath.Dir(dst))
	}
	return nil
}

// SpeechModel is a pocketsphinx model: the acoustic model's directory, the
// pronunciation dictionary and the language model.
type SpeechModel struct {
	HMM, Dict, LM string
}

// DebianEnglishModel is the US English model of Debian's
// pocketsphinx-en-us package.
func DebianEnglishModel() SpeechModel {
	const dir = "/usr/share/pocketsphinx/model/en-us/"
	return SpeechModel{HMM: dir + "en-us", Dict: dir + "cmudict-en-us.dict", LM: dir + "en-us.lm.bin"}
}

// filterSpecial are the characters a path may not hold to be written into
// a filter graph's options unescaped.
const filterSpecial = `:,;=[]'\ `

// check reports whether the model's files are there and can be named in a
// filter graph.
func (m SpeechModel) check() error {
	for _, p := range []string{m.HMM, m.Dict, m.LM} {
		if p == "" || strings.ContainsAny(p, filterSpecial) {
			return fmt.Errorf("speech model path %q is empty or holds one of %q", p, filterSpecial)
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("speech model: %w", err)
		}
	}
	return nil
}

// Speech is the local speech-to-text engine (edustream.SpeechToText):
// ffmpeg's asr filter. It knows English only, the language of Debian's
// model.
type Speech struct {
	tools *Tools
	model SpeechModel
}

var _ edustream.SpeechToText = (*Speech)(nil)

// Speech returns the local engine with model.
func (t *Tools) Speech(model SpeechModel) *Speech { return &Speech{tools: t, model: model} }

// Name implements edustream.SpeechToText.
func (s *Speech) Name() string { return "ffmpeg asr (pocketsphinx)" }

// Check reports whether the engine can run: ffmpeg has the asr filter
// (Debian's does; a build without pocketsphinx does not) and the model's
// files are there.
func (s *Speech) Check(ctx context.Context) error {
	t := s.tools
	if t.err != nil {
		return t.err
	}
	if err := s.model.check(); err != nil {
		return err
	}
	var out limitBuffer
	out.max = 1 << 20
	if _, err := t.run(ctx, proc{bin: t.ffmpeg, args: []string{"-hide_banner", "-nostdin", "-filters"}, stdout: &out}); err != nil {
		return fmt.Errorf("%s -filters: %w", t.ffmpeg, err)
	}
	// Lines are " ... asr               A->A       Automatic Speech Recognition."
	if !hasEncoder(out.String(), "asr") {
		return errors.New("ffmpeg on the worker has no asr filter (it is built without pocketsphinx)")
	}
	return nil
}

// Transcribe implements edustream.SpeechToText. One ffmpeg reads the audio
// through silencedetect and asr: asr says an utterance's text when it hears
// the pause after it, and silencedetect says where the pauses are, which
// gives each utterance its start and end (asr's own moment is up to a
// second into the pause).
func (s *Speech) Transcribe(ctx context.Context, path, language string) ([]byte, error) {
	t := s.tools
	if t.err != nil {
		return nil, t.err
	}
	if base, _, _ := strings.Cut(strings.ToLower(language), "-"); base != "en" {
		return nil, edustream.Errorf(edustream.EINVALID, "the local speech engine knows English only, not %q", language)
	}
	if err := s.model.check(); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("transcribe: %w", err)
	}
	duration, err := flacDuration(path)
	if err != nil {
		return nil, edustream.Errorf(edustream.EINVALID, "the audio to transcribe is not FLAC: %v", err)
	}
	var events asrEvents
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
		"-protocol_whitelist", "file", "-format_whitelist", "flac", "-i", "file:" + path,
		// The padding is a pause after the last word: asr says an
		// utterance only once it hears one.
		"-af", fmt.Sprintf("apad=pad_dur=2,silencedetect=n=%s:d=%g,asr=hmm=%s:dict=%s:lm=%s,ametadata=mode=print:key=%s",
			silenceLevel, silenceMin.Seconds(), s.model.HMM, s.model.Dict, s.model.LM, asrKey),
		"-f", "null", "-"}
	if _, err := t.run(ctx, proc{bin: t.ffmpeg, args: args, dir: filepath.Dir(path), cpu: t.cpuLimit(duration.Seconds()), stderrLine: events.line}); err != nil {
		return nil, t.failure(ctx, "transcribe", err, "transcribing the audio", path, filepath.Dir(path))
	}
	return edustream.SpeechWebVTT(events.cues(duration)), nil
}

// What silencedetect counts as a pause between utterances: quieter than
// silenceLevel for silenceMin. Shorter gaps (between words) stay inside a
// cue.
const (
	silenceLevel = "-35dB"
	silenceMin   = 300 * time.Millisecond
	asrKey       = "lavfi.asr.text"
)

// ffmpeg's log lines the engine reads, after the "[name @ 0x…] " prefix.
var (
	ptsTimeLine = regexp.MustCompile(`\bpts_time:(-?[0-9.]+)`)
	silenceLine = regexp.MustCompile(`\bsilence_(start|end): (-?[0-9.]+)`)
	// Pocketsphinx's fillers, should any pass through: <sil>, [NOISE], (2).
	fillerWord = regexp.MustCompile(`^([<\[(].*[>\])]|\(\d+\))$`)
)

// asrEvents collects, in the order ffmpeg logs them, the pauses and the
// utterances with the time asr said them.
type asrEvents struct {
	silences   []silence
	utterances []utterance
	// at is the time of the last frame ametadata printed: the text that
	// follows was said then.
	at time.Duration
}

type silence struct{ start, end time.Duration }

type utterance struct {
	at   time.Duration
	text string
}

func (e *asrEvents) line(l string) {
	if i := strings.Index(l, asrKey+"="); i >= 0 {
		e.utterances = append(e.utterances, utterance{e.at, l[i+len(asrKey)+1:]})
		return
	}
	if m := ptsTimeLine.FindStringSubmatch(l); m != nil {
		e.at = seconds(m[1])
		return
	}
	if m := silenceLine.FindStringSubmatch(l); m != nil {
		at := seconds(m[2])
		if m[1] == "start" {
			e.silences = append(e.silences, silence{at, time.Duration(math.MaxInt64)})
		} else if n := len(e.silences); n > 0 {
			e.silences[n-1].end = at
		}
	}
}

func seconds(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(max(f, 0) * float64(time.Second)).Round(time.Millisecond)
}

// cues times each utterance: it starts where the speech after the previous
// one started (the end of the pause that covers the previous utterance's
// moment), and ends where the pause in which asr said it began. Times are
// kept within the audio's duration.
func (e *asrEvents) cues(duration time.Duration) []edustream.SpeechCue {
	var cues []edustream.SpeechCue
	prev := time.Duration(0)
	for _, u := range e.utterances {
		words := slices.DeleteFunc(strings.Fields(u.text), fillerWord.MatchString)
		start, end := prev, u.at
		for _, s := range e.silences {
			if s.start <= start && s.end > start {
				start = s.end
			}
			if s.start > start && s.start < end && s.end >= end {
				end = s.start
			}
		}
		end = min(end, duration)
		if start >= end {
			start = prev
		}
		prev = max(prev, u.at)
		if len(words) == 0 || start >= end {
			continue
		}
		cues = append(cues, edustream.SpeechCue{Start: start, End: end, Text: escapeCueText(strings.Join(words, " "))})
	}
	return cues
}

// escapeCueText keeps a cue's text from being read as WebVTT markup.
var escapeCueText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// flacDuration reads the length of a FLAC file from its STREAMINFO block
// (the first, by the format's rules): the sample rate and the total
// samples. It bounds the CPU time of the run over it.
func flacDuration(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// "fLaC", the block header (4 bytes), then STREAMINFO: 10 bytes of
	// block and frame sizes, then 20 bits of sample rate, 3 of channels,
	// 5 of bits per sample and 36 of total samples.
	var head [26]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return 0, err
	}
	if string(head[:4]) != "fLaC" || head[4]&0x7f != 0 {
		return 0, errors.New("no FLAC stream info")
	}
	bits := binary.BigEndian.Uint64(head[18:26])
	rate := bits >> 44
	samples := bits & (1<<36 - 1)
	if rate == 0 {
		return 0, errors.New("FLAC sample rate 0")
	}
	return time.Duration(float64(samples) / float64(rate) * float64(time.Second)), nil
}
