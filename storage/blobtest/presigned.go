package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

const ttl = 10 * time.Minute

// upload is one multipart upload under test.
type upload struct {
	h   *Harness
	key string
	id  string
}

func newUpload(t *testing.T, h *Harness, name, contentType string) *upload {
	t.Helper()
	key := h.key(name)
	id, err := h.Store.CreateMultipartUpload(context.Background(), key, contentType)
	if err != nil {
		t.Fatalf("CreateMultipartUpload %s: %v", key, err)
	}
	if id == "" {
		t.Fatal("CreateMultipartUpload returned an empty upload id")
	}
	return &upload{h: h, key: key, id: id}
}

// partURL presigns part n for a body of size bytes.
func (u *upload) partURL(t *testing.T, n int, size int64) string {
	t.Helper()
	raw, err := u.h.Store.PresignUploadPart(context.Background(), u.key, u.id, n, size, ttl)
	if err != nil {
		t.Fatalf("PresignUploadPart %d: %v", n, err)
	}
	return raw
}

// put PUTs body to a presigned part URL the way a browser does and returns
// the response's ETag header, failing unless the answer is 200.
func (u *upload) put(t *testing.T, n int, body []byte) string {
	t.Helper()
	return u.putTo(t, n, u.partURL(t, n, int64(len(body))), body)
}

// putTo is put to a part URL made before.
func (u *upload) putTo(t *testing.T, n int, partURL string, body []byte) string {
	t.Helper()
	resp := do(t, u.h, http.MethodPut, partURL, body, nil)
	if resp.status != http.StatusOK {
		t.Fatalf("PUT part %d: %d %s", n, resp.status, resp.body)
	}
	etag := resp.header.Get("ETag")
	if etag == "" {
		t.Fatalf("PUT part %d: no ETag header", n)
	}
	return etag
}

func (u *upload) complete(parts ...edustream.UploadPart) error {
	return u.h.Store.CompleteMultipartUpload(context.Background(), u.key, u.id, parts)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do makes one request with the harness's client. header values are set
// as given.
func do(t *testing.T, h *Harness, method, rawURL string, body []byte, header map[string]string) response {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, h, req, header)
}

// doChunked is do with a body of unknown length: sent chunked, without a
// Content-Length, so the server learns its length only by reading it.
func doChunked(t *testing.T, h *Harness, method, rawURL string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	return send(t, h, req, nil)
}

func send(t *testing.T, h *Harness, req *http.Request, header map[string]string) response {
	t.Helper()
	method, rawURL := req.Method, req.URL.String()
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func testMultipart(t *testing.T, h *Harness) {
	ctx := context.Background()
	start := time.Now()
	part1 := RandomBytes(t, edustream.MinPartSize)
	part2 := RandomBytes(t, edustream.MinPartSize+123)
	part3 := RandomBytes(t, 1000)
	u := newUpload(t, h, "videos/7/source", "video/mp4")

	// Out of order, and part 1 twice: the last PUT of a part wins.
	etag3 := u.put(t, 3, part3)
	u.put(t, 1, RandomBytes(t, edustream.MinPartSize))
	etag2 := u.put(t, 2, part2)
	etag1 := u.put(t, 1, part1)
	for n, e := range map[int]string{1: etag1, 2: etag2, 3: etag3} {
		want := QuotedMD5([][]byte{nil, part1, part2, part3}[n])
		if e != want {
			t.Errorf("part %d: ETag %s, want %s", n, e, want)
		}
	}
	if err := u.complete(
		edustream.UploadPart{PartNumber: 1, ETag: etag1},
		edustream.UploadPart{PartNumber: 2, ETag: etag2},
		edustream.UploadPart{PartNumber: 3, ETag: etag3},
	); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}

	whole := bytes.Join([][]byte{part1, part2, part3}, nil)
	info := head(t, h, u.key)
	if info.Size != int64(len(whole)) || info.ContentType != "video/mp4" {
		t.Errorf("Head: size %d, type %q; want %d, video/mp4", info.Size, info.ContentType, len(whole))
	}
	if want := MultipartETag(t, etag1, etag2, etag3); h.Lacks.MultipartETags {
		t.Log("multipart ETag not checked: the harness declares the backend lacks it")
	} else if info.ETag != want {
		t.Errorf("ETag %s, want %s", info.ETag, want)
	}
	checkModTime(t, u.key, info.ModTime, start)
	sameBytes(t, "Get", get(t, h, u.key, 0, -1), whole)
	// A range across the boundary of parts 1 and 2.
	sameBytes(t, "Get across parts", get(t, h, u.key, edustream.MinPartSize-10, 20), whole[edustream.MinPartSize-10:edustream.MinPartSize+10])

	raw, err := h.Store.PresignGet(ctx, u.key, ttl)
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, h, http.MethodGet, raw, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", edustream.MinPartSize-3, edustream.MinPartSize+2)})
	if resp.status != http.StatusPartialContent {
		t.Fatalf("ranged GET: %d %s", resp.status, resp.body)
	}
	sameBytes(t, "ranged GET", resp.body, whole[edustream.MinPartSize-3:edustream.MinPartSize+3])
	if got, want := resp.header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", edustream.MinPartSize-3, edustream.MinPartSize+2, len(whole)); got != want {
		t.Errorf("Content-Range %q, want %q", got, want)
	}
	resp = do(t, h, http.MethodGet, raw, nil, nil)
	if resp.status != http.StatusOK || resp.header.Get("ETag") != info.ETag || resp.header.Get("Content-Type") != "video/mp4" {
		t.Errorf("GET: %d, ETag %q, type %q", resp.status, resp.header.Get("ETag"), resp.header.Get("Content-Type"))
	}
	sameBytes(t, "GET", resp.body, whole)

	if h.Lacks.ForgettingCompletedUploads {
		t.Log("second completion not checked: the harness declares the backend lacks forgetting completed uploads")
	} else {
		err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: etag1}, edustream.UploadPart{PartNumber: 2, ETag: etag2}, edustream.UploadPart{PartNumber: 3, ETag: etag3})
		wantCode(t, "second CompleteMultipartUpload", err, edustream.ENOTFOUND)
	}
}

