package edustream

import (
	"errors"
	"fmt"
)

// Error codes. Each transport maps them to its own vocabulary in exactly one
// place: the GraphQL error presenter, the HTTP handlers and the job handlers.
const (
	ECONFLICT        = "conflict"
	EFORBIDDEN       = "forbidden"
	EINTERNAL        = "internal"
	EINVALID         = "invalid"
	ENOTFOUND        = "not_found"
	EUNAUTHENTICATED = "unauthenticated"
	// EUNAVAILABLE is a backend that is down or saturated for now (the
	// database refusing connections, Redis failing over): the same request
	// may succeed if retried, unlike EINTERNAL.
	EUNAVAILABLE = "unavailable"
	// ELIMIT is a per-user or per-process bound reached (sockets,
	// subscriptions, open uploads): the request is refused, and nothing in it
	// was wrong.
	ELIMIT = "limit"
)

// The codes clients see, in GraphQL's extensions.code, whatever the
// transport: GraphQL responses, the HTTP edge's refusals and websocket
// errors all use these words. They are part of the public contract.
const (
	PublicUnauthenticated = "UNAUTHENTICATED"
	PublicForbidden       = "FORBIDDEN"
	PublicNotFound        = "NOT_FOUND"
	PublicBadUserInput    = "BAD_USER_INPUT"
	PublicConflict        = "CONFLICT"
	PublicInternal        = "INTERNAL"
	PublicUnavailable     = "UNAVAILABLE"
	PublicLimitExceeded   = "LIMIT_EXCEEDED"
)

var publicCodes = map[string]string{
	EUNAUTHENTICATED: PublicUnauthenticated,
	EFORBIDDEN:       PublicForbidden,
	ENOTFOUND:        PublicNotFound,
	EINVALID:         PublicBadUserInput,
	ECONFLICT:        PublicConflict,
	EINTERNAL:        PublicInternal,
	EUNAVAILABLE:     PublicUnavailable,
	ELIMIT:           PublicLimitExceeded,
}

// PublicCode returns the code clients see for a domain code. A code without
// a public word (a typo, or one added without thinking of clients) is
// INTERNAL, never an empty code.
func PublicCode(code string) string {
	if c, ok := publicCodes[code]; ok {
		return c
	}
	return PublicInternal
}

// Error is an application error with a code and a message that is safe to
// show to the caller. Anything that is not an *Error is internal and its text
// is never shown.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("edustream error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of the first *Error in err's chain,
// "" for nil and "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
