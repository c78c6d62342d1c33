// Package local is the embedded default edustream.BlobStore: blobs are files
// in a directory (under the data dir), and the API serves them itself at
// /blobs/… through Handler, with HMAC-signed, expiring URLs that play the
// part of S3's presigned ones. Clients upload and play the same way against
// either store: multipart uploads with a signed URL per part whose PUT
// answers with the part's ETag, S3's part-size rules on completion, and
// ETags computed as S3 computes them.
//
// A Store trusts the arguments of its methods: callers reach it through
// edustream.CheckedBlobStore, which checks keys, metadata and sizes once
// for every store. What arrives over HTTP, Handler checks itself.
//
// # Layout
//
// Under Config.Dir:
//
//	objects/  one file per blob: "a/b/c" is objects/a.dir/b.dir/c.blob
//	uploads/  one directory per open multipart upload: upload.json, NNNNN.part
//	tmp/      files being written; a blob or part appears by rename only
//
// Every blob and part file starts with a fixed-size JSON header (size,
// ETag, content type, cache control) so bytes and metadata are replaced by
// one atomic rename; see file.go.
package local

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edustream/edustream"
)

// MinSigningKeyLength is the shortest signing key New accepts: HMAC-SHA256
// is only as strong as a key of its output size.
const MinSigningKeyLength = 32

// Config configures a Store.
type Config struct {
	// Dir is where blobs live; it is created if missing.
	Dir string
	// BaseURL is the public URL of the API serving Handler, e.g.
	// http://127.0.0.1:8080; signed URLs are BaseURL + "/blobs/" + key +
	// a query.
	BaseURL string
	// SigningKey signs URLs; at least MinSigningKeyLength bytes. Every API
	// instance serving the same Dir needs the same key.
	SigningKey []byte
	// Now is the clock URLs expire by; nil means time.Now. Tests inject
	// one to expire URLs without waiting.
	Now edustream.Clock
}

// Store is an edustream.BlobStore on a directory.
type Store struct {
	objects, uploads, tmp string
	baseURL               string
	signingKey            []byte
	now                   edustream.Clock

	// uploadMu orders the moves of an upload's state: a part arriving, a
	// completion claiming the upload, an abort. It is not held while
	// bytes are copied.
	uploadMu sync.Mutex
}

var _ edustream.BlobStore = (*Store)(nil)

// New opens (creating if needed) the store in cfg.Dir.
func New(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("local blob store: Dir is required")
	}
	if len(cfg.SigningKey) < MinSigningKeyLength {
		return nil, fmt.Errorf("local blob store: signing key must be at least %d bytes, got %d", MinSigningKeyLength, len(cfg.SigningKey))
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("local blob store: BaseURL %q must be an absolute http(s) URL without query", cfg.BaseURL)
	}
	s := &Store{
		objects:    filepath.Join(cfg.Dir, "objects"),
		uploads:    filepath.Join(cfg.Dir, "uploads"),
		tmp:        filepath.Join(cfg.Dir, "tmp"),
		baseURL:    strings.TrimRight(cfg.BaseURL, "/"),
		signingKey: slices.Clone(cfg.SigningKey),
		now:        cfg.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, dir := range []string{s.objects, s.uploads, s.tmp} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("local blob store: %w", err)
		}
	}
	s.removeStaleTemps()
	return s, nil
}

// removeStaleTemps deletes temp files a crashed process left behind. Only
// old ones: another process may be writing in the same directory.
func (s *Store) removeStaleTemps() {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(filepath.Join(s.tmp, e.Name()))
		}
	}
}

