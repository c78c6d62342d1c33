package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// BenchmarkPipeline compares the whole pipeline, from a completed upload to
// READY (probe, transcode, publish, thumbnails, captions, metadata, complete: seven
// queue hops, the database, the blob store), with the bare ffprobe and
// ffmpeg runs that make the same outputs, back to back on a local file.
// Both run in each iteration, so they see the same machine; the ratio of
// their wall times is the pipeline's overhead. Target: ≤ 1.05.
func BenchmarkPipeline(b *testing.B) {
	c := setupChain(b)
	c.startWorker(b, workerOptions{concurrency: 1})
	src := testenv.MakeClip(b, testenv.Clip{Width: 1280, Height: 720, Seconds: 20, Audio: true})
	ctx := context.Background()
	var chain, bare time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		v := c.waitDone(b, c.upload(b, src).ID)
		if v.Status != edustream.VideoReady {
			b.Fatalf("video %s: %s", v.Status, v.Error)
		}
		chain += time.Since(start)

		start = time.Now()
		dir := b.TempDir()
		info, err := c.media.Probe(ctx, src)
		if err != nil {
			b.Fatal(err)
		}
		hls := filepath.Join(dir, "hls")
		os.Mkdir(hls, 0o700)
		if err := c.media.Transcode(ctx, src, info, edustream.Ladder(info), hls, func(edustream.TranscodeProgress) {}); err != nil {
			b.Fatal(err)
		}
		if err := c.media.Thumbnails(ctx, src, info, dir); err != nil {
			b.Fatal(err)
		}
		bare += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(chain.Seconds()/float64(b.N), "pipeline-s/op")
	b.ReportMetric(bare.Seconds()/float64(b.N), "bare-s/op")
	b.ReportMetric(chain.Seconds()/bare.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
}
