package ffmpeg

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// BenchmarkLadder measures the ladder step two ways on the same source and
// the same encoder settings:
//
//   - one: what Transcode runs, one ffmpeg that decodes the source once and
//     encodes every rendition from it;
//   - per: one ffmpeg per rendition, each decoding the whole source (how
//     PeerTube and most job-per-resolution pipelines work), run one after
//     the other.
//
// The source is 10 s of 1080p30 with sound, encoded as a phone would (High
// profile, 12 Mb/s), so it gets the full 1080/720/480/360 ladder. The
// metrics are the children's CPU time (user+sys, from rusage) and wall
// time per run of each, and their ratios; the target is cpu-ratio ≤ 0.85.
// See docs/benchmarks-ffmpeg.md.
func BenchmarkLadder(b *testing.B) {
	tools, bins := newTools(b)
	src := makeClip(b, bins, clip{width: 1920, height: 1080, seconds: 10, audio: true, bitrate: "12M"})
	ctx := context.Background()
	info, err := tools.Probe(ctx, src)
	if err != nil {
		b.Fatal(err)
	}
	ladder := edustream.Ladder(info)
	if len(ladder) != 4 {
		b.Fatalf("ladder has %d renditions, want 4", len(ladder))
	}
	dir := b.TempDir()

	var oneCPU, oneWall, perCPU, perWall time.Duration
	one := func() {
		res, err := tools.transcode(ctx, src, info, ladder, filepath.Join(dir, "one"), nil)
		if err != nil {
			b.Fatal(err)
		}
		oneCPU += res.cpu
		oneWall += res.wall
	}
	per := func() {
		for _, r := range ladder {
			res, err := tools.transcode(ctx, src, info, []edustream.Rendition{r}, filepath.Join(dir, "per"), nil)
			if err != nil {
				b.Fatal(err)
			}
			perCPU += res.cpu
			perWall += res.wall
		}
	}
	i := 0
	for b.Loop() {
		// Take turns going first, so neither always meets the other's
		// leftovers (page cache, CPU frequency, a neighbour's load).
		if i%2 == 0 {
			one()
			per()
		} else {
			per()
			one()
		}
		i++
	}
	n := float64(i)
	b.ReportMetric(oneCPU.Seconds()/n, "one-cpu-s/op")
	b.ReportMetric(perCPU.Seconds()/n, "per-cpu-s/op")
	b.ReportMetric(oneCPU.Seconds()/perCPU.Seconds(), "cpu-ratio")
	b.ReportMetric(oneWall.Seconds()/n, "one-wall-s/op")
	b.ReportMetric(perWall.Seconds()/n, "per-wall-s/op")
	b.ReportMetric(oneWall.Seconds()/perWall.Seconds(), "wall-ratio")
	b.Logf("%d CPUs, GOMAXPROCS %d, %s, ladder %d renditions from %dx%d", runtime.NumCPU(), runtime.GOMAXPROCS(0), tools.preset, len(ladder), info.Width, info.Height)
}

// BenchmarkSpeech is the local speech engine's real-time factor on the
// espeak-ng lecture: seconds of audio transcribed per CPU second of the
// asr run (the child's user+sys time, from rusage), as rtf; and the
// extraction of the audio from the video, as extract-cpu-s/op. See
// docs/benchmarks-captions.md.
func BenchmarkSpeech(b *testing.B) {
	tools, speech, src, seconds, dir := lectureSetup(b)
	ctx := context.Background()
	var cpu, extract time.Duration
	var mu sync.Mutex
	b.ResetTimer()
	for range b.N {
		audio := filepath.Join(dir, edustream.SpeechAudioName)
		tools.onEnd = func(res result) { mu.Lock(); extract += res.cpu; mu.Unlock() }
		if err := tools.ExtractAudio(ctx, src, nil, audio); err != nil {
			b.Fatal(err)
		}
		tools.onEnd = func(res result) { mu.Lock(); cpu += res.cpu; mu.Unlock() }
		if _, err := speech.Transcribe(ctx, audio, "en"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(seconds*float64(b.N)/cpu.Seconds(), "rtf")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "asr-cpu-s/op")
	b.ReportMetric(extract.Seconds()/float64(b.N), "extract-cpu-s/op")
}