// Put implements edustream.BlobStore.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, meta edustream.BlobMeta) error {
	t, err := newTempBlob(s.tmp)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	// One byte more than promised reveals a body longer than size.
	n, err := io.Copy(t, io.LimitReader(ctxReader{ctx, body}, size+1))
	if err == nil && n != size {
		err = edustream.Errorf(edustream.EINVALID, "blob body has %s bytes, not the %d promised", countText(n, size), size)
	}
	if err != nil {
		t.discard()
		return fmt.Errorf("put %s: %w", key, err)
	}
	h := header{ETag: t.quotedMD5(), ContentType: meta.ContentType, CacheControl: meta.CacheControl}
	if err := t.finish(h, keyPath(s.objects, key)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func countText(n, size int64) string {
	if n > size {
		return "more than " + fmt.Sprint(size)
	}
	return fmt.Sprint(n)
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// open opens the blob of a key. ENOTFOUND.
func (s *Store) open(key string) (*blobFile, error) {
	b, err := openBlob(keyPath(s.objects, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "blob %s not found", key)
	} else if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return b, nil
}

// Get implements edustream.BlobStore.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	b, err := s.open(key)
	if err != nil {
		return nil, err
	}
	if offset > b.hdr.Size {
		b.f.Close()
		return nil, edustream.Errorf(edustream.EINVALID, "offset %d is past the end of %s (%d bytes)", offset, key, b.hdr.Size)
	}
	return struct {
		io.Reader
		io.Closer
	}{b.section(offset, length), b.f}, nil
}

// Head implements edustream.BlobStore.
func (s *Store) Head(ctx context.Context, key string) (*edustream.BlobInfo, error) {
	b, err := s.open(key)
	if err != nil {
		return nil, err
	}
	defer b.f.Close()
	info := b.info(key)
	return &info, nil
}

// List implements edustream.BlobStore. Like S3's listing it fills Key,
// Size, ETag and ModTime; Head has the rest.
func (s *Store) List(ctx context.Context, prefix string) ([]edustream.BlobInfo, error) {
	dir, ok := prefixDir(s.objects, prefix)
	if !ok {
		return nil, nil
	}
	var out []edustream.BlobInfo
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // pruned by a concurrent Delete
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			// Skip directories no key with prefix can be under: the walk
			// of "videos/1" must not descend into videos/10….
			if k, ok := dirKey(s.objects, path); ok && !strings.HasPrefix(k, prefix) && !strings.HasPrefix(prefix, k) {
				return fs.SkipDir
			}
			return nil
		}
		key, ok := keyOf(s.objects, path)
		if !ok || !strings.HasPrefix(key, prefix) {
			return nil
		}
		b, err := openBlob(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		info := b.info(key)
		b.f.Close()
		info.ContentType, info.CacheControl = "", ""
		out = append(out, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	// The walk is in file name order, which the suffixes make differ from
	// key order ("a.dir" sorts before "a-b.blob", but "a/" after "a-b").
	slices.SortFunc(out, func(a, b edustream.BlobInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// dirKey is the key prefix ("a/b/") a directory under root stands for.
func dirKey(root, path string) (string, bool) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return "", false
	}
	if rel == "." {
		return "", true
	}
	var b strings.Builder
	for seg := range strings.SplitSeq(filepath.ToSlash(rel), "/") {
		name, ok := strings.CutSuffix(seg, dirSuffix)
		if !ok {
			return "", false
		}
		b.WriteString(name)
		b.WriteByte('/')
	}
	return b.String(), true
}

// Copy implements edustream.BlobStore.
func (s *Store) Copy(ctx context.Context, src, dst string, meta edustream.BlobMeta) error {
	b, err := s.open(src)
	if err != nil {
		return err
	}
	defer b.f.Close()
	t, err := newTempBlob(s.tmp)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if _, err := io.Copy(t, ctxReader{ctx, b.section(0, -1)}); err != nil {
		t.discard()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	// The ETag is the source's, as S3 keeps a copied object's ETag (a
	// multipart source keeps its "-N" form).
	h := header{ETag: b.hdr.ETag, ContentType: meta.ContentType, CacheControl: meta.CacheControl}
	if err := t.finish(h, keyPath(s.objects, dst)); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// Delete implements edustream.BlobStore. Directories left empty are
// removed, so deleted prefixes leave nothing behind.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for _, key := range keys {
		path := keyPath(s.objects, key)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", key, err)
		}
		s.pruneDirs(filepath.Dir(path))
	}
	return nil
}

// pruneDirs removes dir and its parents up to the objects root while they
// are empty. os.Remove refuses a directory that is not empty, so a
// concurrent writer's directory survives (or is recreated, see renameInto).
func (s *Store) pruneDirs(dir string) {
	for dir != s.objects && strings.HasPrefix(dir, s.objects) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// PresignGet implements edustream.BlobStore.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return s.signedURL(grant{method: "GET", key: key, expires: s.expiry(ttl)}), nil
}

// newUploadID returns a random upload id: 128 bits in hex, which is also
// what makes it safe as a directory name.
func newUploadID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// manifest is an open upload's upload.json.
type manifest struct {
	Key         string    `json:"key"`
	ContentType string    `json:"contentType,omitempty"`
	Created     time.Time `json:"created"`
}

const manifestName = "upload.json"

func partName(n int) string { return fmt.Sprintf("%05d.part", n) }

// CreateMultipartUpload implements edustream.BlobStore.
func (s *Store) CreateMultipartUpload(ctx context.Context, key, contentType string) (string, error) {
	id, err := newUploadID()
	if err != nil {
		return "", fmt.Errorf("create upload of %s: %w", key, err)
	}
	b, err := json.Marshal(manifest{Key: key, ContentType: contentType, Created: s.now().UTC()})
	if err != nil {
		return "", err
	}
	// The directory appears complete, by rename, or not at all: a part PUT
	// that finds it can rely on its manifest.
	staging, err := os.MkdirTemp(s.tmp, "upload-*")
	if err != nil {
		return "", fmt.Errorf("create upload of %s: %w", key, err)
	}
	if err := os.WriteFile(filepath.Join(staging, manifestName), b, 0o644); err != nil {
		os.RemoveAll(staging)
		return "", fmt.Errorf("create upload of %s: %w", key, err)
	}
	if err := os.Rename(staging, filepath.Join(s.uploads, id)); err != nil {
		os.RemoveAll(staging)
		return "", fmt.Errorf("create upload of %s: %w", key, err)
	}
	return id, nil
}

// readManifest returns the manifest of an open upload of key. ENOTFOUND
// for an unknown id or one that belongs to another key, as S3 answers
// NoSuchUpload for both.
func (s *Store) readManifest(key, uploadID string) (*manifest, error) {
	notFound := edustream.Errorf(edustream.ENOTFOUND, "upload %s of %s not found", uploadID, key)
	if !validUploadID(uploadID) {
		return nil, notFound
	}
	b, err := os.ReadFile(filepath.Join(s.uploads, uploadID, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("read upload %s: %w", uploadID, err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read upload %s: %w", uploadID, err)
	}
	if m.Key != key {
		return nil, notFound
	}
	return &m, nil
}

// PresignUploadPart implements edustream.BlobStore. Like S3's presigning
// it does not look the upload up: a URL for an unknown upload is refused
// when it is used (404). The size is signed into the URL, which the
// handler holds the body to.
func (s *Store) PresignUploadPart(ctx context.Context, key, uploadID string, partNumber int, size int64, ttl time.Duration) (string, error) {
	if !validUploadID(uploadID) {
		return "", edustream.Errorf(edustream.ENOTFOUND, "upload %s of %s not found", truncate(uploadID, 40), key)
	}
	g := grant{method: "PUT", key: key, expires: s.expiry(ttl), uploadID: uploadID, partNumber: partNumber, size: size}
	return s.signedURL(g), nil
}

// errPartTooShort is a part body that ended before its signed size.
var errPartTooShort = errors.New("part body shorter than its signed size")

// putPart stores the body of a part PUT, which must be size bytes (the
// caller bounds it, so a longer one fails the copy), and returns its
// ETag. ENOTFOUND when the upload is not open (any more). A body of the
// wrong length stores nothing, and an earlier PUT of the part stays.
func (s *Store) putPart(ctx context.Context, key, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	if _, err := s.readManifest(key, uploadID); err != nil {
		return "", err
	}
	t, err := newTempBlob(s.tmp)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(t, ctxReader{ctx, body})
	if err == nil && n != size {
		err = errPartTooShort
	}
	if err != nil {
		t.discard()
		return "", fmt.Errorf("upload part %d of %s: %w", partNumber, uploadID, err)
	}
	etag := t.quotedMD5()
	// The upload may have been completed or aborted while the bytes came
	// in; only an open upload takes the part.
	s.uploadMu.Lock()
	defer s.uploadMu.Unlock()
	if _, err := s.readManifest(key, uploadID); err != nil {
		t.discard()
		return "", err
	}
	if err := t.finish(header{ETag: etag}, filepath.Join(s.uploads, uploadID, partName(partNumber))); err != nil {
		return "", fmt.Errorf("upload part %d of %s: %w", partNumber, uploadID, err)
	}
	return etag, nil
}

// CompleteMultipartUpload implements edustream.BlobStore. The object's
// ETag is S3's multipart form: the MD5 of the parts' binary MD5s, a dash
// and the number of parts.
func (s *Store) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []edustream.UploadPart) error {
	m, files, claimed, err := s.claimUpload(key, uploadID, parts)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.f.Close()
		}
		os.RemoveAll(claimed)
	}()

	t, err := newTempBlob(s.tmp)
	if err != nil {
		s.unclaimUpload(uploadID, claimed)
		return fmt.Errorf("complete upload %s of %s: %w", uploadID, key, err)
	}
	etags := md5.New()
	for _, f := range files {
		if _, err := io.Copy(t, ctxReader{ctx, f.section(0, -1)}); err != nil {
			t.discard()
			s.unclaimUpload(uploadID, claimed)
			return fmt.Errorf("complete upload %s of %s: %w", uploadID, key, err)
		}
		sum, _ := hex.DecodeString(strings.Trim(f.hdr.ETag, `"`))
		etags.Write(sum)
	}
	h := header{
		ETag:        fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(etags.Sum(nil)), len(parts)),
		ContentType: m.ContentType,
	}
	if err := t.finish(h, keyPath(s.objects, key)); err != nil {
		s.unclaimUpload(uploadID, claimed)
		return fmt.Errorf("complete upload %s of %s: %w", uploadID, key, err)
	}
	return nil
}

