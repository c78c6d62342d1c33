package blobtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/edustream/edustream"
)

// badKeys are keys every store refuses (see edustream.ValidateBlobKey),
// under the harness's prefix wherever that keeps them malformed.
func badKeys(h *Harness) []string {
	return []string{
		"",
		h.key(""), // a trailing slash
		"/" + h.key("abs"),
		h.key("a//b"),
		h.key("../escape"),
		h.key("a/../../escape"),
		h.key("a/./b"),
		h.key(".."),
		h.key(`a\b`),
		h.key("a\x00b"),
		h.key("a\nb"),
		h.key("a\x7fb"),
		h.key("\xff\xfe"),
		h.key(strings.Repeat("x", edustream.MaxBlobKeySegmentLength+1)),
		h.key(strings.Repeat("abcdefg/", edustream.MaxBlobKeyLength/8) + "x"),
	}
}

// testRefusedKeys: every method that takes a key refuses a malformed one,
// and a refused call changes nothing.
func testRefusedKeys(t *testing.T, h *Harness) {
	ctx := context.Background()
	good := h.key("good")
	put(t, h, good, []byte("good"), edustream.BlobMeta{})
	u := newUpload(t, h, "upload", "video/mp4")
	etag := u.put(t, 1, []byte("part"))
	parts := []edustream.UploadPart{{PartNumber: 1, ETag: etag}}

	for _, key := range badKeys(h) {
		t.Run(fmt.Sprintf("%.40q", key), func(t *testing.T) {
			_, getErr := h.Store.Get(ctx, key, 0, -1)
			_, headErr := h.Store.Head(ctx, key)
			_, createErr := h.Store.CreateMultipartUpload(ctx, key, "video/mp4")
			_, presignPartErr := h.Store.PresignUploadPart(ctx, key, u.id, 1, 4, ttl)
			_, presignGetErr := h.Store.PresignGet(ctx, key, ttl)
			for what, err := range map[string]error{
				"Put":                     h.Store.Put(ctx, key, strings.NewReader("x"), 1, edustream.BlobMeta{}),
				"Get":                     getErr,
				"Head":                    headErr,
				"Copy to":                 h.Store.Copy(ctx, good, key, edustream.BlobMeta{}),
				"Copy from":               h.Store.Copy(ctx, key, h.key("copy"), edustream.BlobMeta{}),
				"Delete":                  h.Store.Delete(ctx, good, key),
				"CreateMultipartUpload":   createErr,
				"PresignUploadPart":       presignPartErr,
				"CompleteMultipartUpload": h.Store.CompleteMultipartUpload(ctx, key, u.id, parts),
				"AbortMultipartUpload":    h.Store.AbortMultipartUpload(ctx, key, u.id),
				"PresignGet":              presignGetErr,
			} {
				wantCode(t, what, err, edustream.EINVALID)
			}
		})
	}

	// Delete refused the whole call, good key included; the upload was
	// neither completed nor aborted; nothing else was written.
	sameBytes(t, "good after refused calls", get(t, h, good, 0, -1), []byte("good"))
	if err := u.complete(parts...); err != nil {
		t.Fatalf("complete after refused calls: %v", err)
	}
	got, err := h.Store.List(ctx, h.key(""))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, info := range got {
		keys = append(keys, info.Key)
	}
	if want := []string{good, u.key}; !slices.Equal(keys, want) {
		t.Errorf("List after refused calls: %q, want %q", keys, want)
	}
}

// testRefusedArguments: metadata that could split a header or outgrow its
// bounds, negative sizes and offsets, and upload ids that name no upload.
func testRefusedArguments(t *testing.T, h *Harness) {
	ctx := context.Background()
	key := h.key("args")
	put(t, h, key, []byte("what was there"), edustream.BlobMeta{ContentType: "text/plain"})

	for _, meta := range []edustream.BlobMeta{
		{ContentType: "text/html\r\nSet-Cookie: a=b"},
		{CacheControl: "max-age=1\nX: y"},
		{ContentType: "vidéo/mp4"},
		{ContentType: strings.Repeat("a", edustream.MaxContentTypeLength+1)},
		{CacheControl: strings.Repeat("a", edustream.MaxCacheControlLen+1)},
	} {
		what := fmt.Sprintf("%.40q", fmt.Sprint(meta))
		wantCode(t, "Put with "+what, h.Store.Put(ctx, key, strings.NewReader("x"), 1, meta), edustream.EINVALID)
		wantCode(t, "Copy with "+what, h.Store.Copy(ctx, key, h.key("copy"), meta), edustream.EINVALID)
		if meta.ContentType != "" {
			_, err := h.Store.CreateMultipartUpload(ctx, h.key("upload"), meta.ContentType)
			wantCode(t, "CreateMultipartUpload with "+what, err, edustream.EINVALID)
		}
	}
	wantCode(t, "Put of size -1", h.Store.Put(ctx, key, strings.NewReader(""), -1, edustream.BlobMeta{}), edustream.EINVALID)
	_, err := h.Store.Get(ctx, key, -1, -1)
	wantCode(t, "Get from offset -1", err, edustream.EINVALID)

	// An empty upload id names no upload, on every store.
	_, err = h.Store.PresignUploadPart(ctx, key, "", 1, 4, ttl)
	wantCode(t, "PresignUploadPart without an upload id", err, edustream.ENOTFOUND)
	err = h.Store.CompleteMultipartUpload(ctx, key, "", []edustream.UploadPart{{PartNumber: 1, ETag: QuotedMD5(nil)}})
	wantCode(t, "CompleteMultipartUpload without an upload id", err, edustream.ENOTFOUND)
	if err := h.Store.AbortMultipartUpload(ctx, key, ""); err != nil {
		t.Errorf("AbortMultipartUpload without an upload id: %v", err)
	}

	sameBytes(t, "blob after refused calls", get(t, h, key, 0, -1), []byte("what was there"))
	if info := head(t, h, key); info.ContentType != "text/plain" {
		t.Errorf("content type %q after refused calls, want text/plain", info.ContentType)
	}
	if _, err := h.Store.Head(ctx, h.key("copy")); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("Head of the refused copy: %v, want ENOTFOUND", err)
	}
}
