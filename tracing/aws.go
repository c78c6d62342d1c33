package tracing

import (
	"context"
	"errors"
	"reflect"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const awsScope = "github.com/edustream/edustream/tracing/aws"

// AWSMiddleware adds to an aws-sdk-go-v2 client's stack (its APIOptions) a
// client span for every call made under a recording span, named after the
// service and operation ("S3.PutObject", "MediaConvert.CreateJob"). The
// span covers the SDK's retries; it carries the request id, the status of
// the last answer, the number of attempts and, for S3, the bucket and key.
// A call outside any trace (a reconciler's) makes no span.
func AWSMiddleware(stack *middleware.Stack) error {
	// Before every other initialize step, so that the span covers the
	// whole call: serialization, signing, every attempt.
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("EduStreamTracing", traceAWSCall), middleware.Before)
}

func traceAWSCall(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return next.HandleInitialize(ctx, in)
	}
	service, operation := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
	attrs := []attribute.KeyValue{
		semconv.RPCSystemNameKey.String("aws-api"),
		semconv.RPCMethod(service + "/" + operation),
	}
	if region := awsmiddleware.GetRegion(ctx); region != "" {
		attrs = append(attrs, semconv.CloudRegion(region))
	}
	if service == "S3" {
		attrs = append(attrs, s3Attributes(in.Parameters)...)
	}
	ctx, span := parent.TracerProvider().Tracer(awsScope).Start(ctx, service+"."+operation,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()

	out, metadata, err := next.HandleInitialize(ctx, in)

	if id, ok := awsmiddleware.GetRequestIDMetadata(metadata); ok && id != "" {
		span.SetAttributes(semconv.AWSRequestID(id))
	}
	if res, ok := awsmiddleware.GetRawResponse(metadata).(*smithyhttp.Response); ok && res != nil {
		span.SetAttributes(semconv.HTTPResponseStatusCode(res.StatusCode))
	}
	if attempts, ok := retry.GetAttemptResults(metadata); ok {
		span.SetAttributes(attribute.Int("aws.attempts", len(attempts.Results)))
	}
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			span.SetAttributes(semconv.ErrorTypeKey.String(apiErr.ErrorCode()))
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return out, metadata, err
}

// s3Attributes reads the bucket and key of an S3 operation's input: every
// input that names them has Bucket and Key fields of type *string.
// Reflection, rather than a type switch over the S3 package's inputs, keeps
// this package free of the S3 client.
func s3Attributes(input any) []attribute.KeyValue {
	v := reflect.ValueOf(input)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	var attrs []attribute.KeyValue
	for _, f := range []struct {
		field string
		key   attribute.Key
	}{{"Bucket", semconv.AWSS3BucketKey}, {"Key", semconv.AWSS3KeyKey}} {
		fv := v.FieldByName(f.field)
		if !fv.IsValid() || !fv.CanInterface() {
			continue
		}
		if s, ok := fv.Interface().(*string); ok && s != nil {
			attrs = append(attrs, f.key.String(*s))
		}
	}
	return attrs
}
