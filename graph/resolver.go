// Package graph is the GraphQL adapter: gqlgen resolvers over the domain
// services, per-operation dataloaders, the error presenter that maps domain
// codes to extensions.code, and the limits that keep hostile documents cheap.
package graph

// Resolver is the root resolver; it holds the services every resolver uses.
type Resolver struct{}
