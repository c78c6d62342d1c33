package gqlhttp

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// ComplexityForTest prices op as costLimit does.
func ComplexityForTest(ctx context.Context, es graphql.ExecutableSchema, op *ast.OperationDefinition, vars map[string]any) int {
	return newPricer(ctx, es, vars, nil).operation(op)
}

// LowerBoundForTest prices a document that validation has not seen, as
// guardedExecutor does before validating it.
func LowerBoundForTest(ctx context.Context, es graphql.ExecutableSchema, doc *ast.QueryDocument) int {
	byName := map[string]*ast.FragmentDefinition{}
	for _, f := range doc.Fragments {
		byName[f.Name] = f
	}
	return newPricer(ctx, es, nil, byName).operation(doc.Operations[0])
}
