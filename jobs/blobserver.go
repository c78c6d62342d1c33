package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// blobServer lets ffmpeg read stored blobs without downloading them first:
// it serves them on the loopback, with ranges, reading from the blob store
// only the bytes ffmpeg asks for. The probe reads a source of up to 10 GiB
// this way (its headers and its last seconds), and the thumbnails read a
// published rendition instead of the source, so the only step that
// downloads a source whole is the transcode.
//
// Nothing else can reach it: it listens on 127.0.0.1, for the length of a
// step, and every path starts with a random token.
type blobServer struct {
	blobs  edustream.BlobStore
	prefix string
	token  string
	ln     net.Listener
	srv    *http.Server
}

// serveBlobs serves the blobs whose keys start with prefix at URL() + the
// rest of the key, until close.
func serveBlobs(ctx context.Context, blobs edustream.BlobStore, prefix string) (*blobServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("serve blobs to ffmpeg: %w", err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	s := &blobServer{blobs: blobs, prefix: prefix, token: hex.EncodeToString(b), ln: ln}
	log := edustream.Logger(ctx)
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// The step's context: its logger, and its end ends every read.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go s.srv.Serve(smallBuffers{ln})
	return s, nil
}

// smallBuffers keeps the send buffers of the connections small. ffmpeg
// closes a connection once it has read what it needs, and every byte the
// loopback's buffers took ahead of it by then was read from the store for
// nothing: with the kernel's defaults, megabytes per seek.
type smallBuffers struct{ net.Listener }

// sendBuffer is the send buffer of a connection to ffmpeg.
const sendBuffer = 64 << 10

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(sendBuffer)
	}
	return c, err
}

// URL is where the blob with key prefix + rest is served: URL() + rest.
func (s *blobServer) URL() string { return "http://" + s.ln.Addr().String() + "/" + s.token + "/" }

// close stops serving and ends the reads under way.
func (s *blobServer) close() { s.srv.Close() }

func (s *blobServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+s.token+"/")
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	key := s.prefix + rest
	if err := edustream.ValidateBlobKey(key); err != nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	info, err := s.blobs.Head(ctx, key)
	switch {
	case edustream.ErrorCode(err) == edustream.ENOTFOUND:
		http.NotFound(w, r)
		return
	case err != nil:
		edustream.Logger(ctx).Warn("serve a blob to ffmpeg", slog.String("key", key), slog.String("error", err.Error()))
		http.Error(w, "storage failed", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", blobMeta(path.Base(key)).ContentType)
	body := &blobReader{ctx: ctx, blobs: s.blobs, key: key, size: info.Size}
	defer body.Close()
	// ServeContent answers ranges (ffmpeg seeks with them) by seeking
	// body, which opens a read of the store from there.
	http.ServeContent(w, r, "", info.ModTime, body)
}

// blobReader is an io.ReadSeeker over a stored blob: a read after a seek
// opens one ranged read of the store, from the offset to the end, which
// the next seek closes.
type blobReader struct {
	ctx   context.Context
	blobs edustream.BlobStore
	key   string
	size  int64

	pos  int64
	body io.ReadCloser
	// bodyPos is where body's next byte is.
	bodyPos int64
}

func (r *blobReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("blob reader: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("blob reader: negative position")
	}
	r.pos = offset
	return offset, nil
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body != nil && r.bodyPos != r.pos {
		r.body.Close()
		r.body = nil
	}
	if r.body == nil {
		body, err := r.blobs.Get(r.ctx, r.key, r.pos, -1)
		if err != nil {
			return 0, err
		}
		r.body, r.bodyPos = body, r.pos
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	r.bodyPos = r.pos
	return n, err
}

func (r *blobReader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
