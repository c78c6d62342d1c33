package tracing_test

import (
	"strings"
	"testing"

	"github.com/edustream/edustream/tracing"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		// want: enabled, protocol, endpoint, service, sampler description.
		enabled                                bool
		protocol, endpoint, service, samplerIs string
	}{
		{name: "nothing set", env: nil},
		{name: "a service name alone", env: map[string]string{"OTEL_SERVICE_NAME": "api"}},
		{
			name:    "endpoint",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			enabled: true, protocol: "http/protobuf", endpoint: "http://collector:4318/v1/traces", service: "edustream",
			samplerIs: "ParentBased{root:AlwaysOnSampler",
		},
		{
			name:    "endpoint with a path",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example/prefix/"},
			enabled: true, protocol: "http/protobuf", endpoint: "https://otlp.example/prefix/v1/traces", service: "edustream",
		},
		{
			name: "the traces endpoint is taken as it is and wins",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://ignored:4318",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom",
			},
			enabled: true, protocol: "http/protobuf", endpoint: "http://collector:4318/custom", service: "edustream",
		},
		{
			name:    "grpc takes the endpoint as it is",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			enabled: true, protocol: "grpc", endpoint: "http://collector:4317", service: "edustream",
		},
		{
			name: "the traces protocol wins",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://collector:4317",
				"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
			},
			enabled: true, protocol: "grpc", endpoint: "http://collector:4317", service: "edustream",
		},
		{
			name:    "otlp named without an endpoint: the local collector",
			env:     map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			enabled: true, protocol: "http/protobuf", endpoint: "http://localhost:4318/v1/traces", service: "edustream",
		},
		{
			name: "disabled wins",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "TRUE"},
		},
		{
			name: "no exporter wins",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"},
		},
		{
			name: "service name, sampler",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
				"OTEL_SERVICE_NAME":           "edustream-worker",
				"OTEL_RESOURCE_ATTRIBUTES":    "service.name=ignored,deployment.environment.name=prod",
				"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
				"OTEL_TRACES_SAMPLER_ARG":     "0.25",
			},
			enabled: true, protocol: "http/protobuf", endpoint: "http://collector:4318/v1/traces", service: "edustream-worker",
			samplerIs: "ParentBased{root:TraceIDRatioBased{0.25}",
		},
		{
			name: "service name from the resource attributes",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
				"OTEL_RESOURCE_ATTRIBUTES":    "service.name=edu%20api",
				"OTEL_TRACES_SAMPLER":         "always_on",
			},
			enabled: true, protocol: "http/protobuf", endpoint: "http://collector:4318/v1/traces", service: "edu api",
			samplerIs: "AlwaysOnSampler",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := tracing.ParseConfig(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Enabled != tt.enabled {
				t.Fatalf("enabled = %v, want %v", cfg.Enabled, tt.enabled)
			}
			if !cfg.Enabled {
				return
			}
			if cfg.Protocol != tt.protocol || cfg.Endpoint != tt.endpoint || cfg.ServiceName != tt.service {
				t.Errorf("got %s %s %q, want %s %s %q", cfg.Protocol, cfg.Endpoint, cfg.ServiceName, tt.protocol, tt.endpoint, tt.service)
			}
			if d := cfg.Sampler.Description(); !strings.HasPrefix(d, tt.samplerIs) {
				t.Errorf("sampler %s, want %s…", d, tt.samplerIs)
			}
		})
	}
}

// A value the process cannot honour stops the start, naming the variable,
// rather than tracing otherwise than asked.
func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	on := "http://collector:4318"
	tests := []struct {
		name, variable, value string
	}{
		{"another exporter", "OTEL_TRACES_EXPORTER", "zipkin"},
		{"JSON over HTTP", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
		{"an endpoint without a scheme", "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"},
		{"a bad traces endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector/"},
		{"a remote sampler", "OTEL_TRACES_SAMPLER", "jaeger_remote"},
		{"a ratio above 1", "OTEL_TRACES_SAMPLER_ARG", "2"},
		{"a propagator this build lacks", "OTEL_PROPAGATORS", "tracecontext,b3"},
		{"an attribute without a value", "OTEL_RESOURCE_ATTRIBUTES", "team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": on, tt.variable: tt.value}
			if tt.variable == "OTEL_TRACES_SAMPLER_ARG" {
				env["OTEL_TRACES_SAMPLER"] = "traceidratio"
			}
			_, err := tracing.ParseConfig(func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("%s=%s: error %v, want one naming the variable", tt.variable, tt.value, err)
			}
		})
	}
}
