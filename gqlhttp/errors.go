package gqlhttp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// presenter presents every error of a response. Errors raised by gqlgen or
// by the limits here about the document itself (syntax, validation,
// limits: they have no cause) are the caller's mistake: BAD_USER_INPUT,
// with their own code, if any, as extensions.reason. The rest are the
// schema's to present. Every message is bounded, since it may quote a name
// or a literal from the document.
func presenter(schema graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	if schema == nil {
		schema = graphql.DefaultErrorPresenter
	}
	return func(ctx context.Context, err error) *gqlerror.Error {
		if op := wsOperationFrom(ctx); op != nil {
			op.failedWhileDispatching()
		}
		var gqlErr *gqlerror.Error
		if !errors.As(err, &gqlErr) || gqlErr.Err != nil {
			return truncated(schema(ctx, err))
		}
		// A copy: the transports still read the original's code to tell a
		// request error from a field error.
		presented := *gqlErr
		presented.Extensions = maps.Clone(presented.Extensions)
		if presented.Extensions == nil {
			presented.Extensions = map[string]any{}
		}
		if reason, ok := presented.Extensions["code"].(string); ok {
			presented.Extensions["reason"] = reason
		}
		presented.Extensions["code"] = codeBadUserInput
		return truncated(&presented)
	}
}

// maxMessageBytes bounds an error message.
const maxMessageBytes = 300

// truncated returns e with its message cut to maxMessageBytes, copying e
// if it must: a presenter may hand back the error it was given.
func truncated(e *gqlerror.Error) *gqlerror.Error {
	if len(e.Message) <= maxMessageBytes {
		return e
	}
	cut := maxMessageBytes
	for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
		cut--
	}
	c := *e
	c.Message = e.Message[:cut] + "…"
	return &c
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
		Extensions: map[string]any{"code": codeBadUserInput, "reason": reasonTooManyErrors},
	})
	return resp
}
