package gqlhttp

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
)

// BenchmarkMetricsPerRequest is what the metrics add to one request, alone:
// a response cache hit (counted and timed at the edge), and an executed
// query (the operation middleware around a handler that answers at once).
// Two goroutines share the series, as the requests of a process do, but
// do nothing else, so they contend for them far more than requests do;
// one goroutine alone is the cost without contention. The
// end-to-end comparison is BenchmarkCatalogMetrics (cmd/edustream); under a
// shared machine's load its variance is larger than this whole cost.
func BenchmarkMetricsPerRequest(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry(), MetricsConfig{})
	// The transport reads the request's start anyway; the metrics read
	// the clock once more, to time it.
	start := time.Now()
	b.Run("cache-hit", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.cached("Catalog", start)
			}
		})
	})
	b.Run("cache-hit-one-goroutine", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			m.cached("Catalog", start)
		}
	})
	b.Run("executed", func(b *testing.B) {
		oc := &graphql.OperationContext{
			Operation: &ast.OperationDefinition{Operation: ast.Query, Name: "Catalog"},
			Stats:     graphql.Stats{OperationStart: time.Now()},
		}
		ctx := graphql.WithOperationContext(context.Background(), oc)
		resp := &graphql.Response{Data: []byte(`{}`)}
		next := func(context.Context) graphql.ResponseHandler {
			return func(context.Context) *graphql.Response { return resp }
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.aroundOperation(ctx, next)(ctx)
			}
		})
	})
}
