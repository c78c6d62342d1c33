// Package blobtest is the one conformance suite every edustream.BlobStore
// passes: the local store, S3 through an in-process fake, and S3 against a
// real server. It goes through real HTTP wherever clients do: parts are PUT
// to presigned URLs with a plain http.Client and their ETags read from the
// response header, and presigned GETs are fetched with and without ranges.
//
// Every store is tested behind edustream.CheckedBlobStore, as production
// runs it: the argument refusals are the wrapper's, the rest the store's.
//
// What a backend cannot do (the fake does not check signatures) is declared
// by its harness in Lacks; the checks that need it say so when they skip.
package blobtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

// Harness is one store under test.
type Harness struct {
	// Store is the store under test. Run puts it behind
	// edustream.CheckedBlobStore.
	Store edustream.BlobStore
	// Prefix starts every key the test uses. Tests that share a bucket
	// get different prefixes, so none sees another's blobs.
	Prefix string
	// Expire makes presigned URLs made with ttl before the call expire: a
	// store with an injected clock moves it on, one whose server decides
	// waits (ttl is whole seconds, as S3 counts).
	Expire func(t *testing.T, ttl time.Duration)
	// Client makes the requests to presigned URLs; nil means a client
	// with a timeout.
	Client *http.Client
	// Lacks declares what the backend cannot do; those checks are
	// skipped, saying so. The zero value checks everything.
	Lacks Lacks
}

// Lacks lists what a backend may lack. Only fakes should lack anything:
// each field is a way production S3 behaves that clients rely on.
type Lacks struct {
	// SignatureChecks: presigned URLs work tampered with, expired or with
	// another method (gofakes3 ignores signatures).
	SignatureChecks bool
	// MinPartSize: parts but the last may be smaller than
	// edustream.MinPartSize.
	MinPartSize bool
	// CacheControl: Cache-Control is not stored, so Head and GET lack it.
	CacheControl bool
	// MultipartETags: a completed upload's ETag is not S3's
	// md5-of-md5s-N form.
	MultipartETags bool
	// ForgettingCompletedUploads: completing a completed upload again
	// succeeds instead of ENOTFOUND (SeaweedFS, and S3 itself for a
	// while after the first completion).
	ForgettingCompletedUploads bool
}

// Run runs the suite. open returns a fresh harness for each test.
func Run(t *testing.T, open func(t *testing.T) *Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *Harness)
	}{
		{"PutHeadGet", testPutHeadGet},
		{"PutReplaces", testPutReplaces},
		{"PutWrongSize", testPutWrongSize},
		{"GetRanges", testGetRanges},
		{"NotFound", testNotFound},
		{"List", testList},
		{"KeyIsObjectAndPrefix", testKeyIsObjectAndPrefix},
		{"Copy", testCopy},
		{"Delete", testDelete},
		{"DeleteMany", testDeleteMany},
		{"Multipart", testMultipart},
		{"MultipartErrors", testMultipartErrors},
		{"AbortMultipart", testAbortMultipart},
		{"PartLength", testPartLength},
		{"PresignedGet", testPresignedGet},
		{"PresignArguments", testPresignArguments},
		{"RefusedKeys", testRefusedKeys},
		{"RefusedArguments", testRefusedArguments},
		{"TamperedURL", testTamperedURL},
		{"ExpiredURL", testExpiredURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := open(t)
			h.Store = edustream.CheckedBlobStore(h.Store)
			if h.Client == nil {
				h.Client = &http.Client{Timeout: time.Minute}
			}
			tt.fn(t, h)
		})
	}
}

func (h *Harness) key(name string) string { return h.Prefix + name }

// RandomBytes returns n random bytes: random so a part swapped for
// another, or a range off by one, cannot compare equal.
func RandomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// QuotedMD5 is the ETag S3 gives a single-part object.
func QuotedMD5(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// MultipartETag is the ETag S3 gives an object completed from parts with
// these (quoted) ETags.
func MultipartETag(t testing.TB, etags ...string) string {
	t.Helper()
	h := md5.New()
	for _, e := range etags {
		b, err := hex.DecodeString(strings.Trim(e, `"`))
		if err != nil {
			t.Fatalf("ETag %s is not a quoted MD5: %v", e, err)
		}
		h.Write(b)
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(etags))
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := edustream.ErrorCode(err); got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

func put(t *testing.T, h *Harness, key string, body []byte, meta edustream.BlobMeta) {
	t.Helper()
	if err := h.Store.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), meta); err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
}