func testMultipartErrors(t *testing.T, h *Harness) {
	small := []byte("a part smaller than MinPartSize")
	big := RandomBytes(t, edustream.MinPartSize)

	t.Run("wrong ETag, then the right one", func(t *testing.T) {
		u := newUpload(t, h, "wrong-etag", "video/mp4")
		etag := u.put(t, 1, small)
		err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: QuotedMD5([]byte("something else"))})
		wantCode(t, "wrong ETag", err, edustream.EINVALID)
		// The upload stays open, so the client can send the right list;
		// ETags count with or without their quotes.
		if err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: strings.Trim(etag, `"`)}); err != nil {
			t.Fatalf("complete with the right ETag: %v", err)
		}
		sameBytes(t, "completed", get(t, h, u.key, 0, -1), small)
	})
	t.Run("missing part", func(t *testing.T) {
		u := newUpload(t, h, "missing-part", "video/mp4")
		etag := u.put(t, 1, big)
		err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: etag}, edustream.UploadPart{PartNumber: 2, ETag: etag})
		wantCode(t, "missing part", err, edustream.EINVALID)
	})
	t.Run("part too small", func(t *testing.T) {
		if h.Lacks.MinPartSize {
			t.Skip("the harness declares the backend lacks the MinPartSize check")
		}
		u := newUpload(t, h, "small-part", "video/mp4")
		e1, e2 := u.put(t, 1, small), u.put(t, 2, big)
		err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: e1}, edustream.UploadPart{PartNumber: 2, ETag: e2})
		wantCode(t, "small first part", err, edustream.EINVALID)
	})
	t.Run("bad lists", func(t *testing.T) {
		u := newUpload(t, h, "bad-lists", "video/mp4")
		e1, e2 := u.put(t, 1, big), u.put(t, 2, small)
		for _, tt := range []struct {
			name  string
			parts []edustream.UploadPart
		}{
			{"empty", nil},
			{"descending", []edustream.UploadPart{{PartNumber: 2, ETag: e2}, {PartNumber: 1, ETag: e1}}},
			{"repeated", []edustream.UploadPart{{PartNumber: 1, ETag: e1}, {PartNumber: 1, ETag: e1}}},
			{"part 0", []edustream.UploadPart{{PartNumber: 0, ETag: e1}}},
			{"no ETag", []edustream.UploadPart{{PartNumber: 1}}},
		} {
			wantCode(t, tt.name, u.complete(tt.parts...), edustream.EINVALID)
		}
		if err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: e1}, edustream.UploadPart{PartNumber: 2, ETag: e2}); err != nil {
			t.Fatalf("complete after refused lists: %v", err)
		}
	})
	t.Run("unknown upload", func(t *testing.T) {
		u := &upload{h: h, key: h.key("unknown"), id: "0123456789abcdef0123456789abcdef"}
		err := u.complete(edustream.UploadPart{PartNumber: 1, ETag: QuotedMD5(small)})
		wantCode(t, "unknown upload", err, edustream.ENOTFOUND)
	})
	t.Run("another key's upload", func(t *testing.T) {
		u := newUpload(t, h, "one-key", "video/mp4")
		etag := u.put(t, 1, small)
		other := &upload{h: h, key: h.key("other-key"), id: u.id}
		err := other.complete(edustream.UploadPart{PartNumber: 1, ETag: etag})
		wantCode(t, "upload id with another key", err, edustream.ENOTFOUND)
	})
}

