package edustream_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/storage/blobtest"
)

// The part count follows the size: one part for a small file, more as it
// grows, never more than S3's MaxParts, each part within S3's limits, the
// lengths adding up to the size.
func TestPartSize(t *testing.T) {
	t.Parallel()
	const mib, gib = 1 << 20, 1 << 30
	for _, tt := range []struct {
		size     int64
		partSize int64
		parts    int
	}{
		{1000, 16 * mib, 1},
		{16 * mib, 16 * mib, 1},
		{40 * mib, 16 * mib, 3},
		{edustream.DefaultMaxUploadBytes, 16 * mib, 640},
		{10000 * 16 * mib, 16 * mib, 10000},
		{10000*16*mib + 1, 32 * mib, 5001},
		{200 * gib, 32 * mib, 6400},
		{edustream.MaxMultipartSize, edustream.MaxPartSize, edustream.MaxParts},
	} {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			part := edustream.PartSize(tt.size)
			n := edustream.PartCount(tt.size, part)
			if part != tt.partSize || n != tt.parts {
				t.Fatalf("%d parts of %d bytes, want %d of %d", n, part, tt.parts, tt.partSize)
			}
			if part < edustream.MinPartSize || part > edustream.MaxPartSize || n > edustream.MaxParts {
				t.Errorf("%d parts of %d bytes are outside S3's limits", n, part)
			}
			var sum int64
			for i := 1; i <= n; i++ {
				l := edustream.PartLength(tt.size, part, i)
				if l < 1 || l > part || (i < n && l != part) {
					t.Fatalf("part %d of %d is %d bytes", i, n, l)
				}
				sum += l
			}
			if sum != tt.size {
				t.Errorf("the parts add up to %d bytes, want %d", sum, tt.size)
			}
		})
	}
}

// A part URL takes exactly its part's bytes: the 1,000-byte
// declaration that accepted 4.2 MB now refuses them, and a short part
// too, without losing the upload: the right bytes go through after.
func TestUploadPartURLsHoldTheirSize(t *testing.T) {
	t.Parallel()
	u := newUploads(t)
	ctx := context.Background()
	up, err := u.Create(ctx, 1, u.lecture.ID, "talk.mp4", "video/mp4", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.PartURLs) != 1 {
		t.Fatalf("%d part URLs for 1,000 bytes, want 1", len(up.PartURLs))
	}
	for name, tt := range map[string]struct {
		body   []byte
		status int
	}{
		"4.2 MB":      {blobtest.RandomBytes(t, 4_200_000), http.StatusRequestEntityTooLarge},
		"1,001 bytes": {blobtest.RandomBytes(t, 1001), http.StatusRequestEntityTooLarge},
		"999 bytes":   {blobtest.RandomBytes(t, 999), http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodPut, up.PartURLs[0], bytes.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("PUT of %s: %s, want %d", name, resp.Status, tt.status)
		}
	}
	data := blobtest.RandomBytes(t, 1000)
	done, err := u.Complete(ctx, up.Video, edustreamtest.PutParts(t, up, data))
	if err != nil || done.Status != edustream.VideoUploaded {
		t.Fatalf("complete after refused parts: %+v, %v", done, err)
	}
	if info, err := u.blobs.Head(ctx, done.SourceKey()); err != nil || info.Size != 1000 {
		t.Errorf("source: %+v, %v; want 1,000 bytes", info, err)
	}
}

