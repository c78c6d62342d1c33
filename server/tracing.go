package server

import (
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// traceRequests returns the API: routes behind observe, and with
// cfg.Tracer, the two wrapped so that every request but the load
// balancer's probes is a server span: the child of the trace a client's
// traceparent names, or a new trace. The span is outside the access log,
// whose line then carries its ids.
//
// A span is named after the route that served it ("POST /query", "GET
// /play/"), never the path, which holds ids and whatever a scanner tries.
func traceRequests(cfg Config, logger *slog.Logger, routes http.Handler) http.Handler {
	if cfg.Tracer == nil {
		return observe(logger, routes)
	}
	propagator := cfg.Propagator
	if propagator == nil {
		propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return otelhttp.NewHandler(observe(logger, nameAfterRoute(routes)), "",
		otelhttp.WithTracerProvider(cfg.Tracer),
		otelhttp.WithPropagators(propagator),
		// Metrics are Prometheus's, on their own listener.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !isProbe(r.URL.Path) }),
	)
}

// nameAfterRoute renames the request's span after the pattern that routed
// it, once it is known: the muxes set Pattern on the request they are
// given, which observe copied, so otelhttp's own renaming does not see it.
func nameAfterRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if r.Pattern == "" {
			return
		}
		// "GET /healthz" holds the method already; "/query" does not.
		route := r.Pattern
		if _, path, ok := strings.Cut(route, " "); ok {
			route = path
		}
		span := trace.SpanFromContext(r.Context())
		span.SetName(r.Method + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route))
	})
}
