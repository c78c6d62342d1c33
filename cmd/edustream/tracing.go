package main

import (
	"context"
	"log/slog"

	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/otel/trace"

	"github.com/edustream/edustream/tracing"
)

// The tracing side of the wiring. OpenTelemetry is configured by the
// standard OTEL_* variables only (tracing.ParseConfig); unset, every
// function here leaves its subject as it was.
//
// Where a trace starts, the provider is handed over: the HTTP server and
// the task worker. Below them the adapters make their spans from the span
// in the context (SQL, the GraphQL operation, Webex), or through what is
// added here to the clients this package builds (Redis, AWS).

// openTracing returns the process's tracing, off for the commands that
// serve nothing.
func openTracing(ctx context.Context, cmd string, getenv func(string) string, log *slog.Logger) (*tracing.Provider, error) {
	if cmd == "migrate" {
		return tracing.Off, nil
	}
	tr, err := tracing.New(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	log.Info("tracing", tr.Summary()...)
	return tr, nil
}

// closeTracing exports the spans still buffered, for at most
// tracing.ShutdownTimeout.
func closeTracing(tr *tracing.Provider, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), tracing.ShutdownTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("tracing", "error", err.Error())
	}
}

// traceStarts is the provider of the spans that start a trace or continue
// a remote one (server.Config, jobs.Deps): nil when tracing is off, so
// that they add nothing.
func traceStarts(tr *tracing.Provider) trace.TracerProvider {
	if !tr.Enabled() {
		return nil
	}
	return tr.TracerProvider()
}

// awsAPIOptions are the AWS clients' (S3, MediaConvert) stack additions.
func awsAPIOptions(tr *tracing.Provider) []func(*middleware.Stack) error {
	if !tr.Enabled() {
		return nil
	}
	return []func(*middleware.Stack) error{tracing.AWSMiddleware}
}

// traceRedis makes spans of the commands sent under a traced request or
// task.
func traceRedis(tr *tracing.Provider, rds *redisBackend) {
	if tr.Enabled() {
		rds.client.AddHook(tracing.RedisHook(rds.client.Options().Addr))
	}
}
