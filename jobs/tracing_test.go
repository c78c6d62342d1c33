package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/edustream/edustream"
)

// recorder returns a tracer provider that keeps its ended spans.
func recorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, rec
}

func endedSpan(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no span %q", name)
	return nil
}

// A task enqueued under a span carries its trace in its headers, through
// Redis, and the worker runs it in a span that continues that trace; one
// enqueued outside a trace carries nothing and starts a trace of its own.
func TestTasksCarryTheTrace(t *testing.T) {
	t.Parallel()
	opt := redisOpt(t)
	q := newTestQueue(t, opt)
	tp, rec := recorder(t)
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	if err := q.EnqueueCoursePurge(ctx, 7); err != nil {
		t.Fatal(err)
	}
	request.End()
	if err := q.EnqueueCoursePurge(context.Background(), 8); err != nil {
		t.Fatal(err)
	}

	enqueue := endedSpan(t, rec, "enqueue "+TypeCoursePurge)
	if enqueue.Parent().SpanID() != request.SpanContext().SpanID() || enqueue.SpanKind() != trace.SpanKindProducer {
		t.Errorf("the enqueue's span is %v under %v, want a producer under the request", enqueue.SpanKind(), enqueue.Parent().SpanID())
	}
	inspector := newInspector(t, opt)
	traced, err := inspector.GetTaskInfo(QueueDefault, CoursePurgeTaskID(7))
	if err != nil {
		t.Fatal(err)
	}
	want := "00-" + request.SpanContext().TraceID().String() + "-" + enqueue.SpanContext().SpanID().String() + "-01"
	if got := traced.Headers["traceparent"]; got != want {
		t.Errorf("traceparent header %q, want %q", got, want)
	}
	untraced, err := inspector.GetTaskInfo(QueueDefault, CoursePurgeTaskID(8))
	if err != nil {
		t.Fatal(err)
	}
	if len(untraced.Headers) != 0 {
		t.Errorf("a task enqueued outside a trace has headers %v", untraced.Headers)
	}

	logger, _ := newTestLogger()
	courses := &fakeCourses{purgeErr: map[int64]error{8: errors.New("database down")}}
	mux := newMux(&Deps{Courses: courses, Logger: logger, Tracer: tp})
	for _, info := range []*asynq.TaskInfo{traced, untraced} {
		mux.ProcessTask(context.Background(), asynq.NewTaskWithHeaders(info.Type, info.Payload, info.Headers))
	}
	var processed []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "process "+TypeCoursePurge {
			processed = append(processed, s)
		}
	}
	if len(processed) != 2 {
		t.Fatalf("%d task spans, want 2", len(processed))
	}
	if s := processed[0]; s.Parent().SpanID() != enqueue.SpanContext().SpanID() || s.SpanContext().TraceID() != request.SpanContext().TraceID() ||
		!s.Parent().IsRemote() || s.SpanKind() != trace.SpanKindConsumer || s.Status().Code == codes.Error {
		t.Errorf("the traced task's span: kind %v, trace %v, parent %v (remote %v), status %v; want a consumer under the enqueue",
			s.SpanKind(), s.SpanContext().TraceID(), s.Parent().SpanID(), s.Parent().IsRemote(), s.Status())
	}
	if s := processed[1]; s.Parent().IsValid() || s.SpanContext().TraceID() == request.SpanContext().TraceID() ||
		s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "database down") {
		t.Errorf("the untraced task's span: parent %v, status %v; want a failed root of its own", s.Parent().SpanID(), s.Status())
	}
}

// A worker without tracing makes no spans, but the tasks it enqueues still
// carry the trace of the task that enqueued them.
func TestUntracedWorkerPassesTheTraceOn(t *testing.T) {
	t.Parallel()
	tp, _ := recorder(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	span.End()
	headers := traceHeaders(ctx)
	if headers["traceparent"] == "" {
		t.Fatal("no traceparent from a traced context")
	}

	var onward map[string]string
	handler := traceTasks(nil)(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		if trace.SpanFromContext(ctx).IsRecording() {
			t.Error("a span records in a worker without tracing")
		}
		onward = traceHeaders(ctx)
		return nil
	}))
	if err := handler.ProcessTask(context.Background(), asynq.NewTaskWithHeaders("test:relay", nil, headers)); err != nil {
		t.Fatal(err)
	}
	if onward["traceparent"] != headers["traceparent"] {
		t.Errorf("the task enqueued onward carries %q, want %q", onward["traceparent"], headers["traceparent"])
	}
}

// A chain step's task span says which step of which video it ran and where
// it left the video.
func TestStepAttributes(t *testing.T) {
	t.Parallel()
	tp, rec := recorder(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "process "+TypeVideoComplete)
	noteStep(ctx, edustream.StageComplete, 42)
	noteMoved(ctx, &edustream.Video{Status: edustream.VideoReady})
	noteMoved(ctx, nil) // another attempt moved it: nothing to add
	span.End()

	got := map[string]string{}
	for _, kv := range endedSpan(t, rec, "process "+TypeVideoComplete).Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{"edustream.video.stage": "COMPLETE", "edustream.video.id": "42", "edustream.video.status": "READY"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
