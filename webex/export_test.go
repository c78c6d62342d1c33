package webex

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"time"
)

// Helpers only the tests use, declared in the package so that they can
// use its unexported parts, and reached as webex.X from webex_test.

// Sign returns the X-Spark-Signature of body for secret, as Webex signs a
// delivery.
func Sign(body, secret []byte) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// OccurrenceID returns the id of the series' scheduled meeting that starts
// at start.
func OccurrenceID(series string, start time.Time) string {
	return series + "_" + start.UTC().Format(occurrenceLayout)
}

// IsInvalid reports whether Webex rejected the request's content (400).
func IsInvalid(err error) bool { return StatusCode(err) == http.StatusBadRequest }

// IsRateLimited reports whether Webex refused the call for now (429 or
// 423).
func IsRateLimited(err error) bool {
	s := StatusCode(err)
	return s == http.StatusTooManyRequests || s == http.StatusLocked
}

// IsUnauthorized reports whether Webex refused our credentials (401 after
// the one refresh-and-retry) or the token could not be refreshed.
func IsUnauthorized(err error) bool {
	return StatusCode(err) == http.StatusUnauthorized || errors.Is(err, ErrRefreshRejected)
}
