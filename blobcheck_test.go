package edustream_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// recordingBlobs is a BlobStore that only records its calls: whatever the
// wrapper lets through arrives here, and everything succeeds.
type recordingBlobs struct{ calls []string }

func (r *recordingBlobs) record(format string, args ...any) {
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recordingBlobs) CreateMultipartUpload(_ context.Context, key, contentType string) (string, error) {
	r.record("CreateMultipartUpload %s %s", key, contentType)
	return "upload", nil
}

func (r *recordingBlobs) PresignUploadPart(_ context.Context, key, uploadID string, partNumber int, size int64, ttl time.Duration) (string, error) {
	r.record("PresignUploadPart %s %s %d %d %v", key, uploadID, partNumber, size, ttl)
	return "https://blobs.example/part", nil
}

func (r *recordingBlobs) CompleteMultipartUpload(_ context.Context, key, uploadID string, parts []edustream.UploadPart) error {
	r.record("CompleteMultipartUpload %s %s %v", key, uploadID, parts)
	return nil
}

func (r *recordingBlobs) AbortMultipartUpload(_ context.Context, key, uploadID string) error {
	r.record("AbortMultipartUpload %s %s", key, uploadID)
	return nil
}

func (r *recordingBlobs) Put(_ context.Context, key string, _ io.Reader, size int64, meta edustream.BlobMeta) error {
	r.record("Put %s %d %+v", key, size, meta)
	return nil
}

func (r *recordingBlobs) Get(_ context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	r.record("Get %s %d %d", key, offset, length)
	return io.NopCloser(strings.NewReader("")), nil
}

func (r *recordingBlobs) Head(_ context.Context, key string) (*edustream.BlobInfo, error) {
	r.record("Head %s", key)
	return &edustream.BlobInfo{Key: key}, nil
}

func (r *recordingBlobs) List(_ context.Context, prefix string) ([]edustream.BlobInfo, error) {
	r.record("List %s", prefix)
	return nil, nil
}

func (r *recordingBlobs) Copy(_ context.Context, src, dst string, meta edustream.BlobMeta) error {
	r.record("Copy %s %s %+v", src, dst, meta)
	return nil
}

func (r *recordingBlobs) Delete(_ context.Context, keys ...string) error {
	r.record("Delete %v", keys)
	return nil
}

func (r *recordingBlobs) PresignGet(_ context.Context, key string, ttl time.Duration) (string, error) {
	r.record("PresignGet %s %v", key, ttl)
	return "https://blobs.example/get", nil
}

