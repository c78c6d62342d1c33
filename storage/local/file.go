package local

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/edustream/edustream"
)

// A blob file (an object or an uploaded part) is a fixed-size header, JSON
// padded with spaces, followed by the bytes. Keeping the metadata in the same
// file means one rename publishes bytes and metadata together: a reader can
// never see new bytes with an old ETag, as it could with a sidecar file
// renamed separately. The fixed size lets the header be written after the
// bytes, once their MD5 is known, without copying them.
const (
	headerSize   = 4096
	headerFormat = "edustream-blob/1"
)

type header struct {
	Format       string `json:"format"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	ContentType  string `json:"contentType,omitempty"`
	CacheControl string `json:"cacheControl,omitempty"`
}

func (h *header) encode() ([]byte, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if len(b) >= headerSize {
		// BlobMeta.Validate, which edustream.CheckedBlobStore applies,
		// bounds the fields well below this.
		return nil, fmt.Errorf("blob header of %d bytes does not fit in %d", len(b), headerSize)
	}
	out := bytes.Repeat([]byte{' '}, headerSize)
	copy(out, b)
	out[headerSize-1] = '\n'
	return out, nil
}

// blobFile is an open blob file whose header has been read and checked
// against the file's size.
type blobFile struct {
	f   *os.File
	hdr header
	fi  os.FileInfo
}

// openBlob opens a blob file; a missing file is os.ErrNotExist.
func openBlob(path string) (*blobFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	b, err := readHeader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func readHeader(f *os.File) (*blobFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	buf := make([]byte, headerSize)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("read blob header: %w", err)
	}
	var h header
	if err := json.Unmarshal(buf, &h); err != nil {
		return nil, fmt.Errorf("decode blob header: %w", err)
	}
	if h.Format != headerFormat || h.Size != fi.Size()-headerSize {
		return nil, fmt.Errorf("corrupt blob file: format %q, header says %d bytes, file has %d", h.Format, h.Size, fi.Size()-headerSize)
	}
	return &blobFile{f: f, hdr: h, fi: fi}, nil
}

// section returns the bytes from offset, n of them (n < 0: to the end).
func (b *blobFile) section(offset, n int64) *io.SectionReader {
	if n < 0 || offset+n > b.hdr.Size {
		n = b.hdr.Size - offset
	}
	return io.NewSectionReader(b.f, headerSize+offset, n)
}

func (b *blobFile) info(key string) edustream.BlobInfo {
	return edustream.BlobInfo{
		Key:          key,
		Size:         b.hdr.Size,
		ETag:         b.hdr.ETag,
		ContentType:  b.hdr.ContentType,
		CacheControl: b.hdr.CacheControl,
		ModTime:      b.fi.ModTime(),
	}
}

// tempBlob is a blob file being written in the store's temp directory.
type tempBlob struct {
	f    *os.File
	md5  hash.Hash
	size int64
}

func newTempBlob(dir string) (*tempBlob, error) {
	f, err := os.CreateTemp(dir, "blob-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create temp blob: %w", err)
	}
	if _, err := f.Seek(headerSize, io.SeekStart); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &tempBlob{f: f, md5: md5.New()}, nil
}

func (t *tempBlob) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.md5.Write(p[:n])
	t.size += int64(n)
	return n, err
}

// quotedMD5 is the ETag S3 gives a single-part object.
func (t *tempBlob) quotedMD5() string {
	return `"` + hex.EncodeToString(t.md5.Sum(nil)) + `"`
}

// finish writes the header (h.Size is set here), syncs and closes the
// file, and renames it to path, creating path's directories. On error the
// temp file is gone.
func (t *tempBlob) finish(h header, path string) error {
	h.Format = headerFormat
	h.Size = t.size
	err := t.writeHeader(h)
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameInto(t.f.Name(), path)
	}
	if err != nil {
		os.Remove(t.f.Name())
		return fmt.Errorf("store blob file: %w", err)
	}
	return nil
}

func (t *tempBlob) writeHeader(h header) error {
	b, err := h.encode()
	if err != nil {
		return err
	}
	if _, err := t.f.WriteAt(b, 0); err != nil {
		return err
	}
	return t.f.Sync()
}

// discard removes an unfinished temp file.
func (t *tempBlob) discard() {
	t.f.Close()
	os.Remove(t.f.Name())
}

// renameInto renames from to path, creating path's directory first. A
// concurrent Delete may prune the directory between the two steps, so the
// pair is retried a few times.
func renameInto(from, path string) error {
	var err error
	for range 5 {
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err = os.Rename(from, path); err == nil || !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return err
}