// claimUpload checks the listed parts against the stored ones and, if they
// are right, moves the upload out of uploads/ into a temp directory (which
// it returns), so that no part PUT, abort or second completion can touch it
// while it is assembled. On EINVALID the upload stays open, as on S3, so
// the client can send a corrected list. The returned part files are open: their bytes are the checked
// ones even if something replaces a file later.
func (s *Store) claimUpload(key, uploadID string, parts []edustream.UploadPart) (*manifest, []*blobFile, string, error) {
	s.uploadMu.Lock()
	defer s.uploadMu.Unlock()
	m, err := s.readManifest(key, uploadID)
	if err != nil {
		return nil, nil, "", err
	}
	dir := filepath.Join(s.uploads, uploadID)
	var files []*blobFile
	fail := func(err error) (*manifest, []*blobFile, string, error) {
		for _, f := range files {
			f.f.Close()
		}
		return nil, nil, "", err
	}
	for i, p := range parts {
		f, err := openBlob(filepath.Join(dir, partName(p.PartNumber)))
		if errors.Is(err, fs.ErrNotExist) {
			return fail(edustream.Errorf(edustream.EINVALID, "part %d was not uploaded", p.PartNumber))
		} else if err != nil {
			return fail(fmt.Errorf("complete upload %s of %s: %w", uploadID, key, err))
		}
		files = append(files, f)
		if normalETag(p.ETag) != normalETag(f.hdr.ETag) {
			return fail(edustream.Errorf(edustream.EINVALID, "part %d has ETag %s, not %s", p.PartNumber, f.hdr.ETag, truncate(p.ETag, 40)))
		}
		if i < len(parts)-1 && f.hdr.Size < edustream.MinPartSize {
			return fail(edustream.Errorf(edustream.EINVALID, "part %d is %d bytes; every part but the last must be at least %d", p.PartNumber, f.hdr.Size, edustream.MinPartSize))
		}
	}
	claimed, err := os.MkdirTemp(s.tmp, "complete-*")
	if err == nil {
		claimed = filepath.Join(claimed, uploadID)
		err = os.Rename(dir, claimed)
	}
	if err != nil {
		return fail(fmt.Errorf("complete upload %s of %s: %w", uploadID, key, err))
	}
	return m, files, filepath.Dir(claimed), nil
}

// unclaimUpload puts a claimed upload back after an I/O failure, so the
// client can retry the completion.
func (s *Store) unclaimUpload(uploadID, claimed string) {
	s.uploadMu.Lock()
	defer s.uploadMu.Unlock()
	os.Rename(filepath.Join(claimed, uploadID), filepath.Join(s.uploads, uploadID))
}

// normalETag lets a client send an ETag with or without its quotes, as S3
// does.
func normalETag(etag string) string {
	return strings.Trim(strings.TrimSpace(etag), `"`)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AbortMultipartUpload implements edustream.BlobStore.
func (s *Store) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	s.uploadMu.Lock()
	defer s.uploadMu.Unlock()
	if _, err := s.readManifest(key, uploadID); edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	// Rename first so the upload is gone at once, even if removing a large
	// set of parts is slow or fails halfway.
	gone, err := os.MkdirTemp(s.tmp, "abort-*")
	if err != nil {
		return fmt.Errorf("abort upload %s: %w", uploadID, err)
	}
	defer os.RemoveAll(gone)
	if err := os.Rename(filepath.Join(s.uploads, uploadID), filepath.Join(gone, uploadID)); err != nil {
		return fmt.Errorf("abort upload %s: %w", uploadID, err)
	}
	return nil
}
