package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream/graph/generated"
)

// ExecutableSchemaForTest is the schema with the complexity rules NewHandler
// uses, without resolvers.
func ExecutableSchemaForTest() graphql.ExecutableSchema {
	return generated.NewExecutableSchema(generated.Config{Complexity: complexity()})
}

// ComplexityForTest prices op as costLimit does.
func ComplexityForTest(ctx context.Context, es graphql.ExecutableSchema, op *ast.OperationDefinition, vars map[string]any) int {
	p := &pricer{ctx: ctx, es: es, schema: es.Schema(), vars: vars, fragments: map[*ast.FragmentDefinition]int{}}
	return p.set(op.SelectionSet)
}
