package gqlhttp

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// guardedExecutor is gqlgen's executor with parsing and validation done
// here first, so that a document is priced (see limits.go) before
// validation walks it, and validation stops after maxErrors errors. A
// document that passes goes into the query cache the executor reads, so
// the executor neither parses nor validates it again; it then coerces the
// variables, runs the operation context mutators (costLimit) and the
// operation. The HTTP and websocket transports both call it.
type guardedExecutor struct {
	*executor.Executor
	es     graphql.ExecutableSchema
	schema *ast.Schema
	cache  graphql.Cache[*ast.QueryDocument]
	apq    extension.AutomaticPersistedQuery
	rules  []validator.Rule
	// rulesWithoutMerge leaves out the fields-can-merge rule, for the
	// documents in which no two fields answer to one response key.
	rulesWithoutMerge []validator.Rule
	tokenLimit        int
	maxDepth          int
	maxSelections     int
	// complexityLimit is costLimit's, checked here as a lower bound.
	complexityLimit int
}

var _ graphql.GraphExecutor = (*guardedExecutor)(nil)

func (e *guardedExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	refused := &graphql.OperationContext{
		RawQuery:             params.Query,
		OperationName:        params.OperationName,
		Variables:            params.Variables,
		Extensions:           params.Extensions,
		Headers:              params.Headers,
		DisableIntrospection: true,
	}
	// Persisted queries resolve to their text first; the extension
	// records its statistics on an operation context.
	if err := e.apq.MutateOperationParameters(graphql.WithOperationContext(ctx, refused), params); err != nil {
		return refused, gqlerror.List{err}
	}
	refused.RawQuery = params.Query
	if _, ok := e.cache.Get(ctx, params.Query); !ok {
		doc, errs := e.prepare(ctx, params.Query, params.OperationName)
		if errs != nil {
			return refused, errs
		}
		e.cache.Add(ctx, params.Query, doc)
	}
	return e.Executor.CreateOperationContext(ctx, params)
}

// prepare scans, parses, prices and validates a document, each step only if
// the one before passed.
func (e *guardedExecutor) prepare(ctx context.Context, query, operationName string) (*ast.QueryDocument, gqlerror.List) {
	scan, err := prescan(query, e.tokenLimit)
	if err != nil {
		return nil, gqlerror.List{err}
	}
	doc, parseErr := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, e.tokenLimit)
	if parseErr != nil {
		gqlErr, ok := parseErr.(*gqlerror.Error)
		if !ok {
			gqlErr = gqlerror.Errorf("%s", parseErr)
		}
		errcode.Set(gqlErr, errcode.ParseFailed)
		return nil, gqlerror.List{gqlErr}
	}
	if len(doc.Operations) == 0 {
		gqlErr := gqlerror.Errorf("no operation provided")
		errcode.Set(gqlErr, errcode.ValidationFailed)
		return nil, gqlerror.List{gqlErr}
	}
	mayConflict, gqlErr := checkDocument(doc, e.maxDepth, e.maxSelections, scan)
	if gqlErr != nil {
		return nil, gqlerror.List{gqlErr}
	}
	// The operation to run costs at least its price with literal
	// arguments only: refusing on that spares validation. A document
	// refused here is not cached, so another operation of it may still
	// run.
	if op := doc.Operations.ForName(operationName); op != nil {
		byName := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
		for _, f := range doc.Fragments {
			if _, dup := byName[f.Name]; !dup {
				byName[f.Name] = f
			}
		}
		p := newPricer(ctx, e.es, nil, byName)
		p.stopAbove = e.complexityLimit
		if cost := p.operation(op); cost > e.complexityLimit {
			return nil, gqlerror.List{complexityError(op, cost, e.complexityLimit, true)}
		}
	}
	rules := e.rules
	if !mayConflict {
		rules = e.rulesWithoutMerge
	}
	if errs := validate(e.schema, doc, rules); len(errs) > 0 {
		return nil, errs
	}
	return doc, nil
}
