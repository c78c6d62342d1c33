package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/edustream/edustream"
)

// Tracing. A task carries the W3C trace context of whoever enqueued it in
// its asynq headers (asynq v0.26 stores a task's headers with its message
// and hands them back to the handler, retries included), so the trace of
// an upload's completeVideoUpload goes on through every step of its chain,
// on whichever worker runs each: the worker's span of a task is a child of
// the span that enqueued it, and a step enqueues the next under its own.
//
// The headers are always W3C trace context and baggage, whatever
// OTEL_PROPAGATORS says for HTTP: they travel between EduStream's own
// processes only, and a task enqueued by one release is run by the next.
//
// Spans are made from the span in the context (enqueue) or Deps.Tracer (a
// task's): a worker without tracing still hands the trace context of a
// task on to those it enqueues.

const tracingScope = "github.com/edustream/edustream/jobs"

var taskPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// The attributes of the spans. The messaging.* ones are OpenTelemetry's
// conventions; asynq is not one of their systems, so it is named as it is.
var (
	messagingAsynq = semconv.MessagingSystemKey.String("asynq")
	// A chain step's, on its task's span.
	stageKey      = attribute.Key("edustream.video.stage")
	videoIDKey    = attribute.Key("edustream.video.id")
	statusKey     = attribute.Key("edustream.video.status")
	renditionsKey = attribute.Key("edustream.video.renditions")
	renditionKey  = attribute.Key("edustream.video.rendition")
	durationKey   = attribute.Key("edustream.video.duration_seconds")
	speedKey      = attribute.Key("edustream.transcode.speed")
)

// traceHeaders returns the headers that carry ctx's trace to a task: none
// when ctx has no trace.
func traceHeaders(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	h := map[string]string{}
	taskPropagator.Inject(ctx, propagation.MapCarrier(h))
	return h
}

// startEnqueue starts the producer span of an enqueue, if ctx's span
// records; end it with the enqueue's outcome.
func startEnqueue(ctx context.Context, taskType, queue, id string) (context.Context, func(queued bool, err error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, func(bool, error) {}
	}
	ctx, span := parent.TracerProvider().Tracer(tracingScope).Start(ctx, "enqueue "+taskType,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			messagingAsynq,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingDestinationName(queue),
			semconv.MessagingMessageID(id),
		))
	return ctx, func(queued bool, err error) {
		// false: the task was already waiting or running, and keeps the
		// trace of whoever enqueued it first.
		span.SetAttributes(attribute.Bool("asynq.task.queued", queued))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// traceTasks is the outermost middleware: it continues the task's trace
// from its headers and, with tp, runs the task in a consumer span named
// after its type, which the task's log lines carry.
func traceTasks(tp trace.TracerProvider) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			if h := t.Headers(); len(h) > 0 {
				ctx = taskPropagator.Extract(ctx, propagation.MapCarrier(h))
			}
			if tp == nil {
				return next.ProcessTask(ctx, t)
			}
			id, _ := asynq.GetTaskID(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			ctx, span := tp.Tracer(tracingScope).Start(ctx, "process "+t.Type(),
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(
					messagingAsynq,
					semconv.MessagingOperationTypeProcess,
					semconv.MessagingDestinationName(queue),
					semconv.MessagingMessageID(id),
					attribute.String("asynq.task.type", t.Type()),
					attribute.Int("asynq.task.retried", retried),
				))
			defer span.End()
			err := next.ProcessTask(ctx, t)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return err
		})
	}
}

// noteStep puts the chain step's stage and video on the task's span.
func noteStep(ctx context.Context, stage edustream.VideoStage, videoID int64) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(stageKey.String(string(stage)), videoIDKey.Int64(videoID))
	}
}

// noteMoved records where the step left the video: READY, after the
// complete step. v may be nil (the move was another attempt's).
func noteMoved(ctx context.Context, v *edustream.Video) {
	if span := trace.SpanFromContext(ctx); v != nil && span.IsRecording() {
		span.SetAttributes(statusKey.String(string(v.Status)))
	}
}

// noteTranscode records what a transcode made and how fast: media seconds
// per wall second, over the whole ladder.
func noteTranscode(ctx context.Context, v *edustream.Video, ladder []edustream.Rendition, took time.Duration) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	names := make([]string, len(ladder))
	for i, r := range ladder {
		names[i] = r.Name
	}
	span.SetAttributes(renditionsKey.StringSlice(names))
	if v.Media != nil && took > 0 {
		span.SetAttributes(
			durationKey.Float64(v.Media.DurationSeconds),
			speedKey.Float64(v.Media.DurationSeconds/took.Seconds()))
	}
}

// noteRendition records the rendition a step read.
func noteRendition(ctx context.Context, r edustream.Rendition) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(renditionKey.String(r.Name))
	}
}
