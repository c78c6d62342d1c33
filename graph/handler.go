package graph

import (
	"context"
	"errors"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph/generated"
	"github.com/edustream/edustream/graph/scalar"
)

// Config is the endpoint's: the edge's limits and switches, and the routing
// of reads.
type Config struct {
	gqlhttp.Config
	// WriteMarks, when set, sends a user's reads to the primary for a while
	// after they wrote (see edustream.WriteMarks). Leave nil without a replica.
	WriteMarks edustream.WriteMarks
}

// NewHandler returns the /query endpoint of EduStream's schema: gqlhttp's
// transports and limits over the resolvers of r, priced by complexity(),
// with the errors presented as errors.go says, fresh loaders for every
// operation, and the responses shared as sharing.go says.
func NewHandler(cfg Config, r *Resolver) http.Handler {
	return gqlhttp.New(gqlhttp.Schema{
		Executable:       generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexity()}),
		ErrorPresenter:   presentError,
		Recover:          recoverPanic,
		AroundOperations: aroundOperation(r, cfg.WriteMarks),
		Sharing:          sharing{},
		ScalarCheck:      checkScalar,
	}, cfg.Config)
}

// aroundOperation prepares each operation: fresh dataloaders, and the
// read-your-writes routing of edustream.ReadsPrimary.
func aroundOperation(r *Resolver, marks edustream.WriteMarks) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		u := edustream.UserFromContext(ctx)
		isMutation := oc.Operation != nil && oc.Operation.Operation == ast.Mutation

		switch {
		case isMutation:
			ctx = edustream.NewContextReadingPrimary(ctx)
		case u != nil && marks != nil && !edustream.ReadsPrimary(ctx):
			wrote, err := marks.WroteRecently(ctx, u.ID)
			if err != nil {
				// Reading the primary is always correct, only dearer.
				edustream.Logger(ctx).Warn("read write mark; reading the primary", "error", err)
			}
			if wrote || err != nil {
				ctx = edustream.NewContextReadingPrimary(ctx)
			}
		}
		isSubscription := oc.Operation != nil && oc.Operation.Operation == ast.Subscription
		if !isSubscription {
			// A subscription's resolver builds loaders for its own checks
			// (withFreshLoaders), and each event gets new ones below.
			ctx = withLoaders(ctx, newLoaders(r, u))
		}

		respond := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			if isSubscription {
				// gqlgen calls this once per event: each event's fields
				// resolve with fresh loaders, or an hour-old subscription
				// would serve the course as it was when it started.
				ctx = withLoaders(ctx, newLoaders(r, u))
			}
			resp := respond(ctx)
			if isMutation && u != nil && marks != nil {
				if err := marks.MarkWrite(ctx, u.ID); err != nil {
					edustream.Logger(ctx).Warn("mark write; this user may read stale data from the replica for a moment", "error", err)
				}
			}
			return resp
		}
	}
}

// checkScalar refuses, before any resolver, the Int variables the Int
// scalar would refuse at every field that uses them.
func checkScalar(name string, v any) error {
	if name != "Int" {
		return nil
	}
	if _, err := scalar.UnmarshalInt(v); err != nil {
		return errors.New(edustream.ErrorMessage(err))
	}
	return nil
}
