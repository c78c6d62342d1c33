// Package s3 is the production edustream.BlobStore: a bucket on Amazon S3
// or any S3-compatible server (SeaweedFS in CI and docker-compose.yml),
// through aws-sdk-go-v2. Clients upload and read through presigned URLs;
// objects stay private.
//
// S3's error codes become domain codes in one place, s3Error. A Store
// trusts the arguments of its methods: callers reach it through
// edustream.CheckedBlobStore, which checks keys, metadata and sizes once
// for every store.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/awsconf"
)

// Config configures a Store.
type Config struct {
	// Bucket is where every blob lives. It must exist.
	Bucket string
	// Region is the bucket's region; empty means the default chain's
	// (AWS_REGION, the shared config), or us-east-1 with an Endpoint.
	Region string
	// Endpoint is the URL of an S3-compatible server, e.g.
	// http://seaweedfs:8333; empty means AWS.
	Endpoint string
	// PresignEndpoint is the URL browsers reach the server at, when that
	// is not Endpoint (the API talks to http://seaweedfs:8333 inside
	// compose, browsers to http://localhost:8333). SigV4 signs the host,
	// so presigned URLs must be made for the host that will be asked.
	PresignEndpoint string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key)
	// rather than the host name; most S3-compatible servers need it.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials; empty means
	// the default credential chain (environment, shared files, IAM role).
	AccessKeyID     string
	SecretAccessKey string
	// APIOptions are added to the stack of every call (the process's
	// tracing).
	APIOptions []func(*middleware.Stack) error
}

// Store is an edustream.BlobStore on an S3 bucket.
type Store struct {
	client  *awss3.Client
	presign *awss3.PresignClient
	bucket  string
	where   string // the endpoint, for error messages

	// singleDeletes is set once the server has answered DeleteObjects
	// with "not implemented"; from then on keys are deleted one by one.
	singleDeletes atomic.Bool
	// maxCopySize is the largest object CopyObject copies (S3's 5 GiB);
	// larger ones are copied in parts of copyPartSize. Tests lower both.
	maxCopySize, copyPartSize int64
}

var _ edustream.BlobStore = (*Store)(nil)

// S3's limits on copies.
const (
	maxCopyObjectSize = 5 << 30
	copyPartSize      = 512 << 20
	maxDeleteBatch    = 1000
)

// New connects to cfg.Bucket and checks that it is there (HeadBucket), so
// a wrong endpoint, bucket or credentials stop the start with an error
// naming them.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 blob store: Bucket is required")
	}
	where := "AWS"
	for _, e := range []string{cfg.Endpoint, cfg.PresignEndpoint} {
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3 blob store: endpoint %q must be an absolute http(s) URL", e)
		}
	}
	if cfg.Endpoint != "" {
		where = cfg.Endpoint
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("s3 blob store: set both the access key id and the secret access key, or neither")
	}

	awsCfg, err := awsconf.Load(ctx, awsconf.Settings{Region: cfg.Region, AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, APIOptions: cfg.APIOptions})
	if err != nil {
		return nil, fmt.Errorf("s3 blob store: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, errors.New("s3 blob store: no region: set the S3 region or AWS_REGION")
		}
		// S3-compatible servers mostly ignore the region, but SigV4
		// signs one.
		awsCfg.Region = "us-east-1"
	}
	// Checksums only where S3 requires them: the newer default sends
	// CRC32 trailers many S3-compatible servers reject, and would put
	// checksum headers into presigned URLs that browsers cannot send.
	awsCfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	awsCfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired

	clientFor := func(endpoint string) *awss3.Client {
		return awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
			o.UsePathStyle = cfg.PathStyle
		})
	}
	s := &Store{
		client:       clientFor(cfg.Endpoint),
		bucket:       cfg.Bucket,
		where:        where,
		maxCopySize:  maxCopyObjectSize,
		copyPartSize: copyPartSize,
	}
	presignBase := s.client
	if cfg.PresignEndpoint != "" {
		presignBase = clientFor(cfg.PresignEndpoint)
	}
	s.presign = awss3.NewPresignClient(presignBase)

	if _, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NotFound" || apiErr.ErrorCode() == "NoSuchBucket") {
			return nil, fmt.Errorf("s3 blob store: bucket %q does not exist at %s", cfg.Bucket, where)
		}
		return nil, fmt.Errorf("s3 blob store: bucket %q at %s: %w", cfg.Bucket, where, err)
	}
	return s, nil
}

