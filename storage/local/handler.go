package local

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/edustream/edustream"
)

// Handler serves signed URLs at their full path, /blobs/<key>: GET and HEAD
// of a blob (with ranges and conditional requests), PUT of an upload's part,
// and the CORS preflight browsers send before a part PUT from the SPA.
//
// A URL that is tampered with, expired or used with another method than it
// was signed for is answered 403 with the same short message, whichever
// check failed; a missing blob 404. A part URL is signed for the part's
// exact length: a longer body is 413 and a shorter one 400, told from the
// Content-Length before a byte is read, or when the body runs past the
// length (or ends short of it) without one; nothing is stored either way,
// so the part can be PUT again.
//
// A GET answer is private to whoever holds its URL: it is sent with
// "private, max-age=" the seconds the URL has left, whatever the blob's
// stored Cache-Control (see edustream.BlobStore.PresignGet).
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// corsAllowHeaders are the request headers the SPA may send: the part's
// type, and ranges and validators on reads (a video player sends those).
const corsAllowHeaders = "Content-Type, Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range"

func (s *Store) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Signed URLs are the credential: any origin may use one, and no
	// cookies are involved, so "*" is safe and CDN-cacheable.
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Content-Length, Content-Range, Accept-Ranges")
	h.Set("X-Content-Type-Options", "nosniff")

	key, ok := strings.CutPrefix(r.URL.Path, RoutePrefix)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT")
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet, http.MethodHead:
		s.serveBlob(w, r, key)
	case http.MethodPut:
		s.servePart(w, r, key)
	default:
		h.Set("Allow", "GET, HEAD, PUT, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// forbidden says nothing about which check failed: that would only help
// someone probing for a URL that works.
func forbidden(w http.ResponseWriter) {
	http.Error(w, "forbidden: invalid or expired signature", http.StatusForbidden)
}

func (s *Store) serveBlob(w http.ResponseWriter, r *http.Request, key string) {
	// HEAD is GET without the body, so a GET URL allows both.
	g, ok := s.verify(r, http.MethodGet, key)
	if !ok || g.uploadID != "" || g.partNumber != 0 || g.size != 0 {
		forbidden(w)
		return
	}
	b, err := s.open(key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer b.f.Close()
	h := w.Header()
	contentType := b.hdr.ContentType
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	h.Set("Content-Type", contentType)
	// The signature is the credential: no cache may keep the answer for
	// others, nor past the moment the URL stops working.
	h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(max(g.expires-s.now().Unix(), 0), 10))
	h.Set("ETag", b.hdr.ETag)
	http.ServeContent(w, r, "", b.fi.ModTime(), b.section(0, -1))
}

func (s *Store) servePart(w http.ResponseWriter, r *http.Request, key string) {
	g, ok := s.verify(r, http.MethodPut, key)
	if !ok || g.uploadID == "" || edustream.ValidatePartNumber(g.partNumber) != nil || edustream.ValidatePartLength(g.size) != nil {
		forbidden(w)
		return
	}
	switch {
	case r.ContentLength > g.size:
		partTooLarge(w, g)
		return
	case r.ContentLength >= 0 && r.ContentLength < g.size:
		partTooShort(w, g)
		return
	}
	body := http.MaxBytesReader(w, r.Body, g.size)
	etag, err := s.putPart(r.Context(), key, g.uploadID, g.partNumber, g.size, body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		partTooLarge(w, g)
		return
	case errors.Is(err, errPartTooShort):
		partTooShort(w, g)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

func partTooLarge(w http.ResponseWriter, g grant) {
	http.Error(w, fmt.Sprintf("part %d is longer than the %d bytes its URL was signed for", g.partNumber, g.size), http.StatusRequestEntityTooLarge)
}

func partTooShort(w http.ResponseWriter, g grant) {
	http.Error(w, fmt.Sprintf("part %d is shorter than the %d bytes its URL was signed for", g.partNumber, g.size), http.StatusBadRequest)
}

// fail answers an error of the store: its code as a status, its safe
// message as the body. Internal errors are logged (with the request's
// logger, see edustream.Logger) and only named.
func (s *Store) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch edustream.ErrorCode(err) {
	case edustream.ENOTFOUND:
		http.Error(w, "not found", http.StatusNotFound)
	case edustream.EINVALID:
		http.Error(w, edustream.ErrorMessage(err), http.StatusBadRequest)
	default:
		if r.Context().Err() != nil {
			return // the client went away; nobody reads an answer
		}
		edustream.Logger(r.Context()).ErrorContext(r.Context(), "blob request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}
