package webex

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// Error is a non-2xx answer from Webex. Its text keeps the tracking id, the
// handle Webex support asks for, and never holds a token.
type Error struct {
	// Op is the request: method and path, e.g. "GET /v1/meetings/abc".
	Op         string
	StatusCode int
	// Message and Descriptions come from the Webex error body
	// {"message", "errors": [{"description"}], "trackingId"}.
	Message      string
	Descriptions []string
	// TrackingID identifies the request in Webex's logs: from the body, or
	// the TrackingID response header.
	TrackingID string
	// RetryAfter is the wait the server asked for (429, 423, 503), zero
	// when it did not say.
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("webex: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, d := range e.Descriptions {
		if d != e.Message {
			b.WriteString("; ")
			b.WriteString(d)
		}
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	if e.TrackingID != "" {
		b.WriteString(" (trackingId ")
		b.WriteString(e.TrackingID)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap exposes the edustream error code of the failures a user can act
// on (a rejected title or time, a meeting deleted in Webex, a conflict), so
// edustream.ErrorCode works on errors from this package. Everything else —
// our credentials refused, rate limits, Webex outages — stays internal.
func (e *Error) Unwrap() error {
	switch e.StatusCode {
	case http.StatusBadRequest:
		msg := "Webex rejected the request"
		if d := e.detail(); d != "" {
			msg += ": " + d
		}
		return &edustream.Error{Code: edustream.EINVALID, Message: msg}
	case http.StatusNotFound, http.StatusGone:
		return &edustream.Error{Code: edustream.ENOTFOUND, Message: "not found in Webex"}
	case http.StatusConflict:
		msg := "conflict in Webex"
		if d := e.detail(); d != "" {
			msg += ": " + d
		}
		return &edustream.Error{Code: edustream.ECONFLICT, Message: msg}
	}
	return nil
}

// detail is the most specific text Webex gave: its descriptions name the
// field at fault, the message is often generic.
func (e *Error) detail() string {
	if len(e.Descriptions) > 0 {
		return strings.Join(e.Descriptions, "; ")
	}
	return e.Message
}

// ErrOutcomeUnknown matches the error of a request that is not safe to
// repeat (a POST create) when an attempt may have reached Webex and been
// applied but its answer was lost: a 5xx or a dropped connection. The
// caller must look before it creates again.
var ErrOutcomeUnknown = errors.New("webex: the request may have been applied")

type outcomeUnknownError struct{ err error }

func (e *outcomeUnknownError) Error() string {
	return e.err.Error() + " (the request may have been applied)"
}

func (e *outcomeUnknownError) Unwrap() []error { return []error{e.err, ErrOutcomeUnknown} }

// StatusCode returns the HTTP status of the *Error in err's chain, 0 if
// there is none.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether Webex answered 404 or 410: the meeting,
// recording or webhook does not exist (any more).
func IsNotFound(err error) bool {
	s := StatusCode(err)
	return s == http.StatusNotFound || s == http.StatusGone
}

// apiErrorBody is the Webex error shape, plus the OAuth error fields the
// token endpoint may use.
type apiErrorBody struct {
	Message string `json:"message"`
	Errors  []struct {
		Description string `json:"description"`
	} `json:"errors"`
	TrackingID       string `json:"trackingId"`
	OAuthError       string `json:"error"`
	OAuthDescription string `json:"error_description"`
}

// newError builds the *Error of a response, scrubbing the credentials in
// case a server echoes them.
func (c *Client) newError(op string, res *response) *Error {
	e := &Error{Op: op, StatusCode: res.status, RetryAfter: parseRetryAfter(res.header, c.clock.Now())}
	var body apiErrorBody
	if json.Unmarshal(res.body, &body) == nil {
		e.Message = body.Message
		for _, d := range body.Errors {
			if d.Description != "" {
				e.Descriptions = append(e.Descriptions, d.Description)
			}
		}
		e.TrackingID = body.TrackingID
	}
	if e.TrackingID == "" {
		e.TrackingID = res.header.Get("TrackingID")
	}
	secrets := c.auth.secrets()
	e.Message = redact(truncate(e.Message, 500), secrets)
	for i, d := range e.Descriptions {
		e.Descriptions[i] = redact(truncate(d, 500), secrets)
	}
	e.TrackingID = redact(truncate(e.TrackingID, 200), secrets)
	return e
}

// redact replaces every occurrence of a secret in s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
