package gqlhttp

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A Class is a set of callers who are all given the same response to the
// queries their class shares, so that one answer may serve them all: from
// the response cache, and for Public over HTTP too. The schema names its
// classes, one bit each, so that a Class value can also stand for several;
// 0 is nobody.
type Class uint8

// Public is the class of anonymous callers. A GET response they share is
// Cache-Control: public (see Config.PublicMaxAge), so a CDN may answer it.
const Public Class = 1

// Sharing is a schema's rule of which responses callers may share. The
// edge holds no response, and makes none public, unless the rule says
// that every caller of the class would have been given the same bytes.
type Sharing interface {
	// ClassOf returns the class of the caller of ctx, or 0 when the
	// caller's reads are its own.
	ClassOf(ctx context.Context) Class
	// SharedBy returns the classes among whose callers every response to
	// op is the same. op comes from a validated document, whose fields
	// know their definitions.
	SharedBy(op *ast.OperationDefinition) Class
	// ChangesSharedReads reports whether an executed mutation may have
	// changed what a shared response shows; if so the response caches are
	// emptied before it answers. A mutation that was refused should not
	// count: anyone could empty every instance's cache at will.
	ChangesSharedReads(oc *graphql.OperationContext, resp *graphql.Response) bool
}

// shareNothing is the rule of a schema without one.
type shareNothing struct{}

func (shareNothing) ClassOf(context.Context) Class           { return 0 }
func (shareNothing) SharedBy(*ast.OperationDefinition) Class { return 0 }
func (shareNothing) ChangesSharedReads(*graphql.OperationContext, *graphql.Response) bool {
	return false
}
