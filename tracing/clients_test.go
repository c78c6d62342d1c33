package tracing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/edustream/edustream/tracing"
)

// summary is what the tests compare of a span.
type summary struct {
	Name, Parent string
	Error        bool
	Attrs        map[string]string
}

// summarize keeps the attributes named in keys.
func summarize(rec *tracetest.SpanRecorder, keys ...string) []summary {
	var out []summary
	for _, s := range rec.Ended() {
		sum := summary{Name: s.Name(), Parent: s.Parent().SpanID().String(), Error: s.Status().Code == codes.Error, Attrs: map[string]string{}}
		for _, kv := range s.Attributes() {
			for _, k := range keys {
				if string(kv.Key) == k {
					sum.Attrs[k] = kv.Value.Emit()
				}
			}
		}
		out = append(out, sum)
	}
	return out
}

func TestRedisHook(t *testing.T) {
	t.Parallel()
	mini := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	t.Cleanup(func() { client.Close() })
	client.AddHook(tracing.RedisHook(mini.Addr()))
	tp, rec := recorder(t)

	// Outside a trace: nothing.
	if err := client.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans outside a trace", n)
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "task")
	client.Get(ctx, "k")
	if err := client.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	client.HSet(ctx, "h", "f", 1)
	client.Incr(ctx, "k") // fails: the value is not a number
	pipe := client.Pipeline()
	pipe.Set(ctx, "a", 1, 0)
	pipe.Publish(ctx, "events", "x")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()

	p := parent.SpanContext().SpanID().String()
	want := []summary{
		{Name: "GET", Parent: p, Attrs: map[string]string{"db.system.name": "redis", "db.operation.name": "GET"}},
		{Name: "GET", Parent: p, Attrs: map[string]string{"db.system.name": "redis", "db.operation.name": "GET"}},
		{Name: "HSET", Parent: p, Attrs: map[string]string{"db.system.name": "redis", "db.operation.name": "HSET"}},
		{Name: "INCR", Parent: p, Error: true, Attrs: map[string]string{"db.system.name": "redis", "db.operation.name": "INCR"}},
		{Name: "PIPELINE", Parent: p, Attrs: map[string]string{"db.system.name": "redis", "db.operation.name": "PIPELINE", "db.operation.batch.size": "2", "db.redis.commands": `["SET","PUBLISH"]`}},
		{Name: "task", Parent: "0000000000000000", Attrs: map[string]string{}},
	}
	got := summarize(rec, "db.system.name", "db.operation.name", "db.operation.batch.size", "db.redis.commands")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spans (-want +got):\n%s", d)
	}
}

func TestAWSMiddleware(t *testing.T) {
	t.Parallel()
	// An S3 endpoint that has one object.
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amz-Request-Id", "req-"+r.Method)
		if strings.HasSuffix(r.URL.Path, "/present") {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(s3.Close)
	client := awss3.New(awss3.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(s3.URL),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider("id", "secret", ""),
		APIOptions:       []func(*middleware.Stack) error{tracing.AWSMiddleware},
		RetryMaxAttempts: 1,
	})
	tp, rec := recorder(t)
	head := func(ctx context.Context, key string) error {
		_, err := client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("videos"), Key: aws.String(key)})
		return err
	}

	if err := head(context.Background(), "present"); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans outside a trace", n)
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "step")
	if err := head(ctx, "present"); err != nil {
		t.Fatal(err)
	}
	if err := head(ctx, "absent"); err == nil {
		t.Fatal("HeadObject of a missing object succeeded")
	}
	parent.End()

	p := parent.SpanContext().SpanID().String()
	attrs := func(key, status string) map[string]string {
		return map[string]string{
			"rpc.system.name": "aws-api", "rpc.method": "S3/HeadObject", "cloud.region": "eu-west-1",
			"aws.s3.bucket": "videos", "aws.s3.key": key, "aws.request_id": "req-HEAD",
			"http.response.status_code": status, "aws.attempts": "1",
		}
	}
	want := []summary{
		{Name: "S3.HeadObject", Parent: p, Attrs: attrs("present", "200")},
		{Name: "S3.HeadObject", Parent: p, Error: true, Attrs: attrs("absent", "404")},
		{Name: "step", Parent: "0000000000000000", Attrs: map[string]string{}},
	}
	got := summarize(rec, "rpc.system.name", "rpc.method", "cloud.region", "aws.s3.bucket", "aws.s3.key",
		"aws.request_id", "http.response.status_code", "aws.attempts")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spans (-want +got):\n%s", d)
	}
}
