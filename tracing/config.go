package tracing

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The OTLP protocols Config.Protocol takes.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME is unset.
const DefaultServiceName = "edustream"

// Config is tracing as the OTEL_* variables describe it.
type Config struct {
	// Enabled is false unless an OTLP endpoint or exporter is named.
	Enabled bool
	// Protocol is ProtocolHTTP or ProtocolGRPC.
	Protocol string
	// Endpoint is the exporter's URL: for OTLP/HTTP the full URL of the
	// traces resource, for gRPC the collector's (an http:// one is a
	// connection without TLS).
	Endpoint           string
	ServiceName        string
	ResourceAttributes []attribute.KeyValue
	Sampler            sdktrace.Sampler
	Propagator         propagation.TextMapPropagator
}

// ParseConfig reads the OTEL_* variables through getenv. Tracing is on when
// OTEL_TRACES_EXPORTER names otlp, or when it is unset and
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set;
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off whatever
// else is set. (The specification's default exporter would send spans to
// localhost whenever nothing is set; this process traces nothing unless
// asked to.)
//
// It reads the endpoint and protocol (the per-signal variables win over the
// general ones), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER with OTEL_TRACES_SAMPLER_ARG, and OTEL_PROPAGATORS. The
// exporter and the SDK read the rest of the standard variables themselves
// from the process environment: OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT,
// _COMPRESSION and the TLS files, OTEL_BSP_* and the span limits.
//
// A value it cannot honour is an error that names the variable: a sampler
// or propagator this build does not have, http/json, an endpoint that is
// not an http(s) URL.
func ParseConfig(getenv func(string) string) (Config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var cfg Config
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") {
		return cfg, nil
	}
	tracesEndpoint, endpoint := env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), env("OTEL_EXPORTER_OTLP_ENDPOINT")
	switch exporters := env("OTEL_TRACES_EXPORTER"); exporters {
	case "":
		cfg.Enabled = tracesEndpoint != "" || endpoint != ""
	case "none":
	default:
		for e := range strings.SplitSeq(exporters, ",") {
			if e = strings.TrimSpace(e); e != "otlp" && e != "none" {
				return cfg, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (otlp or none)", e)
			}
			cfg.Enabled = cfg.Enabled || e == "otlp"
		}
	}
	if !cfg.Enabled {
		return cfg, nil
	}

	protocolVar := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	cfg.Protocol = env(protocolVar)
	if cfg.Protocol == "" {
		protocolVar = "OTEL_EXPORTER_OTLP_PROTOCOL"
		cfg.Protocol = env(protocolVar)
	}
	switch cfg.Protocol {
	case "":
		cfg.Protocol = ProtocolHTTP
	case ProtocolHTTP, ProtocolGRPC:
	default:
		return cfg, fmt.Errorf("%s: %q is not supported (http/protobuf or grpc)", protocolVar, cfg.Protocol)
	}

	var err error
	if cfg.Endpoint, err = exporterEndpoint(cfg.Protocol, tracesEndpoint, endpoint); err != nil {
		return cfg, err
	}
	cfg.ServiceName = env("OTEL_SERVICE_NAME")
	if cfg.ResourceAttributes, err = resourceAttributes(env("OTEL_RESOURCE_ATTRIBUTES")); err != nil {
		return cfg, err
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
		for _, a := range cfg.ResourceAttributes {
			if a.Key == "service.name" {
				cfg.ServiceName = a.Value.AsString()
			}
		}
	}
	if cfg.Sampler, err = sampler(env("OTEL_TRACES_SAMPLER"), env("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return cfg, err
	}
	if cfg.Propagator, err = propagators(env("OTEL_PROPAGATORS")); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// exporterEndpoint applies the specification's rules: the per-signal
// variable is the URL as it stands; the general one is a base to which
// OTLP/HTTP appends v1/traces.
func exporterEndpoint(protocol, tracesEndpoint, endpoint string) (string, error) {
	name, raw := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tracesEndpoint
	if raw == "" {
		name, raw = "OTEL_EXPORTER_OTLP_ENDPOINT", endpoint
	}
	if raw == "" {
		// OTEL_TRACES_EXPORTER=otlp with no endpoint: the specification's
		// defaults, a collector on this host.
		if protocol == ProtocolGRPC {
			return "http://localhost:4317", nil
		}
		return "http://localhost:4318/v1/traces", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s: %q is not an http(s) URL", name, raw)
	}
	if name == "OTEL_EXPORTER_OTLP_ENDPOINT" && protocol == ProtocolHTTP {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// resourceAttributes parses OTEL_RESOURCE_ATTRIBUTES: key=value pairs
// separated by commas, values percent-encoded.
func resourceAttributes(s string) ([]attribute.KeyValue, error) {
	var attrs []attribute.KeyValue
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %q is not key=value", pair)
		}
		value, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: the value of %s: %w", k, err)
		}
		attrs = append(attrs, attribute.String(k, value))
	}
	return attrs, nil
}

// sampler returns the sampler OTEL_TRACES_SAMPLER names, parent-based
// always-on by default: a trace a client or an upstream service sampled is
// recorded whole, and one they did not is not.
func sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio between 0 and 1", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not supported (always_on, always_off, traceidratio and their parentbased_ forms)", name)
}

// propagators returns what OTEL_PROPAGATORS names, W3C trace context and
// baggage by default.
func propagators(names string) (propagation.TextMapPropagator, error) {
	if names == "" {
		names = "tracecontext,baggage"
	}
	var ps []propagation.TextMapPropagator
	for name := range strings.SplitSeq(names, ",") {
		switch strings.TrimSpace(name) {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS: %q is not supported (tracecontext, baggage or none)", name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}
