package tracing

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const redisScope = "github.com/edustream/edustream/tracing/redis"

// RedisHook returns a go-redis hook that makes a client span of every
// command and pipeline sent under a recording span, named after the
// command. The arguments are left out: they are task payloads, events and
// keys, not what a trace is for. Commands sent outside a trace (asynq's
// polling, the event subscriber, the reconcilers' lookups) make no span,
// and cost the hook one context lookup; nor do those that set up a new
// connection (HELLO, CLIENT SETINFO, which older servers refuse and
// go-redis ignores). addr is the server's host:port.
func RedisHook(addr string) redis.Hook {
	h := redisHook{attrs: []attribute.KeyValue{semconv.DBSystemNameRedis}}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		h.attrs = append(h.attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			h.attrs = append(h.attrs, semconv.ServerPort(p))
		}
	}
	return h
}

type redisHook struct {
	attrs []attribute.KeyValue
}

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		parent := trace.SpanFromContext(ctx)
		if !parent.IsRecording() || connectionSetup(cmd) {
			return next(ctx, cmd)
		}
		name := strings.ToUpper(cmd.Name())
		ctx, span := parent.TracerProvider().Tracer(redisScope).Start(ctx, name,
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(h.attrs...),
			trace.WithAttributes(semconv.DBOperationName(name)))
		err := next(ctx, cmd)
		endRedisSpan(span, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		parent := trace.SpanFromContext(ctx)
		if !parent.IsRecording() || !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return !connectionSetup(c) }) {
			return next(ctx, cmds)
		}
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = strings.ToUpper(c.Name())
		}
		ctx, span := parent.TracerProvider().Tracer(redisScope).Start(ctx, "PIPELINE",
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(h.attrs...),
			trace.WithAttributes(
				semconv.DBOperationName("PIPELINE"),
				semconv.DBOperationBatchSize(len(cmds)),
				attribute.StringSlice("db.redis.commands", names)))
		err := next(ctx, cmds)
		endRedisSpan(span, err)
		return err
	}
}

// connectionSetup reports whether cmd is one go-redis sends to set up a
// connection.
func connectionSetup(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello", "auth", "client", "select":
		return true
	}
	return false
}

// endRedisSpan ends span, marking a failure; redis.Nil (no such key) is an
// answer, not one.
func endRedisSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