func get(t *testing.T, h *Harness, key string, offset, length int64) []byte {
	t.Helper()
	rc, err := h.Store.Get(context.Background(), key, offset, length)
	if err != nil {
		t.Fatalf("Get %s [%d, %d]: %v", key, offset, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func head(t *testing.T, h *Harness, key string) *edustream.BlobInfo {
	t.Helper()
	info, err := h.Store.Head(context.Background(), key)
	if err != nil {
		t.Fatalf("Head %s: %v", key, err)
	}
	return info
}

// sameBytes compares without printing megabytes on failure.
func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (md5 %s), want %d bytes (md5 %s)", what, len(got), QuotedMD5(got), len(want), QuotedMD5(want))
	}
}

// checkModTime allows for clocks of servers in other places and S3's
// whole seconds.
func checkModTime(t *testing.T, key string, got, before time.Time) {
	t.Helper()
	if got.Before(before.Add(-time.Minute)) || got.After(time.Now().Add(time.Minute)) {
		t.Errorf("%s: ModTime %v, want about %v", key, got, before)
	}
}

func testPutHeadGet(t *testing.T, h *Harness) {
	start := time.Now()
	key := h.key("videos/1/hls/master.m3u8")
	body := []byte("#EXTM3U\n#EXT-X-VERSION:3\n")
	meta := edustream.BlobMeta{ContentType: "application/vnd.apple.mpegurl", CacheControl: "public, max-age=60"}
	put(t, h, key, body, meta)

	info := head(t, h, key)
	checkModTime(t, key, info.ModTime, start)
	want := edustream.BlobInfo{Key: key, Size: int64(len(body)), ETag: QuotedMD5(body), ContentType: meta.ContentType, CacheControl: meta.CacheControl}
	info.ModTime = time.Time{}
	if h.Lacks.CacheControl {
		t.Log("Cache-Control not checked: the harness declares the backend lacks it")
		want.CacheControl = info.CacheControl
	}
	if diff := cmp.Diff(want, *info); diff != "" {
		t.Errorf("Head (-want +got):\n%s", diff)
	}
	sameBytes(t, "Get", get(t, h, key, 0, -1), body)

	empty := h.key("empty")
	put(t, h, empty, nil, edustream.BlobMeta{})
	if info := head(t, h, empty); info.Size != 0 || info.ETag != QuotedMD5(nil) {
		t.Errorf("empty blob: size %d, ETag %s", info.Size, info.ETag)
	}
	sameBytes(t, "Get of an empty blob", get(t, h, empty, 0, -1), nil)
}

func testPutReplaces(t *testing.T, h *Harness) {
	key := h.key("poster.jpg")
	put(t, h, key, []byte("old poster, longer than the new one"), edustream.BlobMeta{ContentType: "image/png", CacheControl: "no-store"})
	if !h.Lacks.CacheControl {
		if info := head(t, h, key); info.CacheControl != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", info.CacheControl)
		}
	}
	body := []byte("new poster")
	put(t, h, key, body, edustream.BlobMeta{ContentType: "image/jpeg"})
	info := head(t, h, key)
	if info.Size != int64(len(body)) || info.ETag != QuotedMD5(body) || info.ContentType != "image/jpeg" || info.CacheControl != "" {
		t.Errorf("after replacing: %+v", info)
	}
	sameBytes(t, "Get after replacing", get(t, h, key, 0, -1), body)
}

func testPutWrongSize(t *testing.T, h *Harness) {
	ctx := context.Background()
	key := h.key("wrong-size")
	old := []byte("what was there")
	put(t, h, key, old, edustream.BlobMeta{})
	for _, tt := range []struct {
		name string
		body []byte
		size int64
	}{
		{"short body", []byte("abc"), 10},
		{"long body", []byte("abcdefghijkl"), 5},
	} {
		// A reader that is not a *bytes.Reader, so no store can learn the
		// real length up front.
		err := h.Store.Put(ctx, key, io.MultiReader(bytes.NewReader(tt.body)), tt.size, edustream.BlobMeta{})
		if err == nil {
			t.Errorf("%s: Put succeeded", tt.name)
		}
	}
	sameBytes(t, "blob after failed Puts", get(t, h, key, 0, -1), old)
}

