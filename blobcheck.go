package edustream

import (
	"strings"
	"time"
	"unicode/utf8"
)

// The checks below are the BlobStore rules that do not depend on where the
// bytes live; every implementation applies them before talking to its
// backend, so the same call fails the same way everywhere.

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

// ValidatePresignTTL checks how long a presigned URL should live: at least
// a second (expiry is counted in whole seconds) and at most MaxPresignTTL.
// EINVALID.
func ValidatePresignTTL(ttl time.Duration) error {
	if ttl < time.Second || ttl > MaxPresignTTL {
		return Errorf(EINVALID, "presigned URLs live between 1s and %v, not %v", MaxPresignTTL, ttl)
	}
	return nil
}