// s3Error is where S3's error codes become domain errors. what names the
// object or upload for the message and the log.
func s3Error(err error, op, what string) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return edustream.Errorf(edustream.ENOTFOUND, "blob %s not found", what)
		case "NoSuchUpload":
			return edustream.Errorf(edustream.ENOTFOUND, "upload %s not found", what)
		case "InvalidPart":
			return edustream.Errorf(edustream.EINVALID, "a part of upload %s is missing or has another ETag", what)
		case "InvalidPartOrder":
			return edustream.Errorf(edustream.EINVALID, "the parts of upload %s are not in ascending order", what)
		case "EntityTooSmall":
			return edustream.Errorf(edustream.EINVALID, "a part of upload %s but the last is smaller than %d bytes", what, edustream.MinPartSize)
		case "InvalidRange":
			return edustream.Errorf(edustream.EINVALID, "the range is not within %s", what)
		}
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// Put implements edustream.BlobStore.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, meta edustream.BlobMeta) error {
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		ContentLength: aws.Int64(size),
		ContentType:   optional(meta.ContentType),
		CacheControl:  optional(meta.CacheControl),
	}
	var optFns []func(*awss3.Options)
	var exact *exactReader
	if rs, ok := body.(io.ReadSeeker); ok {
		// SigV4 over plain HTTP hashes the payload first, which needs a
		// body it can rewind; check the length while at it.
		if err := checkLength(rs, size); err != nil {
			return err
		}
		in.Body = rs
	} else if size == 0 {
		// Nothing to hold back: check before sending.
		if hasMore(body) {
			return edustream.Errorf(edustream.EINVALID, "blob body is longer than promised")
		}
		in.Body = bytes.NewReader(nil)
	} else {
		exact = &exactReader{r: body, remaining: size}
		in.Body = exact
		// A stream cannot be hashed before it is sent; sign without the
		// payload hash (S3 still checks Content-Length).
		optFns = append(optFns, awss3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	}
	_, err := s.client.PutObject(ctx, in, optFns...)
	if exact != nil && exact.err != nil {
		return fmt.Errorf("put %s: %w", key, exact.err)
	}
	if err != nil {
		return s3Error(err, "put", key)
	}
	return nil
}

// checkLength makes sure rs has exactly size bytes left. EINVALID.
func checkLength(rs io.ReadSeeker, size int64) error {
	cur, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if _, err := rs.Seek(cur, io.SeekStart); err != nil {
		return err
	}
	if end-cur != size {
		return edustream.Errorf(edustream.EINVALID, "blob body has %d bytes, not the %d promised", end-cur, size)
	}
	return nil
}

// exactReader fails a body that is shorter or longer than promised, before
// the server has the whole body: with the last promised byte it looks one
// byte ahead, and if there is more it holds that last byte back, so the
// request ends short of its Content-Length and nothing is stored.
type exactReader struct {
	r         io.Reader
	remaining int64
	err       error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.remaining {
		p = p[:e.remaining]
	}
	n, err := e.r.Read(p)
	e.remaining -= int64(n)
	switch {
	case e.remaining == 0:
		if hasMore(e.r) {
			e.err = edustream.Errorf(edustream.EINVALID, "blob body is longer than promised")
			return n - 1, e.err
		}
		return n, io.EOF
	case err == io.EOF:
		e.err = edustream.Errorf(edustream.EINVALID, "blob body is %d bytes shorter than promised", e.remaining)
		return n, e.err
	case err != nil:
		e.err = err
	}
	return n, err
}

func hasMore(r io.Reader) bool {
	var probe [1]byte
	n, _ := io.ReadFull(r, probe[:])
	return n > 0
}

// Get implements edustream.BlobStore.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return s.emptyAt(ctx, key, offset)
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if offset > 0 || length > 0 {
		rng := fmt.Sprintf("bytes=%d-", offset)
		if length > 0 {
			rng += fmt.Sprint(offset + length - 1)
		}
		in.Range = aws.String(rng)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		err = s3Error(err, "get", key)
		if edustream.ErrorCode(err) == edustream.EINVALID {
			// S3 refuses a range that starts at the end; the interface
			// answers it with no bytes, as it does for an empty blob.
			return s.emptyAt(ctx, key, offset)
		}
		return nil, err
	}
	return out.Body, nil
}

