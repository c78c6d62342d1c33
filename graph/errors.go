package graph

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/edustream/edustream"
)

// The extensions.code values clients switch on, defined once in the domain.
const (
	CodeUnauthenticated = edustream.PublicUnauthenticated
	CodeForbidden       = edustream.PublicForbidden
	CodeNotFound        = edustream.PublicNotFound
	CodeBadUserInput    = edustream.PublicBadUserInput
	CodeConflict        = edustream.PublicConflict
	CodeInternal        = edustream.PublicInternal
)

// presentError is the one place where errors become GraphQL errors. Domain
// errors keep their safe message and get their code; errors gqlgen raises
// about the document itself (syntax, validation, limits) are the caller's
// mistake; anything else is logged with its detail and shown as "internal
// error".
func presentError(ctx context.Context, err error) *gqlerror.Error {
	// A copy: the transports still read the original's code to tell a
	// request error from a field error.
	presented := *graphql.DefaultErrorPresenter(ctx, err)
	presented.Extensions = maps.Clone(presented.Extensions)
	gqlErr := &presented
	defer func() { gqlErr.Message = truncateMessage(gqlErr.Message) }()
	var appErr *edustream.Error
	switch {
	case errors.As(err, &appErr):
		gqlErr.Message = appErr.Message
		setCode(gqlErr, edustream.PublicCode(appErr.Code))
	case errors.Is(err, errRecoveredPanic):
		gqlErr.Message = "internal error"
		setCode(gqlErr, CodeInternal)
	case gqlErr.Err == nil:
		// Raised by gqlgen while parsing, validating or limiting the
		// document. Its own code, if any, stays as the reason.
		if reason, ok := gqlErr.Extensions["code"].(string); ok {
			gqlErr.Extensions["reason"] = reason
		}
		setCode(gqlErr, CodeBadUserInput)
	default:
		edustream.Logger(ctx).Error("graphql internal error", "path", gqlErr.Path.String(), "error", err)
		gqlErr.Message = "internal error"
		gqlErr.Err = nil
		setCode(gqlErr, CodeInternal)
	}
	return gqlErr
}

// maxMessageBytes bounds an error message, which may quote a name or a
// literal from the document.
const maxMessageBytes = 300

func truncateMessage(s string) string {
	if len(s) <= maxMessageBytes {
		return s
	}
	cut := maxMessageBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// boundErrors keeps a response's errors to maxResponseErrors: an operation
// of many failing aliases would otherwise answer a few bytes of request
// with a long list of errors. The last one says how many were left out.
func boundErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= maxResponseErrors {
		return resp
	}
	omitted := len(resp.Errors) - (maxResponseErrors - 1)
	resp.Errors = append(resp.Errors[:maxResponseErrors-1:maxResponseErrors-1], &gqlerror.Error{
		Message:    fmt.Sprintf("%d more errors were left out", omitted),
		Extensions: map[string]any{"code": CodeBadUserInput, "reason": reasonTooManyErrors},
	})
	return resp
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

var errRecoveredPanic = errors.New("panic in resolver")

// recoverPanic logs a resolver panic with its stack; the presenter then shows
// it as an internal error and the rest of the response still resolves.
func recoverPanic(ctx context.Context, p any) error {
	edustream.Logger(ctx).Error("graphql panic", "panic", p, "stack", string(debug.Stack()))
	return errRecoveredPanic
}

// Errors resolvers return for the common refusals.
func errUnauthenticated() error {
	return edustream.Errorf(edustream.EUNAUTHENTICATED, "sign in first")
}

func errCourseNotFound(id int64) error {
	return edustream.Errorf(edustream.ENOTFOUND, "course %d not found", id)
}

func errLectureNotFound(id int64) error {
	return edustream.Errorf(edustream.ENOTFOUND, "lecture %d not found", id)
}
