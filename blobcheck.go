package edustream

import (
	"time"
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
