package gqlhttp

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTP caching of GraphQL responses:
//
//   - Every response varies by Accept (the media type) and Authorization
//     (who asks); a CORS middleware in front adds Origin where it
//     answers by origin.
//   - A GET answered with data and no errors carries an ETag, and an
//     If-None-Match naming it gets 304 Not Modified without a body.
//   - A GET by an anonymous caller whose response every anonymous caller
//     shares (see Sharing) is Cache-Control: public with a short
//     max-age, so a CDN may answer it for that long. Everything
//     else is private, no-store: it is the caller's, or an error, or not
//     addressable by URL (POST).

const (
	cacheControlPrivate = "private, no-store"
	varyQuery           = "Accept, Authorization"
)

// DefaultPublicMaxAge is Config.PublicMaxAge's default.
const DefaultPublicMaxAge = 10 * time.Second

// cacheControlPublic returns the Cache-Control of public responses, or ""
// when they are not to be cached (maxAge < 1s).
func cacheControlPublic(maxAge time.Duration) string {
	seconds := int64(maxAge / time.Second)
	if seconds < 1 {
		return ""
	}
	return "public, max-age=" + strconv.FormatInt(seconds, 10)
}

// writeData writes a response with data and no errors: with an ETag on a
// GET, 304 for a GET that already has it, and public caching for the
// responses every anonymous caller shares.
func (t *httpTransport) writeData(w http.ResponseWriter, r *http.Request, media string, public bool, e *cachedResponse) {
	if r.Method != http.MethodGet {
		writeBody(w, media, http.StatusOK, e.body)
		return
	}
	h := w.Header()
	if public && t.publicCacheControl != "" {
		h.Set("Cache-Control", t.publicCacheControl)
	}
	tag := e.etag(media)
	h.Set("ETag", tag)
	if matchesETag(r.Header.Values("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeBody(w, media, http.StatusOK, e.body)
}

// matchesETag applies If-None-Match (RFC 9110 §13.1.2): "*", or any of the
// listed tags equal to etag by the weak comparison.
func matchesETag(ifNoneMatch []string, etag string) bool {
	for _, header := range ifNoneMatch {
		for tag := range strings.SplitSeq(header, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") {
				return true
			}
		}
	}
	return false
}
