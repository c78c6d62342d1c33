package edustream

import (
	"context"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// The checks below are the BlobStore rules that do not depend on where the
// bytes live. CheckedBlobStore applies them once, in front of every store,
// so the same call fails the same way everywhere and a store implements
// only what its backend does.

// Limits on what a BlobStore accepts. MaxPresignTTL is the longest a SigV4
// presigned URL may live; the local store keeps the same bound so nothing
// works in development that fails against S3.
const (
	MaxPresignTTL        = 7 * 24 * time.Hour
	MaxContentTypeLength = 255
	MaxCacheControlLen   = 1024
)

// Limits on blob keys. MaxBlobKeyLength is S3's. A segment is bounded so
// that the local store's file name for it stays within the 255 bytes every
// common file system allows.
const (
	MaxBlobKeyLength        = 1024
	MaxBlobKeySegmentLength = 200
)

// ValidateBlobKey checks a key: slash-separated segments, none empty (so
// no leading, trailing or double slash), none "." or "..", no backslash or
// control character, valid UTF-8, within the limits. S3 would take more,
// but some S3-compatible servers and every file system read such keys
// differently than they were written, and a key that works in development
// must work in production. EINVALID.
func ValidateBlobKey(key string) error {
	switch {
	case key == "":
		return Errorf(EINVALID, "blob key must not be empty")
	case len(key) > MaxBlobKeyLength:
		return Errorf(EINVALID, "blob key must be at most %d bytes", MaxBlobKeyLength)
	case !utf8.ValidString(key):
		return Errorf(EINVALID, "blob key must be valid UTF-8")
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return Errorf(EINVALID, "blob key must not have empty segments (a leading, trailing or double slash)")
		case seg == "." || seg == "..":
			return Errorf(EINVALID, "blob key must not have . or .. segments")
		case len(seg) > MaxBlobKeySegmentLength:
			return Errorf(EINVALID, "blob key segments must be at most %d bytes", MaxBlobKeySegmentLength)
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f || r == '\\' {
				return Errorf(EINVALID, "blob key must not contain control characters or backslashes")
			}
		}
	}
	return nil
}

// Validate checks meta before it becomes response headers: bounded, and
// without control characters that could split a header. EINVALID.
func (m BlobMeta) Validate() error {
	switch {
	case len(m.ContentType) > MaxContentTypeLength:
		return Errorf(EINVALID, "content type must be at most %d bytes", MaxContentTypeLength)
	case len(m.CacheControl) > MaxCacheControlLen:
		return Errorf(EINVALID, "cache control must be at most %d bytes", MaxCacheControlLen)
	case !headerSafe(m.ContentType):
		return Errorf(EINVALID, "content type must be printable ASCII")
	case !headerSafe(m.CacheControl):
		return Errorf(EINVALID, "cache control must be printable ASCII")
	}
	return nil
}

func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ValidateUploadParts checks the list CompleteMultipartUpload is given:
// not empty, part numbers within 1..MaxParts and strictly ascending, an
// ETag for each. EINVALID. S3 refuses the same lists, but not every
// S3-compatible server does.
func ValidateUploadParts(parts []UploadPart) error {
	if len(parts) == 0 {
		return Errorf(EINVALID, "an upload needs at least one part")
	}
	for i, p := range parts {
		switch {
		case p.PartNumber < 1 || p.PartNumber > MaxParts:
			return Errorf(EINVALID, "part number %d is not within 1..%d", p.PartNumber, MaxParts)
		case i > 0 && p.PartNumber <= parts[i-1].PartNumber:
			return Errorf(EINVALID, "parts must be listed in ascending part number order without repeats")
		case p.ETag == "":
			return Errorf(EINVALID, "part %d has no ETag", p.PartNumber)
		}
	}
	return nil
}

// ValidatePartNumber checks the part number of a presigned part URL.
// EINVALID.
func ValidatePartNumber(partNumber int) error {
	if partNumber < 1 || partNumber > MaxParts {
		return Errorf(EINVALID, "part number %d is not within 1..%d", partNumber, MaxParts)
	}
	return nil
}

// ValidatePartLength checks the size a presigned part URL is signed for:
// at least a byte (SigV4 signs no Content-Length of 0, and an empty part
// has nothing to store), at most MaxPartSize. EINVALID.
func ValidatePartLength(size int64) error {
	if size < 1 || size > MaxPartSize {
		return Errorf(EINVALID, "a part is between 1 byte and %s, not %d bytes", FormatBytes(MaxPartSize), size)
	}
	return nil
}

// ValidatePresignTTL checks how long a presigned URL should live: at least
// a second (expiry is counted in whole seconds) and at most MaxPresignTTL.
// EINVALID.
func ValidatePresignTTL(ttl time.Duration) error {
	if ttl < time.Second || ttl > MaxPresignTTL {
		return Errorf(EINVALID, "presigned URLs live between 1s and %v, not %v", MaxPresignTTL, ttl)
	}
	return nil
}