func testGetRanges(t *testing.T, h *Harness) {
	key := h.key("source")
	body := RandomBytes(t, 1000)
	put(t, h, key, body, edustream.BlobMeta{ContentType: "video/mp4"})
	for _, tt := range []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"whole", 0, -1, body},
		{"from an offset", 10, -1, body[10:]},
		{"middle", 100, 50, body[100:150]},
		{"first byte", 0, 1, body[:1]},
		{"last byte", 999, 1, body[999:]},
		{"length beyond the end is clamped", 990, 100, body[990:]},
		{"zero length", 5, 0, nil},
		{"offset at the end", 1000, -1, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sameBytes(t, tt.name, get(t, h, key, tt.offset, tt.length), tt.want)
		})
	}
	_, err := h.Store.Get(context.Background(), key, 1001, -1)
	wantCode(t, "Get past the end", err, edustream.EINVALID)
}

func testNotFound(t *testing.T, h *Harness) {
	ctx := context.Background()
	key := h.key("missing")
	_, err := h.Store.Head(ctx, key)
	wantCode(t, "Head", err, edustream.ENOTFOUND)
	_, err = h.Store.Get(ctx, key, 0, -1)
	wantCode(t, "Get", err, edustream.ENOTFOUND)
	_, err = h.Store.Get(ctx, key, 10, 5)
	wantCode(t, "Get of a range", err, edustream.ENOTFOUND)
	_, err = h.Store.Get(ctx, key, 0, 0)
	wantCode(t, "Get of nothing", err, edustream.ENOTFOUND)
	err = h.Store.Copy(ctx, key, h.key("copy"), edustream.BlobMeta{})
	wantCode(t, "Copy", err, edustream.ENOTFOUND)
}

