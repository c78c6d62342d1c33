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
	// partNumber (1-based), of exactly size bytes, until ttl has passed;
	// the response's ETag header is what CompleteMultipartUpload needs
	// back. The size is signed into the URL: a body of another length
	// (by its Content-Length, or running past size without one) is
	// refused with a 4xx and stores nothing, so the part can be PUT again.
	// The upload need not be looked up, so a URL for an unknown upload may
	// fail only when used; ENOTFOUND for an id that cannot name one
	// (empty, for a start).
	PresignUploadPart(ctx context.Context, key, uploadID string, partNumber int, size int64, ttl time.Duration) (string, error)
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
	// ttl has passed. The answer is private to whoever holds the URL, so
	// whatever Cache-Control the blob is stored with, it is sent with
	// "private" and a freshness that ends when the URL does (max-age or
	// Expires): no shared cache keeps it, and no browser reuses it past the
	// signature. See CacheControlPrivate.
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

// CacheControlPrivate is the Cache-Control a published video output is
// stored with. The outputs never change (each video has its own prefix),
// but they are private: only those who may watch the lecture get signed
// URLs to them. So no shared cache may keep them by this header (a CDN in
// front of the bucket keeps them by its own cache policy, and checks its
// own signatures on every request), and a browser may keep a copy but asks
// again before reusing it, which needs a signature still valid. The
// stores' presigned GETs override it per URL (see BlobStore.PresignGet).
// No video output is public today; the only public, immutable responses
// are the playground's fingerprinted assets (server/playground.go).
const CacheControlPrivate = "private, no-cache"

// Multipart limits, S3's: parts of at least MinPartSize except the last,
// at most MaxPartSize, at most MaxParts of them.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	MaxParts    = 10000
)

// basePartSize is the part size of every upload that fits in MaxParts of
// it (156 GiB): a few parts for a lecture, each small enough for a browser
// to retry cheaply.
const basePartSize = 16 << 20

// PartSize returns the part size for an upload of size bytes: 16 MiB, or
// the smallest power-of-two multiple of it that needs no more than MaxParts
// parts, up to MaxPartSize. An upload larger than MaxParts × MaxPartSize
// cannot be split, and Uploads refuses it.
func PartSize(size int64) int64 {
	part := int64(basePartSize)
	for part < MaxPartSize && (size+part-1)/part > MaxParts {
		part = min(part*2, MaxPartSize)
	}
	return part
}

// PartCount returns how many parts of partSize an upload of size bytes has.
func PartCount(size, partSize int64) int {
	return int((size + partSize - 1) / partSize)
}

// PartLength returns the length of part partNumber (1-based) of an upload
// of size bytes in parts of partSize: partSize, or what is left for the
// last one.
func PartLength(size, partSize int64, partNumber int) int64 {
	return min(partSize, size-int64(partNumber-1)*partSize)
}

// MaxMultipartSize is the largest upload MaxParts parts of MaxPartSize
// hold (S3 itself stops at 5 TiB).
const MaxMultipartSize = MaxParts * MaxPartSize