// CheckedBlobStore returns s behind the argument checks every BlobStore call
// must pass, whatever the backend: every key (ValidateBlobKey), metadata
// (BlobMeta.Validate), sizes and offsets, part numbers and part lists,
// presigned URL lifetimes and upload ids. A refused call never reaches s.
// cmd/edustream wraps every store it opens and the conformance suite tests
// stores through it; a store used bare trusts its caller's arguments.
//
// An empty upload id names no upload: CompleteMultipartUpload and
// PresignUploadPart answer ENOTFOUND and AbortMultipartUpload nil, as for
// any unknown upload, without asking s (S3's SDK refuses an empty id with
// an error of its own). Every other refusal is EINVALID.
func CheckedBlobStore(s BlobStore) BlobStore {
	if c, ok := s.(checkedBlobStore); ok {
		return c
	}
	return checkedBlobStore{s: s}
}

// checkedBlobStore does not embed BlobStore: a method added to the
// interface must be given its checks here before anything compiles.
type checkedBlobStore struct{ s BlobStore }

var _ BlobStore = checkedBlobStore{}

func noSuchUpload(key string) error {
	return Errorf(ENOTFOUND, "upload of %s not found: no upload id", key)
}

func (c checkedBlobStore) CreateMultipartUpload(ctx context.Context, key, contentType string) (string, error) {
	if err := ValidateBlobKey(key); err != nil {
		return "", err
	}
	if err := (BlobMeta{ContentType: contentType}).Validate(); err != nil {
		return "", err
	}
	return c.s.CreateMultipartUpload(ctx, key, contentType)
}

func (c checkedBlobStore) PresignUploadPart(ctx context.Context, key, uploadID string, partNumber int, size int64, ttl time.Duration) (string, error) {
	if err := ValidateBlobKey(key); err != nil {
		return "", err
	}
	if err := ValidatePartNumber(partNumber); err != nil {
		return "", err
	}
	if err := ValidatePartLength(size); err != nil {
		return "", err
	}
	if err := ValidatePresignTTL(ttl); err != nil {
		return "", err
	}
	if uploadID == "" {
		return "", noSuchUpload(key)
	}
	return c.s.PresignUploadPart(ctx, key, uploadID, partNumber, size, ttl)
}

func (c checkedBlobStore) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []UploadPart) error {
	if err := ValidateBlobKey(key); err != nil {
		return err
	}
	if err := ValidateUploadParts(parts); err != nil {
		return err
	}
	if uploadID == "" {
		return noSuchUpload(key)
	}
	return c.s.CompleteMultipartUpload(ctx, key, uploadID, parts)
}

func (c checkedBlobStore) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	if err := ValidateBlobKey(key); err != nil {
		return err
	}
	if uploadID == "" {
		return nil
	}
	return c.s.AbortMultipartUpload(ctx, key, uploadID)
}

func (c checkedBlobStore) Put(ctx context.Context, key string, body io.Reader, size int64, meta BlobMeta) error {
	if err := ValidateBlobKey(key); err != nil {
		return err
	}
	if err := meta.Validate(); err != nil {
		return err
	}
	if size < 0 {
		return Errorf(EINVALID, "blob size must not be negative")
	}
	return c.s.Put(ctx, key, body, size, meta)
}

func (c checkedBlobStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ValidateBlobKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, Errorf(EINVALID, "offset must not be negative")
	}
	return c.s.Get(ctx, key, offset, length)
}

func (c checkedBlobStore) Head(ctx context.Context, key string) (*BlobInfo, error) {
	if err := ValidateBlobKey(key); err != nil {
		return nil, err
	}
	return c.s.Head(ctx, key)
}

// List checks nothing: a prefix is not a key, and one that no valid key
// starts with ("a/../") lists nothing on every store.
func (c checkedBlobStore) List(ctx context.Context, prefix string) ([]BlobInfo, error) {
	return c.s.List(ctx, prefix)
}

func (c checkedBlobStore) Copy(ctx context.Context, src, dst string, meta BlobMeta) error {
	if err := ValidateBlobKey(src); err != nil {
		return err
	}
	if err := ValidateBlobKey(dst); err != nil {
		return err
	}
	if err := meta.Validate(); err != nil {
		return err
	}
	return c.s.Copy(ctx, src, dst, meta)
}

// Delete checks every key before any is deleted, so a refused call deletes
// nothing.
func (c checkedBlobStore) Delete(ctx context.Context, keys ...string) error {
	for _, key := range keys {
		if err := ValidateBlobKey(key); err != nil {
			return err
		}
	}
	return c.s.Delete(ctx, keys...)
}

func (c checkedBlobStore) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateBlobKey(key); err != nil {
		return "", err
	}
	if err := ValidatePresignTTL(ttl); err != nil {
		return "", err
	}
	return c.s.PresignGet(ctx, key, ttl)
}
