package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/edustream/edustream/graph/generated"
)

// ExecutableSchemaForTest is the schema with the complexity rules NewHandler
// uses, without resolvers.
func ExecutableSchemaForTest() graphql.ExecutableSchema {
	return generated.NewExecutableSchema(generated.Config{Complexity: complexity()})
}