// emptyAt returns no bytes if offset is within or at the end of key.
// ENOTFOUND; EINVALID past the end.
func (s *Store) emptyAt(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	info, err := s.Head(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset > info.Size {
		return nil, edustream.Errorf(edustream.EINVALID, "offset %d is past the end of %s (%d bytes)", offset, key, info.Size)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// Head implements edustream.BlobStore.
func (s *Store) Head(ctx context.Context, key string) (*edustream.BlobInfo, error) {
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s3Error(err, "head", key)
	}
	return &edustream.BlobInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		ContentType:  aws.ToString(out.ContentType),
		CacheControl: aws.ToString(out.CacheControl),
		ModTime:      aws.ToTime(out.LastModified),
	}, nil
}

// List implements edustream.BlobStore. S3 lists in UTF-8 byte order,
// which is key order; a listing has no content types, so List fills Key,
// Size, ETag and ModTime.
func (s *Store) List(ctx context.Context, prefix string) ([]edustream.BlobInfo, error) {
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: optional(prefix),
	})
	var out []edustream.BlobInfo
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s3Error(err, "list", fmt.Sprintf("%q", prefix))
		}
		for _, o := range page.Contents {
			out = append(out, edustream.BlobInfo{
				Key:     aws.ToString(o.Key),
				Size:    aws.ToInt64(o.Size),
				ETag:    aws.ToString(o.ETag),
				ModTime: aws.ToTime(o.LastModified),
			})
		}
	}
	return out, nil
}

// copySource is the x-amz-copy-source of key: bucket and key, URL-encoded.
func (s *Store) copySource(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return url.PathEscape(s.bucket) + "/" + strings.Join(segs, "/")
}

// Copy implements edustream.BlobStore. The source is looked up first: its
// size decides between CopyObject and, beyond S3's 5 GiB limit on it, a
// multipart copy; and a missing source is ENOTFOUND on every server.
func (s *Store) Copy(ctx context.Context, src, dst string, meta edustream.BlobMeta) error {
	info, err := s.Head(ctx, src)
	if err != nil {
		return err
	}
	if info.Size > s.maxCopySize {
		return s.copyParts(ctx, src, dst, info.Size, meta)
	}
	_, err = s.client.CopyObject(ctx, &awss3.CopyObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(dst),
		CopySource:        aws.String(s.copySource(src)),
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       optional(meta.ContentType),
		CacheControl:      optional(meta.CacheControl),
	})
	if err != nil {
		return s3Error(err, "copy to "+dst+" from", src)
	}
	return nil
}

// copyParts copies src to dst with UploadPartCopy, for sources too large
// for CopyObject.
func (s *Store) copyParts(ctx context.Context, src, dst string, size int64, meta edustream.BlobMeta) error {
	created, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(dst),
		ContentType:  optional(meta.ContentType),
		CacheControl: optional(meta.CacheControl),
	})
	if err != nil {
		return s3Error(err, "copy to "+dst+" from", src)
	}
	uploadID := aws.ToString(created.UploadId)
	var parts []types.CompletedPart
	for n, start := int32(1), int64(0); start < size; n, start = n+1, start+s.copyPartSize {
		end := min(start+s.copyPartSize, size) - 1
		out, err := s.client.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{
			Bucket:          aws.String(s.bucket),
			Key:             aws.String(dst),
			UploadId:        aws.String(uploadID),
			PartNumber:      aws.Int32(n),
			CopySource:      aws.String(s.copySource(src)),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", start, end)),
		})
		if err != nil {
			s.abortQuietly(dst, uploadID)
			return s3Error(err, "copy to "+dst+" from", src)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.CopyPartResult.ETag})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(dst),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		s.abortQuietly(dst, uploadID)
		return s3Error(err, "copy to "+dst+" from", src)
	}
	return nil
}

// abortQuietly cleans up after a failed copy, under its own deadline: the
// copy's context may be what ended it, and the parts would otherwise be
// stored (and billed) until a lifecycle rule removes them.
func (s *Store) abortQuietly(key, uploadID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.AbortMultipartUpload(ctx, key, uploadID)
}