// TestCheckedBlobStore: a refused call never reaches the store, and an
// accepted one reaches it once, unchanged. The codes are checked against
// every store by the conformance suite (storage/blobtest); what this adds
// is that the store is not asked.
func TestCheckedBlobStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	part := []edustream.UploadPart{{PartNumber: 1, ETag: `"e"`}}
	badMeta := edustream.BlobMeta{ContentType: "text/html\r\nSet-Cookie: a=b"}
	for _, tt := range []struct {
		name string
		call func(s edustream.BlobStore) error
		code string // "" when the call goes through
		want string // the call the store sees
	}{
		{"CreateMultipartUpload", func(s edustream.BlobStore) error {
			_, err := s.CreateMultipartUpload(ctx, "v/1/source", "video/mp4")
			return err
		}, "", "CreateMultipartUpload v/1/source video/mp4"},
		{"CreateMultipartUpload, bad key", func(s edustream.BlobStore) error {
			_, err := s.CreateMultipartUpload(ctx, "v//source", "video/mp4")
			return err
		}, edustream.EINVALID, ""},
		{"CreateMultipartUpload, bad content type", func(s edustream.BlobStore) error {
			_, err := s.CreateMultipartUpload(ctx, "v/1/source", "video/mp4\n")
			return err
		}, edustream.EINVALID, ""},

		{"PresignUploadPart", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "v/1/source", "u", 2, 1000, time.Minute)
			return err
		}, "", "PresignUploadPart v/1/source u 2 1000 1m0s"},
		{"PresignUploadPart, largest part", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "v/1/source", "u", 1, edustream.MaxPartSize, time.Minute)
			return err
		}, "", "PresignUploadPart v/1/source u 1 5368709120 1m0s"},
		{"PresignUploadPart, empty part", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "v/1/source", "u", 1, 0, time.Minute)
			return err
		}, edustream.EINVALID, ""},
		{"PresignUploadPart, part too large", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "v/1/source", "u", 1, edustream.MaxPartSize+1, time.Minute)
			return err
		}, edustream.EINVALID, ""},
		{"PresignUploadPart, bad key", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "/v", "u", 1, 1000, time.Minute)
			return err
		}, edustream.EINVALID, ""},
		{"PresignUploadPart, part 0", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "v/1/source", "u", 0, 1000, time.Minute)
			return err
		}, edustream.EINVALID, ""},
		{"PresignUploadPart, ttl too long", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "v/1/source", "u", 1, 1000, edustream.MaxPresignTTL+time.Second)
			return err
		}, edustream.EINVALID, ""},
		{"PresignUploadPart, no upload id", func(s edustream.BlobStore) error {
			_, err := s.PresignUploadPart(ctx, "v/1/source", "", 1, 1000, time.Minute)
			return err
		}, edustream.ENOTFOUND, ""},

		{"CompleteMultipartUpload", func(s edustream.BlobStore) error {
			return s.CompleteMultipartUpload(ctx, "v/1/source", "u", part)
		}, "", `CompleteMultipartUpload v/1/source u [{1 "e"}]`},
		{"CompleteMultipartUpload, bad key", func(s edustream.BlobStore) error {
			return s.CompleteMultipartUpload(ctx, "v/../source", "u", part)
		}, edustream.EINVALID, ""},
		{"CompleteMultipartUpload, no parts", func(s edustream.BlobStore) error {
			return s.CompleteMultipartUpload(ctx, "v/1/source", "u", nil)
		}, edustream.EINVALID, ""},
		{"CompleteMultipartUpload, no upload id", func(s edustream.BlobStore) error {
			return s.CompleteMultipartUpload(ctx, "v/1/source", "", part)
		}, edustream.ENOTFOUND, ""},

		{"AbortMultipartUpload", func(s edustream.BlobStore) error {
			return s.AbortMultipartUpload(ctx, "v/1/source", "u")
		}, "", "AbortMultipartUpload v/1/source u"},
		{"AbortMultipartUpload, bad key", func(s edustream.BlobStore) error {
			return s.AbortMultipartUpload(ctx, "", "u")
		}, edustream.EINVALID, ""},
		{"AbortMultipartUpload, no upload id", func(s edustream.BlobStore) error {
			return s.AbortMultipartUpload(ctx, "v/1/source", "")
		}, "", ""},

		{"Put", func(s edustream.BlobStore) error {
			return s.Put(ctx, "v/1/poster.jpg", strings.NewReader("x"), 1, edustream.BlobMeta{ContentType: "image/jpeg"})
		}, "", "Put v/1/poster.jpg 1 {ContentType:image/jpeg CacheControl:}"},
		{"Put, bad key", func(s edustream.BlobStore) error {
			return s.Put(ctx, "v/1/", strings.NewReader("x"), 1, edustream.BlobMeta{})
		}, edustream.EINVALID, ""},
		{"Put, bad meta", func(s edustream.BlobStore) error {
			return s.Put(ctx, "v/1/poster.jpg", strings.NewReader("x"), 1, badMeta)
		}, edustream.EINVALID, ""},
		{"Put, negative size", func(s edustream.BlobStore) error {
			return s.Put(ctx, "v/1/poster.jpg", strings.NewReader(""), -1, edustream.BlobMeta{})
		}, edustream.EINVALID, ""},

		{"Get", func(s edustream.BlobStore) error {
			_, err := s.Get(ctx, "v/1/source", 10, -1)
			return err
		}, "", "Get v/1/source 10 -1"},
		{"Get, bad key", func(s edustream.BlobStore) error {
			_, err := s.Get(ctx, "v\\1", 0, -1)
			return err
		}, edustream.EINVALID, ""},
		{"Get, negative offset", func(s edustream.BlobStore) error {
			_, err := s.Get(ctx, "v/1/source", -1, -1)
			return err
		}, edustream.EINVALID, ""},

		{"Head", func(s edustream.BlobStore) error {
			_, err := s.Head(ctx, "v/1/source")
			return err
		}, "", "Head v/1/source"},
		{"Head, bad key", func(s edustream.BlobStore) error {
			_, err := s.Head(ctx, "v/./source")
			return err
		}, edustream.EINVALID, ""},

		{"List of any prefix", func(s edustream.BlobStore) error {
			_, err := s.List(ctx, "v/../")
			return err
		}, "", "List v/../"},

		{"Copy", func(s edustream.BlobStore) error {
			return s.Copy(ctx, "v/1/a", "v/1/b", edustream.BlobMeta{CacheControl: "no-store"})
		}, "", "Copy v/1/a v/1/b {ContentType: CacheControl:no-store}"},
		{"Copy, bad source", func(s edustream.BlobStore) error {
			return s.Copy(ctx, "v/1/a\x00", "v/1/b", edustream.BlobMeta{})
		}, edustream.EINVALID, ""},
		{"Copy, bad destination", func(s edustream.BlobStore) error {
			return s.Copy(ctx, "v/1/a", "v/1/b/", edustream.BlobMeta{})
		}, edustream.EINVALID, ""},
		{"Copy, bad meta", func(s edustream.BlobStore) error {
			return s.Copy(ctx, "v/1/a", "v/1/b", badMeta)
		}, edustream.EINVALID, ""},

		{"Delete", func(s edustream.BlobStore) error {
			return s.Delete(ctx, "v/1/a", "v/1/b")
		}, "", "Delete [v/1/a v/1/b]"},
		{"Delete, one bad key of two", func(s edustream.BlobStore) error {
			return s.Delete(ctx, "v/1/a", "..")
		}, edustream.EINVALID, ""},

		{"PresignGet", func(s edustream.BlobStore) error {
			_, err := s.PresignGet(ctx, "v/1/a", time.Hour)
			return err
		}, "", "PresignGet v/1/a 1h0m0s"},
		{"PresignGet, bad key", func(s edustream.BlobStore) error {
			_, err := s.PresignGet(ctx, "v/1/\xff", time.Hour)
			return err
		}, edustream.EINVALID, ""},
		{"PresignGet, ttl under a second", func(s edustream.BlobStore) error {
			_, err := s.PresignGet(ctx, "v/1/a", time.Millisecond)
			return err
		}, edustream.EINVALID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingBlobs{}
			err := tt.call(edustream.CheckedBlobStore(rec))
			if got := edustream.ErrorCode(err); got != tt.code {
				t.Errorf("error %v has code %q, want %q", err, got, tt.code)
			}
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if strings.Join(rec.calls, "\n") != strings.Join(want, "\n") {
				t.Errorf("the store saw %q, want %q", rec.calls, want)
			}
		})
	}
}

// TestCheckedBlobStoreOnce: wrapping a checked store again adds nothing.
func TestCheckedBlobStoreOnce(t *testing.T) {
	t.Parallel()
	checked := edustream.CheckedBlobStore(&recordingBlobs{})
	if again := edustream.CheckedBlobStore(checked); again != checked {
		t.Errorf("CheckedBlobStore of a checked store wrapped it again")
	}
}
