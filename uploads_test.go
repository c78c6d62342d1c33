package edustream_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
)

// uploads is the upload flow on the in-memory doubles and the local blob
// store, with a clock the test moves.
type uploads struct {
	*edustream.Uploads
	*life
	now   atomic.Int64
	reads *countingVideos
}

// countingVideos counts the reads of single videos.
type countingVideos struct {
	edustream.VideoService
	byID atomic.Int64
}

func (c *countingVideos) FindVideoByID(ctx context.Context, id int64) (*edustream.Video, error) {
	c.byID.Add(1)
	return c.VideoService.FindVideoByID(ctx, id)
}

func newUploads(t *testing.T) *uploads {
	t.Helper()
	u := &uploads{life: newLife(t).withBlobs(t)}
	u.now.Store(time.Now().UnixNano())
	u.Now = func() time.Time { return time.Unix(0, u.now.Load()) }
	u.reads = &countingVideos{VideoService: u.store}
	u.Videos = u.reads
	u.Uploads = &edustream.Uploads{Life: u.VideoLifecycle, Blobs: edustream.CheckedBlobStore(u.blobs), TTL: time.Hour}
	return u
}

// open opens an upload of data and PUTs its parts as a client would.
func (u *uploads) open(t *testing.T, data []byte) (*edustream.Video, []edustream.UploadPart) {
	t.Helper()
	up, err := u.Create(context.Background(), 1, u.lecture.ID, "talk.mp4", "video/mp4", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return up.Video, edustreamtest.PutParts(t, up, data)
}

func TestUploadCreateChecksFirst(t *testing.T) {
	t.Parallel()
	u := newUploads(t)
	ctx := context.Background()
	for name, tt := range map[string]struct {
		file, contentType string
		size              int64
	}{
		"no size":      {"a.mp4", "video/mp4", 0},
		"too large":    {"a.mp4", "video/mp4", edustream.DefaultMaxUploadBytes + 1},
		"not a video":  {"a.pdf", "application/pdf", 10},
		"no file name": {"", "video/mp4", 10},
	} {
		if _, err := u.Create(ctx, 1, u.lecture.ID, tt.file, tt.contentType, tt.size); edustream.ErrorCode(err) != edustream.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if got := u.events.Take(); len(got) != 0 {
		t.Errorf("refused uploads published %+v", got)
	}
	up, err := u.Create(ctx, 1, u.lecture.ID, "talk.mp4", "video/mp4", 40<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.PartURLs) != 3 || up.Video.UploadID == "" || up.Video.Status != edustream.VideoAwaitingUpload || !up.ExpiresAt.Equal(up.Video.UploadExpiresAt) {
		t.Errorf("upload = %+v, video %+v; want 3 parts of 16 MiB and an open upload", up, up.Video)
	}
}

// Completing stores the bytes and starts the chain once, however often
// and however concurrently it is called, without reading the video it
// was handed again.
func TestUploadComplete(t *testing.T) {
	t.Parallel()
	u := newUploads(t)
	ctx := context.Background()
	v, parts := u.open(t, []byte("not checked until the probe"))
	u.events.Take()
	reads := u.reads.byID.Load()
	done, err := u.Complete(ctx, v, parts)
	if err != nil {
		t.Fatal(err)
	}
	if n := u.reads.byID.Load() - reads; n != 0 {
		t.Errorf("Complete read the video %d times; it was handed it", n)
	}
	if done.Status != edustream.VideoUploaded || done.Stage != edustream.StageProbe {
		t.Errorf("video = %s, want UPLOADED at PROBE", edustream.StateOf(done))
	}
	if got := u.events.Take(); len(got) != 1 || got[0].Encoding.Status != edustream.VideoUploaded {
		t.Errorf("published %+v, want the one move", got)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			again, err := u.Complete(ctx, v, parts)
			if err != nil || again.ID != v.ID {
				t.Errorf("completing again: %+v, %v", again, err)
			}
		})
	}
	wg.Wait()
	if got := u.events.Take(); len(got) != 0 {
		t.Errorf("repeated completions published %+v", got)
	}
	for _, task := range u.jobs.VideoTasks() {
		if task != (edustreamtest.VideoTask{VideoID: v.ID, Stage: edustream.StageProbe}) {
			t.Errorf("queued %v, want only the probe (a repeat may queue it again; the queue collapses it)", task)
		}
	}
}

