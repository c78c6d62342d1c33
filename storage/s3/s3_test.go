package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/blobtest"
)

const fakeBucket = "edustream"

// newFake starts an in-process gofakes3 with fakeBucket and returns its URL.
func newFake(t *testing.T) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(fakeBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

func openFake(t *testing.T) *Store {
	t.Helper()
	endpoint := newFake(t)
	s, err := New(context.Background(), Config{
		Bucket:          fakeBucket,
		Endpoint:        endpoint,
		PresignEndpoint: localhost(t, endpoint),
		PathStyle:       true,
		AccessKeyID:     "fake",
		SecretAccessKey: "fake-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// localhost returns endpoint with 127.0.0.1 as localhost: the same server
// under another host name, as browsers reach it in docker-compose.yml,
// so a server that checks signatures refuses URLs signed for the wrong
// host.
func localhost(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() == "127.0.0.1" {
		u.Host = "localhost:" + u.Port()
	}
	return u.String()
}

// openReal connects to the server of EDUSTREAM_TEST_S3_ENDPOINT, or skips.
func openReal(t *testing.T) *Store {
	t.Helper()
	env := testenv.S3(t)
	s, err := New(context.Background(), Config{
		Bucket:          env.Bucket,
		Region:          env.Region,
		Endpoint:        env.Endpoint,
		PresignEndpoint: localhost(t, env.Endpoint),
		PathStyle:       true,
		AccessKeyID:     env.AccessKey,
		SecretAccessKey: env.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cleanUp removes what a test left under prefix in a shared bucket:
// blobs, and uploads it never completed.
func cleanUp(t *testing.T, s *Store, prefix string) {
	t.Cleanup(func() {
		ctx := context.Background()
		blobs, err := s.List(ctx, prefix)
		if err != nil {
			t.Errorf("clean up %s: %v", prefix, err)
			return
		}
		keys := make([]string, len(blobs))
		for i, b := range blobs {
			keys[i] = b.Key
		}
		if err := s.Delete(ctx, keys...); err != nil {
			t.Errorf("clean up %s: %v", prefix, err)
		}
		uploads, err := s.client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
		if err != nil {
			t.Logf("list uploads under %s: %v", prefix, err)
			return
		}
		for _, u := range uploads.Uploads {
			s.AbortMultipartUpload(ctx, aws.ToString(u.Key), aws.ToString(u.UploadId))
		}
	})
}

func TestConformanceFake(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) *blobtest.Harness {
		return &blobtest.Harness{
			Store:  openFake(t),
			Prefix: "test/",
			Lacks: blobtest.Lacks{
				SignatureChecks: true,
				MinPartSize:     true,
				CacheControl:    true,
				MultipartETags:  true,
			},
		}
	})
}

func TestConformanceReal(t *testing.T) {
	t.Parallel()
	testenv.S3(t) // skip (or fail) once, not in every subtest
	blobtest.Run(t, func(t *testing.T) *blobtest.Harness {
		s := openReal(t)
		prefix := testenv.UniquePrefix(t)
		cleanUp(t, s, prefix)
		return &blobtest.Harness{
			Store:  s,
			Prefix: prefix,
			// The server's clock decides; X-Amz-Expires counts whole
			// seconds from a signing time in whole seconds.
			Expire: func(t *testing.T, ttl time.Duration) { time.Sleep(ttl + 1500*time.Millisecond) },
			Lacks:  blobtest.Lacks{ForgettingCompletedUploads: true},
		}
	})
}

func TestNewFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	closed := "http://" + testenv.ClosedAddr(t)
	fake := newFake(t)
	for _, tt := range []struct {
		name string
		cfg  Config
		want []string // in the error
	}{
		{"no bucket", Config{Endpoint: fake}, []string{"Bucket"}},
		{"bad endpoint", Config{Bucket: "b", Endpoint: "seaweedfs:8333"}, []string{"seaweedfs:8333"}},
		{"half the credentials", Config{Bucket: "b", Endpoint: fake, AccessKeyID: "a"}, []string{"secret"}},
		{"unreachable", Config{Bucket: "videos", Endpoint: closed, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"}, []string{`"videos"`, closed}},
		{"missing bucket", Config{Bucket: "nope", Endpoint: fake, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"}, []string{`"nope"`, "does not exist", fake}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, err := New(ctx, tt.cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestPresignEndpoint: presigned URLs name the host browsers reach, API
// calls the other.
func TestPresignEndpoint(t *testing.T) {
	t.Parallel()
	s, err := New(context.Background(), Config{
		Bucket:          fakeBucket,
		Endpoint:        newFake(t),
		PresignEndpoint: "https://files.example:8443",
		PathStyle:       true,
		AccessKeyID:     "a",
		SecretAccessKey: "b",
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.PresignGet(context.Background(), "videos/1/poster.jpg", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "files.example:8443" || u.Path != "/edustream/videos/1/poster.jpg" || u.Query().Get("X-Amz-Expires") != "90" {
		t.Errorf("presigned URL %s", raw)
	}
	for name := range u.Query() {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-checksum") || strings.HasPrefix(strings.ToLower(name), "x-amz-sdk-checksum") {
			t.Errorf("presigned URL carries %s, which a browser cannot satisfy", name)
		}
	}
}

// TestPresignedSignatures: a part URL signs the part's length (so S3
// refuses a body of another), and a GET URL signs its private caching,
// fresh until the URL expires. The conformance suite checks both against
// SeaweedFS; this checks what goes into the URLs.
func TestPresignedSignatures(t *testing.T) {
	t.Parallel()
	s := openFake(t)
	ctx := context.Background()
	raw, err := s.PresignUploadPart(ctx, "videos/1/source", "upload-1", 3, 16<<20, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";"); !slices.Contains(signed, "content-length") || !slices.Contains(signed, "host") {
		t.Errorf("part URL signs %q, want content-length and host", q.Get("X-Amz-SignedHeaders"))
	}
	if q.Get("partNumber") != "3" || q.Get("uploadId") != "upload-1" {
		t.Errorf("part URL %s", raw)
	}

	before := time.Now().Truncate(time.Second)
	raw, err = s.PresignGet(ctx, "videos/1/hls/seg.ts", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if u, err = url.Parse(raw); err != nil {
		t.Fatal(err)
	}
	q = u.Query()
	if q.Get("response-cache-control") != "private" {
		t.Errorf("GET URL overrides Cache-Control with %q, want private", q.Get("response-cache-control"))
	}
	expires, err := http.ParseTime(q.Get("response-expires"))
	if err != nil {
		t.Fatalf("GET URL's response-expires %q: %v", q.Get("response-expires"), err)
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	// Fresh no longer than the URL works: X-Amz-Date + X-Amz-Expires.
	if end := signedAt.Add(90 * time.Second); expires.After(end) || expires.Before(before.Add(90*time.Second)) {
		t.Errorf("Expires %v; the URL works until %v", expires, end)
	}
}

// TestPutStreams: a body that is not seekable (a pipe from ffmpeg) is
// sent unsigned-payload with its length, and checked against it.
func TestPutStreams(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *Store{"fake": openFake, "real": openReal} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			prefix := testenv.UniquePrefix(t)
			cleanUp(t, s, prefix)
			ctx := context.Background()
			body := bytes.Repeat([]byte("segment "), 100_000)
			pr, pw := io.Pipe()
			go func() {
				for chunk := range slices.Chunk(body, 4096) {
					pw.Write(chunk)
				}
				pw.Close()
			}()
			if err := s.Put(ctx, prefix+"stream", pr, int64(len(body)), edustream.BlobMeta{ContentType: "video/mp2t"}); err != nil {
				t.Fatal(err)
			}
			info, err := s.Head(ctx, prefix+"stream")
			if err != nil || info.Size != int64(len(body)) || info.ETag != blobtest.QuotedMD5(body) {
				t.Fatalf("Head: %+v, %v", info, err)
			}
			for _, tt := range []struct {
				name string
				body string
				size int64
			}{{"short", "abc", 4}, {"long", "abcde", 4}} {
				err := s.Put(ctx, prefix+"bad-"+tt.name, io.MultiReader(strings.NewReader(tt.body)), tt.size, edustream.BlobMeta{})
				if edustream.ErrorCode(err) != edustream.EINVALID {
					t.Errorf("%s body: %v, want EINVALID", tt.name, err)
				}
				if _, err := s.Head(ctx, prefix+"bad-"+tt.name); edustream.ErrorCode(err) != edustream.ENOTFOUND {
					t.Errorf("%s body was stored: %v", tt.name, err)
				}
			}
		})
	}
}

// TestCopyInParts: sources beyond CopyObject's limit are copied with
// UploadPartCopy (gofakes3 has no UploadPartCopy, so only against a real
// server).
func TestCopyInParts(t *testing.T) {
	t.Parallel()
	s := openReal(t)
	s.maxCopySize, s.copyPartSize = 1<<20, edustream.MinPartSize
	prefix := testenv.UniquePrefix(t)
	cleanUp(t, s, prefix)
	ctx := context.Background()
	body := blobtest.RandomBytes(t, 2*edustream.MinPartSize+1234)
	if err := s.Put(ctx, prefix+"big", bytes.NewReader(body), int64(len(body)), edustream.BlobMeta{ContentType: "video/mp4"}); err != nil {
		t.Fatal(err)
	}
	meta := edustream.BlobMeta{ContentType: "video/quicktime", CacheControl: "private"}
	if err := s.Copy(ctx, prefix+"big", prefix+"copy", meta); err != nil {
		t.Fatal(err)
	}
	info, err := s.Head(ctx, prefix+"copy")
	if err != nil || info.Size != int64(len(body)) || info.ContentType != meta.ContentType || info.CacheControl != meta.CacheControl {
		t.Fatalf("Head of the copy: %+v, %v", info, err)
	}
	rc, err := s.Get(ctx, prefix+"copy", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("copied bytes differ (%d of %d bytes): %v", len(got), len(body), err)
	}
}

func TestS3ErrorCodes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code string
		want string
	}{
		{"NoSuchKey", edustream.ENOTFOUND},
		{"NotFound", edustream.ENOTFOUND},
		{"NoSuchUpload", edustream.ENOTFOUND},
		{"InvalidPart", edustream.EINVALID},
		{"InvalidPartOrder", edustream.EINVALID},
		{"EntityTooSmall", edustream.EINVALID},
		{"InvalidRange", edustream.EINVALID},
		{"AccessDenied", edustream.EINTERNAL},
		{"NoSuchBucket", edustream.EINTERNAL},
	} {
		err := s3Error(&smithy.GenericAPIError{Code: tt.code}, "get", "k")
		if got := edustream.ErrorCode(err); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.code, got, tt.want)
		}
	}
}

// TestDeleteFallback: a server without DeleteObjects gets one DeleteObject
// per key, and is not asked again.
func TestDeleteFallback(t *testing.T) {
	t.Parallel()
	backend := s3mem.New()
	if err := backend.CreateBucket(fakeBucket); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(backend).Server()
	var batches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Query().Has("delete") {
			batches.Add(1)
			w.WriteHeader(http.StatusNotImplemented)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>no</Message></Error>`)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s, err := New(context.Background(), Config{Bucket: fakeBucket, Endpoint: srv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := range 2 {
		keys := []string{"a", "b/c", "missing"}
		for _, k := range keys[:2] {
			if err := s.Put(ctx, k, strings.NewReader("x"), 1, edustream.BlobMeta{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete(ctx, keys...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if left, err := s.List(ctx, ""); err != nil || len(left) != 0 {
			t.Errorf("round %d: left %v, %v", round, left, err)
		}
	}
	if n := batches.Load(); n != 1 {
		t.Errorf("DeleteObjects asked %d times, want once", n)
	}
}

// TestDeleteBatches: the servers under test take DeleteObjects.
func TestDeleteBatches(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *Store{"fake": openFake, "real": openReal} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			prefix := testenv.UniquePrefix(t)
			cleanUp(t, s, prefix)
			ctx := context.Background()
			if err := s.Put(ctx, prefix+"k", strings.NewReader("x"), 1, edustream.BlobMeta{}); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, prefix+"k", prefix+"missing"); err != nil {
				t.Fatal(err)
			}
			if s.singleDeletes.Load() {
				t.Error("fell back to single deletes")
			}
			if _, err := s.Head(ctx, prefix+"k"); edustream.ErrorCode(err) != edustream.ENOTFOUND {
				t.Errorf("Head after Delete: %v", err)
			}
		})
	}
}