func testList(t *testing.T, h *Harness) {
	ctx := context.Background()
	// Key order is byte order: "a-b" sorts between "a" and "a/…" ('-' <
	// '/'), which a store walking directories must not get wrong.
	keys := []string{"a/1", "a/10", "a/2", "a/b/c", "a-b", "ab", "b/x", "a/b/d/e"}
	for i, k := range keys {
		put(t, h, h.key(k), bytes.Repeat([]byte{'x'}, i+1), edustream.BlobMeta{ContentType: "text/plain"})
	}
	for _, tt := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-b", "a/1", "a/10", "a/2", "a/b/c", "a/b/d/e", "ab", "b/x"}},
		{"a", []string{"a-b", "a/1", "a/10", "a/2", "a/b/c", "a/b/d/e", "ab"}},
		{"a/", []string{"a/1", "a/10", "a/2", "a/b/c", "a/b/d/e"}},
		{"a/1", []string{"a/1", "a/10"}},
		{"a/b", []string{"a/b/c", "a/b/d/e"}},
		{"a/b/d/", []string{"a/b/d/e"}},
		{"b/x", []string{"b/x"}},
		{"c", nil},
		{"a/b/c/", nil},
		{"a/../", nil},
	} {
		t.Run(fmt.Sprintf("prefix %q", tt.prefix), func(t *testing.T) {
			got, err := h.Store.List(ctx, h.key(tt.prefix))
			if err != nil {
				t.Fatal(err)
			}
			var gotKeys []string
			for _, info := range got {
				gotKeys = append(gotKeys, strings.TrimPrefix(info.Key, h.Prefix))
				i := slices.Index(keys, strings.TrimPrefix(info.Key, h.Prefix))
				body := bytes.Repeat([]byte{'x'}, i+1)
				if info.Size != int64(len(body)) || info.ETag != QuotedMD5(body) || info.ModTime.IsZero() {
					t.Errorf("%s: size %d, ETag %s, ModTime %v; want %d, %s", info.Key, info.Size, info.ETag, info.ModTime, len(body), QuotedMD5(body))
				}
			}
			if diff := cmp.Diff(tt.want, gotKeys); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

// testKeyIsObjectAndPrefix: as in S3, "a/b" may be a blob and the prefix of
// others at once, whatever the characters (a store of files must not let
// them collide).
func testKeyIsObjectAndPrefix(t *testing.T, h *Harness) {
	blobs := map[string][]byte{}
	for _, k := range []string{"a/b", "a/b/c", "a/b.blob", "a/b.blob/c", "a/b.dir", "a/b.dir/c.blob", "a/.b", "a/..b", "a/b~", "a/b c/d%2F e"} {
		blobs[k] = []byte("blob " + k)
		put(t, h, h.key(k), blobs[k], edustream.BlobMeta{})
	}
	for k, body := range blobs {
		sameBytes(t, k, get(t, h, h.key(k), 0, -1), body)
	}
	got, err := h.Store.List(context.Background(), h.key(""))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blobs) {
		t.Errorf("List found %d blobs, want %d: %v", len(got), len(blobs), got)
	}
	if err := h.Store.Delete(context.Background(), h.key("a/b")); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "a/b/c after deleting a/b", get(t, h, h.key("a/b/c"), 0, -1), blobs["a/b/c"])
}

func testCopy(t *testing.T, h *Harness) {
	ctx := context.Background()
	src, dst := h.key("work/720p/seg_000.ts"), h.key("hls/720p/seg_000.ts")
	body := RandomBytes(t, 4096)
	// Explicit types: SeaweedFS replaces application/octet-stream with a
	// guess from the extension (".ts" becomes text/typescript).
	srcMeta := edustream.BlobMeta{ContentType: "text/plain", CacheControl: "no-store"}
	put(t, h, src, body, srcMeta)
	dstMeta := edustream.BlobMeta{ContentType: "video/mp2t", CacheControl: "public, max-age=31536000, immutable"}
	if err := h.Store.Copy(ctx, src, dst, dstMeta); err != nil {
		t.Fatal(err)
	}
	got := head(t, h, dst)
	if h.Lacks.CacheControl {
		dstMeta.CacheControl, srcMeta.CacheControl = got.CacheControl, head(t, h, src).CacheControl
	}
	if got.Size != int64(len(body)) || got.ContentType != dstMeta.ContentType || got.CacheControl != dstMeta.CacheControl {
		t.Errorf("copy: %+v, want size %d and %+v", got, len(body), dstMeta)
	}
	sameBytes(t, "copy", get(t, h, dst, 0, -1), body)
	if s := head(t, h, src); s.ContentType != srcMeta.ContentType || s.CacheControl != srcMeta.CacheControl {
		t.Errorf("source changed by Copy: %+v", s)
	}

	// Copying over an existing blob replaces it, meta included.
	if err := h.Store.Copy(ctx, src, src+".again", edustream.BlobMeta{}); err != nil {
		t.Fatal(err)
	}
	if err := h.Store.Copy(ctx, src+".again", dst, edustream.BlobMeta{ContentType: "video/mp2t"}); err != nil {
		t.Fatal(err)
	}
	if got := head(t, h, dst); got.CacheControl != "" {
		t.Errorf("Cache-Control %q survived a Copy with none", got.CacheControl)
	}
}

func testDelete(t *testing.T, h *Harness) {
	ctx := context.Background()
	keep, gone1, gone2 := h.key("d/keep"), h.key("d/gone1"), h.key("d/e/gone2")
	for _, k := range []string{keep, gone1, gone2} {
		put(t, h, k, []byte(k), edustream.BlobMeta{})
	}
	if err := h.Store.Delete(ctx, gone1, gone2, h.key("d/never-was")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{gone1, gone2} {
		_, err := h.Store.Head(ctx, k)
		wantCode(t, "Head after Delete", err, edustream.ENOTFOUND)
	}
	got, err := h.Store.List(ctx, h.key("d/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != keep {
		t.Errorf("List after Delete: %v, want only %s", got, keep)
	}
	if err := h.Store.Delete(ctx); err != nil {
		t.Errorf("Delete of nothing: %v", err)
	}
	if err := h.Store.Delete(ctx, gone1); err != nil {
		t.Errorf("Delete of a deleted key: %v", err)
	}
	// A deleted key can be written again (a store of files pruned its
	// directories).
	put(t, h, gone2, []byte("back"), edustream.BlobMeta{})
	sameBytes(t, "rewritten", get(t, h, gone2, 0, -1), []byte("back"))
}

// testDeleteMany deletes more keys than S3 takes in one DeleteObjects.
func testDeleteMany(t *testing.T, h *Harness) {
	ctx := context.Background()
	const n = 1003
	keys := make([]string, n)
	for i := range keys {
		keys[i] = h.key(fmt.Sprintf("many/%04d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for _, k := range keys[:n-1] { // the last never exists
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := h.Store.Put(ctx, k, strings.NewReader("x"), 1, edustream.BlobMeta{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := h.Store.Delete(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	got, err := h.Store.List(ctx, h.key("many/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("%d blobs left after deleting %d, first %s", len(got), n, got[0].Key)
	}
}