// Parts that are not what was uploaded end the upload FAILED with the
// reason; so does an empty file, found when the bytes are stored.
func TestUploadCompleteRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("wrong ETag", func(t *testing.T) {
		t.Parallel()
		u := newUploads(t)
		v, parts := u.open(t, []byte("bytes"))
		parts[0].ETag = `"0123456789abcdef0123456789abcdef"`
		if _, err := u.Complete(ctx, v, parts); edustream.ErrorCode(err) != edustream.EINVALID {
			t.Fatalf("complete = %v, want EINVALID", err)
		}
		got, _ := u.store.FindVideoByID(ctx, v.ID)
		if got.Status != edustream.VideoFailed || !strings.Contains(got.Error, "the upload did not complete") {
			t.Errorf("video = %s %q, want FAILED with the reason", got.Status, got.Error)
		}
		if _, err := u.Complete(ctx, v, parts); edustream.ErrorCode(err) != edustream.ECONFLICT {
			t.Errorf("completing a failed upload = %v, want ECONFLICT", err)
		}
	})
	t.Run("malformed part list", func(t *testing.T) {
		t.Parallel()
		u := newUploads(t)
		v, parts := u.open(t, []byte("bytes"))
		if _, err := u.Complete(ctx, v, append(parts, parts...)); edustream.ErrorCode(err) != edustream.EINVALID {
			t.Fatalf("complete = %v, want EINVALID", err)
		}
		if got, _ := u.store.FindVideoByID(ctx, v.ID); got.Status != edustream.VideoAwaitingUpload {
			t.Errorf("a malformed list ended the upload: %s", got.Status)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		t.Parallel()
		u := newUploads(t)
		v, err := u.Ingest(ctx, 1, u.lecture.ID, "empty.mp4", "video/mp4", strings.NewReader(""), 1)
		if err == nil {
			t.Fatalf("ingesting a short body = %+v", v)
		}
		up, err := u.Create(ctx, 1, u.lecture.ID, "talk.mp4", "video/mp4", 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.blobs.Put(ctx, up.Video.SourceKey(), strings.NewReader(""), 0, edustream.BlobMeta{}); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Stored(ctx, up.Video.ID); edustream.ErrorCode(err) != edustream.EINVALID {
			t.Fatalf("stored = %v, want EINVALID", err)
		}
		got, _ := u.store.FindVideoByID(ctx, up.Video.ID)
		if got.Status != edustream.VideoFailed || got.Error != "the file is empty" {
			t.Errorf("video = %s %q", got.Status, got.Error)
		}
	})
}

// Ingest stores a file the server fetched and starts the chain.
func TestUploadIngest(t *testing.T) {
	t.Parallel()
	u := newUploads(t)
	ctx := context.Background()
	v, err := u.Ingest(ctx, 1, u.lecture.ID, "rec.mp4", "video/mp4", strings.NewReader("recording"), 9)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != edustream.VideoUploaded || !slices.Equal(u.jobs.VideoTasks(), []edustreamtest.VideoTask{{VideoID: v.ID, Stage: edustream.StageProbe}}) {
		t.Errorf("video %s, queued %v; want the probe", edustream.StateOf(v), u.jobs.VideoTasks())
	}
}

func TestUploadRetry(t *testing.T) {
	t.Parallel()
	u := newUploads(t)
	ctx := context.Background()
	if _, err := u.Retry(ctx, u.lecture.ID); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("retry without a video = %v, want ENOTFOUND", err)
	}
	v := u.videoAt(t, edustream.VideoState{Status: edustream.VideoFailed, Stage: edustream.StageUpload})
	if _, err := u.Retry(ctx, u.lecture.ID); edustream.ErrorCode(err) != edustream.ECONFLICT || !strings.Contains(err.Error(), "upload the file again") {
		t.Errorf("retrying a failed upload = %v, want ECONFLICT saying to upload again", err)
	}
	failed := edustream.VideoFailed
	thumbnails := edustream.StageThumbnails
	if _, err := u.store.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &failed, Stage: &thumbnails}); err != nil {
		t.Fatal(err)
	}
	again, err := u.Retry(ctx, u.lecture.ID)
	if err != nil || again.Status != edustream.VideoUploaded || again.Stage != edustream.StageThumbnails {
		t.Fatalf("retry = %+v, %v", again, err)
	}
	if _, err := u.Retry(ctx, u.lecture.ID); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Errorf("retrying a video that is not failed = %v, want ECONFLICT", err)
	}
}

// An upload never completed is aborted once its time is up, not before,
// and a completed one is left alone.
func TestUploadExpire(t *testing.T) {
	t.Parallel()
	u := newUploads(t)
	ctx := context.Background()
	v, _ := u.open(t, []byte("part of a file"))
	if err := u.Expire(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := u.store.FindVideoByID(ctx, v.ID); got.Status != edustream.VideoAwaitingUpload {
		t.Fatalf("expired early: %s", got.Status)
	}
	u.now.Add(int64(2 * time.Hour))
	if err := u.Expire(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := u.store.FindVideoByID(ctx, v.ID)
	if got.Status != edustream.VideoFailed || !strings.Contains(got.Error, "expired") {
		t.Errorf("video = %s %q, want FAILED, expired", got.Status, got.Error)
	}
	if _, err := u.Complete(ctx, v, []edustream.UploadPart{{PartNumber: 1, ETag: `"x"`}}); edustream.ErrorCode(err) != edustream.ECONFLICT {
		t.Errorf("completing an expired upload = %v, want ECONFLICT", err)
	}
	if err := u.Expire(ctx, 999); err != nil {
		t.Errorf("expiring a missing video = %v", err)
	}
}
