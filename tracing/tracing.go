// Package tracing turns OpenTelemetry tracing on from the standard OTEL_*
// variables, and holds the instrumentation of the third-party clients that
// cmd/edustream wires up: go-redis (RedisHook), aws-sdk-go-v2
// (AWSAPIOptions), and a slog handler that puts the trace and span ids on
// every log line written under a span.
//
// With none of the variables set, New returns a Provider that is off: no
// SDK, no exporter, no goroutine; its TracerProvider is OpenTelemetry's
// no-op one and its Logger returns the logger it is given.
//
// The adapters create their own spans with the OpenTelemetry API, each as a
// child of the span in its context and from that span's TracerProvider
// (trace.SpanFromContext(ctx).TracerProvider()), so that only the places
// where a trace starts (the HTTP server, the task worker) need a provider
// handed to them, and nothing depends on OpenTelemetry's process-wide
// globals: a statement, a Redis command or an S3 call outside any traced
// request or task makes no span at all.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Provider is the process's tracing: the tracer provider the HTTP server and
// the worker start their spans from, the propagator that reads a client's
// trace context, and what flushes the spans at exit. The zero value is off.
type Provider struct {
	sdk        *sdktrace.TracerProvider // nil: off
	propagator propagation.TextMapPropagator
	cfg        Config
}

// Off is a Provider that traces nothing.
var Off = &Provider{}

// New returns the tracing configured by getenv's OTEL_* variables (see
// ParseConfig), Off when they turn nothing on. It fails on a variable it
// cannot honour, naming it. Errors the exporter meets later (a collector
// that is down) are logged through log as warnings; the spans are dropped,
// never the work.
func New(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Provider, error) {
	cfg, err := ParseConfig(getenv)
	if err != nil {
		return nil, err
	}
	return NewFromConfig(ctx, cfg, log)
}

// NewFromConfig returns the tracing cfg describes.
func NewFromConfig(ctx context.Context, cfg Config, log *slog.Logger) (*Provider, error) {
	if !cfg.Enabled {
		return Off, nil
	}
	exporter, err := newExporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res, err := newResource(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(cfg.Sampler),
	)
	// The SDK reports export failures only through OpenTelemetry's global
	// error handler, whose default writes plain text to stderr past the
	// process's JSON log. It is the one global this package sets.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing", "error", err.Error())
	}))
	return &Provider{sdk: sdk, propagator: cfg.Propagator, cfg: cfg}, nil
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// TracerProvider is where traces start: the SDK's, or the no-op one when
// tracing is off.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p.sdk == nil {
		return noop.NewTracerProvider()
	}
	return p.sdk
}

// Propagator reads and writes the trace context of requests (OTEL_PROPAGATORS;
// W3C trace context and baggage by default). When tracing is off it is one
// that carries nothing.
func (p *Provider) Propagator() propagation.TextMapPropagator {
	if p.propagator == nil {
		return propagation.NewCompositeTextMapPropagator()
	}
	return p.propagator
}

// Logger returns log with the trace and span ids on every line written
// under a span, or log itself when tracing is off.
func (p *Provider) Logger(log *slog.Logger) *slog.Logger {
	if !p.Enabled() {
		return log
	}
	return slog.New(NewLogHandler(log.Handler()))
}

// Summary describes the configuration, as arguments of the start-up log line.
func (p *Provider) Summary() []any {
	if !p.Enabled() {
		return []any{"enabled", false}
	}
	return []any{"enabled", true, "protocol", p.cfg.Protocol, "endpoint", p.cfg.Endpoint,
		"service", p.cfg.ServiceName, "sampler", p.cfg.Sampler.Description()}
}

// ForceFlush exports the spans buffered so far, for benchmarks that count
// what arrived.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// Shutdown exports the spans still buffered and stops the exporter. It
// waits at most until ctx ends.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flush spans: %w", err)
	}
	return nil
}

func newExporter(ctx context.Context, cfg Config) (*otlptrace.Exporter, error) {
	var client otlptrace.Client
	switch cfg.Protocol {
	case ProtocolGRPC:
		client = otlptracegrpc.NewClient(otlptracegrpc.WithEndpointURL(cfg.Endpoint))
	case ProtocolHTTP:
		client = otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(cfg.Endpoint))
	default:
		return nil, fmt.Errorf("tracing: unknown protocol %q", cfg.Protocol)
	}
	// New does not connect: a collector that is down at start-up costs
	// the spans of that time, not the start.
	exporter, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exporter, nil
}

func newResource(ctx context.Context, cfg Config, log *slog.Logger) (*resource.Resource, error) {
	attrs := append(cfg.ResourceAttributes, semconv.ServiceName(cfg.ServiceName))
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithProcessRuntimeVersion(),
		// Last, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		// over what was detected.
		resource.WithAttributes(attrs...),
	)
	if errors.Is(err, resource.ErrPartialResource) {
		// A detector failed (a host without a name): the rest is still
		// worth exporting.
		log.Warn("tracing: resource", "error", err.Error())
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return res, nil
}

// ShutdownTimeout is how long a caller should let Shutdown take: a
// collector that does not answer must not hold the exit longer.
const ShutdownTimeout = 5 * time.Second