func testAbortMultipart(t *testing.T, h *Harness) {
	ctx := context.Background()
	u := newUpload(t, h, "aborted", "video/mp4")
	etag := u.put(t, 1, []byte("part"))
	if err := h.Store.AbortMultipartUpload(ctx, u.key, u.id); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "complete after abort", u.complete(edustream.UploadPart{PartNumber: 1, ETag: etag}), edustream.ENOTFOUND)
	if _, err := h.Store.Head(ctx, u.key); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("Head of an aborted upload's key: %v, want ENOTFOUND", err)
	}
	if err := h.Store.AbortMultipartUpload(ctx, u.key, u.id); err != nil {
		t.Errorf("second abort: %v", err)
	}
	if err := h.Store.AbortMultipartUpload(ctx, u.key, "0123456789abcdef0123456789abcdef"); err != nil {
		t.Errorf("abort of an unknown upload: %v", err)
	}
}

func testPresignedGet(t *testing.T, h *Harness) {
	ctx := context.Background()
	key := h.key("hls/720p/seg_001.ts")
	body := RandomBytes(t, 2000)
	meta := edustream.BlobMeta{ContentType: "video/mp2t", CacheControl: "public, max-age=31536000, immutable"}
	put(t, h, key, body, meta)
	raw, err := h.Store.PresignGet(ctx, key, ttl)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		rangeValue string
		status     int
		want       []byte
	}{
		{"whole", "", http.StatusOK, body},
		{"range", "bytes=100-199", http.StatusPartialContent, body[100:200]},
		{"open range", "bytes=1990-", http.StatusPartialContent, body[1990:]},
		{"suffix range", "bytes=-5", http.StatusPartialContent, body[1995:]},
		{"unsatisfiable range", "bytes=5000-", http.StatusRequestedRangeNotSatisfiable, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var header map[string]string
			if tt.rangeValue != "" {
				header = map[string]string{"Range": tt.rangeValue}
			}
			resp := do(t, h, http.MethodGet, raw, nil, header)
			if resp.status != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tt.status, resp.body)
			}
			if tt.want == nil {
				return
			}
			sameBytes(t, "body", resp.body, tt.want)
			for name, want := range map[string]string{"Content-Type": meta.ContentType, "ETag": QuotedMD5(body)} {
				if got := resp.header.Get(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
			if h.Lacks.CacheControl {
				t.Log("Cache-Control not checked: the harness declares the backend lacks it")
			} else {
				checkPrivate(t, resp.header, ttl)
			}
		})
	}
	// The override is the URL's: the blob keeps the Cache-Control it was
	// stored with.
	if info := head(t, h, key); !h.Lacks.CacheControl && info.CacheControl != meta.CacheControl {
		t.Errorf("stored Cache-Control %q after presigned GETs, want %q", info.CacheControl, meta.CacheControl)
	}
	// No HEAD: SigV4 signs the method, so S3 refuses HEAD with a URL
	// presigned for GET.

	// Keys with characters that URLs escape survive the round trip.
	for _, name := range []string{"odd/a b+c%20d", "odd/ключ?#&=;,", "odd/~!$'()*@:"} {
		k := h.key(name)
		put(t, h, k, []byte(name), edustream.BlobMeta{ContentType: "text/plain"})
		raw, err := h.Store.PresignGet(ctx, k, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if resp := do(t, h, http.MethodGet, raw, nil, nil); resp.status != http.StatusOK || string(resp.body) != name {
			t.Errorf("GET %q: %d %q", k, resp.status, resp.body)
		}
	}

	missing, err := h.Store.PresignGet(ctx, h.key("missing"), ttl)
	if err != nil {
		t.Fatal(err)
	}
	if resp := do(t, h, http.MethodGet, missing, nil, nil); resp.status != http.StatusNotFound {
		t.Errorf("GET of a missing blob: %d, want 404", resp.status)
	}
}

