package graph

import (
	"context"
	"errors"
	"maps"
	"runtime/debug"

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

// presentError is the one place where the errors of resolvers become
// GraphQL errors (gqlhttp presents those about the document itself).
// Domain errors keep their safe message and get their code; anything else
// is logged with its detail and shown as "internal error".
func presentError(ctx context.Context, err error) *gqlerror.Error {
	// A copy: gqlgen's presenter hands back a *gqlerror.Error it was
	// given, which the code set below must not change.
	presented := *graphql.DefaultErrorPresenter(ctx, err)
	presented.Extensions = maps.Clone(presented.Extensions)
	gqlErr := &presented
	var appErr *edustream.Error
	switch {
	case errors.As(err, &appErr):
		gqlErr.Message = appErr.Message
		setCode(gqlErr, edustream.PublicCode(appErr.Code))
	case errors.Is(err, errRecoveredPanic):
		gqlErr.Message = "internal error"
		setCode(gqlErr, CodeInternal)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The operation was cancelled while it ran: its client went away
		// (closed the tab, completed the subscription), or this server is
		// shutting down. Nothing for an operator to act on; a client
		// still listening may retry, on another instance.
		edustream.Logger(ctx).Info("graphql operation abandoned by its client", "operation", operationName(ctx), "path", gqlErr.Path.String())
		gqlErr.Message = "the operation was cancelled (the server is shutting down, or the client went away); retry"
		gqlErr.Err = nil
		setCode(gqlErr, edustream.PublicUnavailable)
	default:
		edustream.Logger(ctx).Error("graphql internal error", "operation", operationName(ctx), "path", gqlErr.Path.String(), "error", err)
		gqlErr.Message = "internal error"
		gqlErr.Err = nil
		setCode(gqlErr, CodeInternal)
	}
	return gqlErr
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

var errRecoveredPanic = errors.New("panic in resolver")

// operationName names the operation of ctx for a log line, if there is one.
func operationName(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	return graphql.GetOperationContext(ctx).OperationName
}

// recoverPanic logs a resolver panic with its stack; the presenter then shows
// it as an internal error and the rest of the response still resolves.
func recoverPanic(ctx context.Context, p any) error {
	edustream.Logger(ctx).Error("graphql panic", "operation", operationName(ctx), "panic", p, "stack", string(debug.Stack()))
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