// A source of another size than the upload declared (its bytes came by
// another way than the part URLs, or a server did not check them) ends
// the video FAILED with both sizes named, through the lifecycle's fail
// move, and the bytes are deleted.
func TestUploadDeclaredSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, stored := range map[string]int{"larger": 4_200_000, "smaller": 999} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := newUploads(t)
			up, err := u.Create(ctx, 1, u.lecture.ID, "talk.mp4", "video/mp4", 1000)
			if err != nil {
				t.Fatal(err)
			}
			if err := u.blobs.Put(ctx, up.Video.SourceKey(), bytes.NewReader(make([]byte, stored)), int64(stored), edustream.BlobMeta{}); err != nil {
				t.Fatal(err)
			}
			u.events.Take()
			_, err = u.Stored(ctx, up.Video.ID)
			want := fmt.Sprintf("the uploaded file is %d bytes, but the upload declared 1000 bytes", stored)
			if edustream.ErrorCode(err) != edustream.EINVALID || edustream.ErrorMessage(err) != want {
				t.Fatalf("stored = %v, want EINVALID %q", err, want)
			}
			got, _ := u.store.FindVideoByID(ctx, up.Video.ID)
			if got.Status != edustream.VideoFailed || got.Stage != edustream.StageUpload || got.Error != want {
				t.Errorf("video = %s %q, want FAILED at upload with %q", edustream.StateOf(got), got.Error, want)
			}
			if ev := u.events.Take(); len(ev) != 1 || ev[0].Encoding.Status != edustream.VideoFailed || ev[0].Encoding.Message != want {
				t.Errorf("published %+v, want the fail move with the reason", ev)
			}
			if _, err := u.blobs.Head(ctx, up.Video.SourceKey()); edustream.ErrorCode(err) != edustream.ENOTFOUND {
				t.Errorf("the refused source is still stored: %v", err)
			}
			if len(u.jobs.VideoTasks()) != 0 {
				t.Errorf("queued %v for a refused source", u.jobs.VideoTasks())
			}
		})
	}
}

// A lecture has one open upload: opening another cancels the old one (its
// video FAILED by the cancel move, its storage upload aborted so its part
// URLs take nothing more), and the old client learns why when it
// completes.
func TestUploadOneOpenPerLecture(t *testing.T) {
	t.Parallel()
	u := newUploads(t)
	ctx := context.Background()
	data := []byte("the first upload's bytes")
	first, err := u.Create(ctx, 1, u.lecture.ID, "one.mp4", "video/mp4", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	parts := edustreamtest.PutParts(t, first, data)
	var ups []*edustream.Upload
	for i := range 20 {
		up, err := u.Create(ctx, 1, u.lecture.ID, fmt.Sprintf("take-%d.mp4", i), "video/mp4", int64(len(data)))
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		ups = append(ups, up)
	}
	last := ups[len(ups)-1]

	// Every upload but the last is cancelled, and says so.
	for _, up := range append([]*edustream.Upload{first}, ups[:len(ups)-1]...) {
		got, _ := u.store.FindVideoByID(ctx, up.Video.ID)
		if got.Status != edustream.VideoFailed || got.Stage != edustream.StageUpload || !strings.Contains(got.Error, "newer upload") {
			t.Errorf("video %d = %s %q, want FAILED at upload, cancelled by a newer upload", got.ID, edustream.StateOf(got), got.Error)
		}
		// Its part URLs take nothing more: the upload is aborted.
		req, _ := http.NewRequest(http.MethodPut, up.PartURLs[0], bytes.NewReader(data))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("PUT to cancelled upload %d: %s, want 404", up.Video.ID, resp.Status)
		}
	}
	if _, err := u.Complete(ctx, first.Video, parts); edustream.ErrorCode(err) != edustream.ECONFLICT || !strings.Contains(err.Error(), "newer upload") {
		t.Errorf("completing the cancelled upload = %v, want ECONFLICT saying a newer upload was started", err)
	}
	if counts, err := u.store.CountVideos(ctx); err != nil || counts[edustream.VideoAwaitingUpload] != 1 || counts[edustream.VideoFailed] != 20 {
		t.Errorf("videos by status %v, %v; want 1 open upload and 20 cancelled", counts, err)
	}

	// The open one completes.
	done, err := u.Complete(ctx, last.Video, edustreamtest.PutParts(t, last, data))
	if err != nil || done.Status != edustream.VideoUploaded {
		t.Fatalf("completing the open upload: %+v, %v", done, err)
	}
	// With it being processed, a new upload replaces it: its processing is
	// stopped (VideoLifecycle.Create), and the new upload is open.
	if _, err := u.Create(ctx, 1, u.lecture.ID, "more.mp4", "video/mp4", 10); err != nil {
		t.Errorf("upload while one is processed = %v, want it to replace the processed one", err)
	}
	if got, _ := u.store.FindVideoByID(ctx, last.Video.ID); got.Status != edustream.VideoFailed || !strings.Contains(got.Error, "new upload") {
		t.Errorf("the processed video is %s %q after a new upload, want FAILED, stopped by it", got.Status, got.Error)
	}
}
