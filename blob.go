package edustream

import (
	"context"
	"io"
	"time"
)

// BlobStore keeps the uploaded sources and everything the chain makes from
// them. Two implementations exist: S3 (any S3-compatible endpoint) and a
// local directory the API serves itself; both hand out the same kind of
// presigned URLs, so clients upload and play the same way against either.
//
// Keys are slash-separated paths without a leading slash (see Video's key
// methods and ValidateBlobKey).
//
// Stores are used through CheckedBlobStore, which refuses malformed
// arguments before any store sees them, so an implementation may trust
// its arguments.
type BlobStore interface {
	// CreateMultipartUpload starts an upload of key and returns its id.
	CreateMultipartUpload(ctx context.Context, key, contentType string) (uploadID string, err error)
	// PresignUploadPart returns a URL that accepts one HTTP PUT of part
	// partNumber (1-based) until ttl has passed; the response's ETag header
	// is what CompleteMultipartUpload needs back. The upload need not be
	// looked up, so a URL for an unknown upload may fail only when used;
	// ENOTFOUND for an id that cannot name one (empty, for a start).
	PresignUploadPart(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (string, error)
	// CompleteMultipartUpload assembles the parts, in partNumber order, into
	// key. EINVALID when a part is missing, too small or has another ETag;
	// ENOTFOUND for an unknown (or aborted, or already completed) upload.
	// S3 and SeaweedFS answer a repeated completion of the same parts with
	// success rather than ENOTFOUND, so callers must not rely on either.
	CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []UploadPart) error
	// AbortMultipartUpload discards an upload's parts. An unknown upload is
	// not an error.
	AbortMultipartUpload(ctx context.Context, key, uploadID string) error

	// Put stores body (size bytes) at key, replacing what was there.
	Put(ctx context.Context, key string, body io.Reader, size int64, meta BlobMeta) error
	// Get returns the bytes of key from offset; length < 0 means to the
	// end. ENOTFOUND; EINVALID for an offset past the end.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Head returns what is known about key without its bytes. ENOTFOUND.
	Head(ctx context.Context, key string) (*BlobInfo, error)
	// List returns every blob whose key starts with prefix, in key order,
	// with Key, Size, ETag and ModTime (an S3 listing has no more; Head
	// has the rest).
	List(ctx context.Context, prefix string) ([]BlobInfo, error)
	// Copy copies src to dst with meta as dst's metadata. ENOTFOUND.
	Copy(ctx context.Context, src, dst string, meta BlobMeta) error
	// Delete removes keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// PresignGet returns a URL that answers GET (and ranges) on key until
	// ttl has passed.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// UploadPart names one uploaded part of a multipart upload.
type UploadPart struct {
	PartNumber int
	ETag       string
}

// BlobMeta is the HTTP metadata a blob is served with.
type BlobMeta struct {
	ContentType  string
	CacheControl string
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Key          string
	Size         int64
	ETag         string
	ContentType  string
	CacheControl string
	ModTime      time.Time
}

// Multipart limits, S3's: parts of at least 5 MiB except the last, at most
// 10 000 parts.
const (
	MinPartSize = 5 << 20
	MaxParts    = 10000
)

// PartSize returns the part size for an upload of size bytes: 16 MiB, or
// larger when that would need more than MaxParts parts.
func PartSize(size int64) int64 {
	part := int64(16 << 20)
	for (size+part-1)/part > MaxParts {
		part *= 2
	}
	return part
}

// PartCount returns how many parts of partSize an upload of size bytes has.
func PartCount(size, partSize int64) int {
	return int((size + partSize - 1) / partSize)
}