// Delete implements edustream.BlobStore: DeleteObjects in batches of S3's
// 1000, or one DeleteObject per key on a server without DeleteObjects.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), maxDeleteBatch)]
		keys = keys[len(batch):]
		if !s.singleDeletes.Load() {
			err := s.deleteBatch(ctx, batch)
			if !notImplemented(err) {
				if err != nil {
					return err
				}
				continue
			}
			s.singleDeletes.Store(true)
		}
		for _, key := range batch {
			_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
			if err != nil && edustream.ErrorCode(s3Error(err, "", "")) != edustream.ENOTFOUND {
				return s3Error(err, "delete", key)
			}
		}
	}
	return nil
}

func (s *Store) deleteBatch(ctx context.Context, keys []string) error {
	objects := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		objects[i] = types.ObjectIdentifier{Key: aws.String(k)}
	}
	out, err := s.client.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
		Bucket: aws.String(s.bucket),
		Delete: &types.Delete{Objects: objects, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return s3Error(err, "delete", fmt.Sprintf("%d keys from %s", len(keys), keys[0]))
	}
	for _, e := range out.Errors {
		if code := aws.ToString(e.Code); code != "NoSuchKey" {
			return fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), code, aws.ToString(e.Message))
		}
	}
	return nil
}

// notImplemented reports whether err says the server lacks the operation.
func notImplemented(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "NotImplemented", "MethodNotAllowed":
		return true
	}
	return false
}

// CreateMultipartUpload implements edustream.BlobStore.
func (s *Store) CreateMultipartUpload(ctx context.Context, key, contentType string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		ContentType: optional(contentType),
	})
	if err != nil {
		return "", s3Error(err, "create upload of", key)
	}
	return aws.ToString(out.UploadId), nil
}

// presignExpiry rounds ttl up to whole seconds, which is what
// X-Amz-Expires counts.
func presignExpiry(ttl time.Duration) func(*awss3.PresignOptions) {
	return awss3.WithPresignExpires((ttl + time.Second - 1).Truncate(time.Second))
}

// PresignUploadPart implements edustream.BlobStore. The part's length is
// signed: SigV4 puts content-length among the URL's X-Amz-SignedHeaders
// (the SDK signs it whenever it is above 0), so a PUT with another
// Content-Length, or none (chunked), fails the signature check with 403
// SignatureDoesNotMatch, on S3 and on SeaweedFS alike (the conformance
// suite's PartLength checks it against SeaweedFS).
func (s *Store) PresignUploadPart(ctx context.Context, key, uploadID string, partNumber int, size int64, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignUploadPart(ctx, &awss3.UploadPartInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		UploadId:      aws.String(uploadID),
		PartNumber:    aws.Int32(int32(partNumber)),
		ContentLength: aws.Int64(size),
	}, presignExpiry(ttl))
	if err != nil {
		return "", fmt.Errorf("presign part %d of upload %s: %w", partNumber, uploadID, err)
	}
	if !signsHeader(req.SignedHeader, "Content-Length") {
		// The SDK changed how it presigns: a URL that takes any length
		// must not go out.
		return "", fmt.Errorf("presign part %d of upload %s: the signature does not cover the part's length", partNumber, uploadID)
	}
	return req.URL, nil
}

func signsHeader(h http.Header, name string) bool {
	_, ok := h[http.CanonicalHeaderKey(name)]
	return ok
}

// CompleteMultipartUpload implements edustream.BlobStore.
func (s *Store) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []edustream.UploadPart) error {
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.PartNumber)), ETag: aws.String(p.ETag)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return s3Error(err, "complete upload", uploadID+" of "+key)
	}
	return nil
}

// AbortMultipartUpload implements edustream.BlobStore.
func (s *Store) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	if err != nil && edustream.ErrorCode(s3Error(err, "", "")) != edustream.ENOTFOUND {
		return s3Error(err, "abort upload", uploadID+" of "+key)
	}
	return nil
}

// PresignGet implements edustream.BlobStore. The answer's Cache-Control
// and Expires are S3's response-header overrides, signed into the URL:
// "private", and fresh until the URL expires. (Expires rather than
// max-age, which would count from whenever the URL is first used.)
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	// The signer stamps X-Amz-Date in whole seconds, at this moment or a
	// little later: the URL lives at least until expires.
	expires := time.Now().Truncate(time.Second).Add(ttl)
	req, err := s.presign.PresignGetObject(ctx, &awss3.GetObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(key),
		ResponseCacheControl: aws.String("private"),
		ResponseExpires:      aws.Time(expires),
	}, awss3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign GET of %s: %w", key, err)
	}
	return req.URL, nil
}
