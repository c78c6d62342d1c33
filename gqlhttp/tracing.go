package gqlhttp

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const tracingScope = "github.com/edustream/edustream/gqlhttp"

// tracing makes spans of an operation and of each of its root fields, as
// children of the request's span (the HTTP server's) and from its
// provider; without a recording span in the context it does nothing.
//
// Root fields are where an operation's I/O starts: a mutation's service
// call, a query's page and its prefetch. The fields below them read what
// the loaders batch, and the statements those batches send are spans of
// their own under the root field, so a span per field would add hundreds
// of spans to a catalog page and nothing a trace needs. Subscriptions get
// no operation span: they live as long as their websocket, whose request
// is the span.
type tracing struct{}

var (
	_ graphql.HandlerExtension     = tracing{}
	_ graphql.OperationInterceptor = tracing{}
	_ graphql.RootFieldInterceptor = tracing{}
)

func (tracing) ExtensionName() string                   { return "Tracing" }
func (tracing) Validate(graphql.ExecutableSchema) error { return nil }

// tracer returns the tracer of the span in ctx, if that span records.
func (tracing) tracer(ctx context.Context) (trace.Tracer, bool) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return nil, false
	}
	return parent.TracerProvider().Tracer(tracingScope), true
}

func (t tracing) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	tr, ok := t.tracer(ctx)
	if !ok || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	kind := string(oc.Operation.Operation)
	name := kind
	attrs := []attribute.KeyValue{semconv.GraphQLOperationTypeKey.String(kind)}
	if n := oc.Operation.Name; n != "" {
		// The name is the client's: a span name does not multiply series
		// as a metric label would, and it is what a person looks for.
		name += " " + n
		attrs = append(attrs, semconv.GraphQLOperationName(n))
	}
	ctx, span := tr.Start(ctx, name, trace.WithAttributes(attrs...))
	respond := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		if resp != nil && len(resp.Errors) > 0 {
			span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
			for _, e := range resp.Errors {
				// Refusals (FORBIDDEN, BAD_USER_INPUT…) are answers; only
				// our failures mark the span.
				if code, _ := e.Extensions["code"].(string); code == "INTERNAL" {
					span.SetStatus(codes.Error, e.Message)
					break
				}
			}
		}
		span.End()
		return resp
	}
}

func (t tracing) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	tr, ok := t.tracer(ctx)
	fc := graphql.GetRootFieldContext(ctx)
	if !ok || fc == nil {
		return next(ctx)
	}
	// gqlgen puts the field's name in fc.Object; the type is the field's
	// definition's.
	object := fc.Object
	if fc.Field.Field != nil && fc.Field.ObjectDefinition != nil {
		object = fc.Field.ObjectDefinition.Name
	}
	ctx, span := tr.Start(ctx, object+"."+fc.Field.Name)
	defer span.End()
	return next(ctx)
}
