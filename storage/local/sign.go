package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// Query parameters of a signed URL.
const (
	paramExpires    = "expires"
	paramUploadID   = "uploadId"
	paramPartNumber = "partNumber"
	paramSize       = "size"
	paramSignature  = "signature"
)

// RoutePrefix is the path the Handler serves blobs under.
const RoutePrefix = "/blobs/"

// grant is what a signed URL allows: one method on one key (and, for a
// part, one upload, part number and length) until a moment. Every field
// goes into the signature, so changing any of them in the URL breaks it.
type grant struct {
	method     string
	key        string
	expires    int64 // Unix seconds
	uploadID   string
	partNumber int   // 0 for a whole blob
	size       int64 // a part's exact length; 0 for a whole blob
}

// signature is the HMAC-SHA256 of the grant. The fields are joined with
// newlines, which none of them can contain (keys have no control
// characters, upload ids are hex), so two grants never sign the same text.
// The size is a seventh field, present only in a part's grant: a GET URL
// signs the same text it did before parts had sizes, so the playback URLs
// handed out before an upgrade keep working (a part URL without its size
// does not: it would take any length).
func (s *Store) signature(g grant) []byte {
	fields := []string{
		"edustream-blob-url/1",
		g.method,
		g.key,
		strconv.FormatInt(g.expires, 10),
		g.uploadID,
		strconv.Itoa(g.partNumber),
	}
	if g.uploadID != "" {
		fields = append(fields, strconv.FormatInt(g.size, 10))
	}
	mac := hmac.New(sha256.New, s.signingKey)
	mac.Write([]byte(strings.Join(fields, "\n")))
	return mac.Sum(nil)
}

func (s *Store) signedURL(g grant) string {
	q := url.Values{}
	q.Set(paramExpires, strconv.FormatInt(g.expires, 10))
	if g.uploadID != "" {
		q.Set(paramUploadID, g.uploadID)
		q.Set(paramPartNumber, strconv.Itoa(g.partNumber))
		q.Set(paramSize, strconv.FormatInt(g.size, 10))
	}
	q.Set(paramSignature, base64.RawURLEncoding.EncodeToString(s.signature(g)))
	return s.baseURL + RoutePrefix + escapeKey(g.key) + "?" + q.Encode()
}

// expiry is when a URL made now for ttl stops working, in whole seconds
// (rounded up, so a URL never lives shorter than asked).
func (s *Store) expiry(ttl time.Duration) int64 {
	return s.now().Add(ttl + time.Second - 1).Unix()
}

// verify reports whether r carries a valid, unexpired signature for method
// on key, and returns what it grants. Repeated parameters are refused, so
// the handler can never act on another value than the one verified. So is
// a key that fails edustream.ValidateBlobKey: the store signs whatever it
// is handed, and only a checked key may reach the files over HTTP.
func (s *Store) verify(r *http.Request, method, key string) (grant, bool) {
	if edustream.ValidateBlobKey(key) != nil {
		return grant{}, false
	}
	q := r.URL.Query()
	for _, name := range []string{paramExpires, paramUploadID, paramPartNumber, paramSize, paramSignature} {
		if len(q[name]) > 1 {
			return grant{}, false
		}
	}
	g := grant{method: method, key: key, uploadID: q.Get(paramUploadID)}
	var err error
	if g.expires, err = strconv.ParseInt(q.Get(paramExpires), 10, 64); err != nil {
		return grant{}, false
	}
	if q.Has(paramPartNumber) {
		if g.partNumber, err = strconv.Atoi(q.Get(paramPartNumber)); err != nil {
			return grant{}, false
		}
	}
	if q.Has(paramSize) {
		if g.size, err = strconv.ParseInt(q.Get(paramSize), 10, 64); err != nil {
			return grant{}, false
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(q.Get(paramSignature))
	if err != nil || !hmac.Equal(sig, s.signature(g)) {
		return grant{}, false
	}
	if s.now().Unix() >= g.expires {
		return grant{}, false
	}
	return g, true
}

func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}