func testPresignArguments(t *testing.T, h *Harness) {
	ctx := context.Background()
	key := h.key("args")
	_, err := h.Store.PresignGet(ctx, key, 0)
	wantCode(t, "PresignGet with ttl 0", err, edustream.EINVALID)
	_, err = h.Store.PresignGet(ctx, key, edustream.MaxPresignTTL+time.Second)
	wantCode(t, "PresignGet with ttl past the limit", err, edustream.EINVALID)
	u := newUpload(t, h, "args-upload", "video/mp4")
	for _, n := range []int{0, -1, edustream.MaxParts + 1} {
		_, err := h.Store.PresignUploadPart(ctx, u.key, u.id, n, 100, ttl)
		wantCode(t, fmt.Sprintf("PresignUploadPart of part %d", n), err, edustream.EINVALID)
	}
	for _, size := range []int64{0, -1, edustream.MaxPartSize + 1} {
		_, err := h.Store.PresignUploadPart(ctx, u.key, u.id, 1, size, ttl)
		wantCode(t, fmt.Sprintf("PresignUploadPart of %d bytes", size), err, edustream.EINVALID)
	}
	_, err = h.Store.PresignUploadPart(ctx, u.key, u.id, 1, 100, 0)
	wantCode(t, "PresignUploadPart with ttl 0", err, edustream.EINVALID)
}

// tamper returns raw with one query parameter's value replaced.
func tamper(t *testing.T, raw, param, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if !q.Has(param) {
		t.Fatalf("URL %s has no parameter %s", raw, param)
	}
	q.Set(param, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// signatureParam is the query parameter that carries the signature.
func signatureParam(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"X-Amz-Signature", "signature"} {
		if u.Query().Has(p) {
			return p
		}
	}
	t.Fatalf("no signature in %s", raw)
	return ""
}

func testTamperedURL(t *testing.T, h *Harness) {
	if h.Lacks.SignatureChecks {
		t.Skip("the harness declares the backend lacks signature checks")
	}
	ctx := context.Background()
	key, other := h.key("secret"), h.key("other")
	put(t, h, key, []byte("secret"), edustream.BlobMeta{})
	put(t, h, other, []byte("other"), edustream.BlobMeta{})
	getURL, err := h.Store.PresignGet(ctx, key, ttl)
	if err != nil {
		t.Fatal(err)
	}
	sig := signatureParam(t, getURL)
	u := newUpload(t, h, "upload", "video/mp4")
	partURL := u.partURL(t, 1, int64(len("overwritten")))

	for _, tt := range []struct {
		name, method, url string
	}{
		{"signature changed", http.MethodGet, tamper(t, getURL, sig, strings.Repeat("0", 64))},
		{"another key", http.MethodGet, strings.Replace(getURL, "/secret?", "/other?", 1)},
		{"GET URL used to PUT", http.MethodPut, getURL},
		{"part URL used to GET", http.MethodGet, partURL},
		{"part URL for another part", http.MethodPut, tamper(t, partURL, "partNumber", "2")},
		{"part URL for another key", http.MethodPut, strings.Replace(partURL, "/upload?", "/secret?", 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.url, "?") || tt.url == "" {
				t.Fatalf("bad test URL %q", tt.url)
			}
			var body []byte
			if tt.method == http.MethodPut {
				body = []byte("overwritten")
			}
			if resp := do(t, h, tt.method, tt.url, body, nil); resp.status != http.StatusForbidden {
				t.Errorf("status %d, want 403: %s", resp.status, resp.body)
			}
		})
	}
	sameBytes(t, "blob after refused requests", get(t, h, key, 0, -1), []byte("secret"))
}

func testExpiredURL(t *testing.T, h *Harness) {
	if h.Lacks.SignatureChecks {
		t.Skip("the harness declares the backend lacks signature checks")
	}
	ctx := context.Background()
	key := h.key("expiring")
	put(t, h, key, []byte("soon gone"), edustream.BlobMeta{})
	const short = time.Second
	getURL, err := h.Store.PresignGet(ctx, key, short)
	if err != nil {
		t.Fatal(err)
	}
	u := newUpload(t, h, "expiring-upload", "video/mp4")
	raw, err := h.Store.PresignUploadPart(ctx, u.key, u.id, 1, int64(len("late")), short)
	if err != nil {
		t.Fatal(err)
	}
	if resp := do(t, h, http.MethodGet, getURL, nil, nil); resp.status != http.StatusOK {
		t.Fatalf("GET before expiry: %d %s", resp.status, resp.body)
	}
	h.Expire(t, short)
	if resp := do(t, h, http.MethodGet, getURL, nil, nil); resp.status != http.StatusForbidden {
		t.Errorf("GET after expiry: %d, want 403: %s", resp.status, resp.body)
	}
	if resp := do(t, h, http.MethodPut, raw, []byte("late"), nil); resp.status != http.StatusForbidden {
		t.Errorf("part PUT after expiry: %d, want 403: %s", resp.status, resp.body)
	}
}
