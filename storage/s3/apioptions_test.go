package s3

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/edustream/edustream"
)

// Config.APIOptions reach every call the store makes, the check of the
// bucket at start included: the process's tracing is added there.
func TestAPIOptionsSeeEveryCall(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ops []string
	record := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			mu.Lock()
			ops = append(ops, awsmiddleware.GetOperationName(ctx))
			mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	}
	endpoint := newFake(t)
	s, err := New(context.Background(), Config{
		Bucket: fakeBucket, Endpoint: endpoint, PathStyle: true,
		AccessKeyID: "fake", SecretAccessKey: "fake-secret",
		APIOptions: []func(*middleware.Stack) error{record},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "k", strings.NewReader("v"), 1, edustream.BlobMeta{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"HeadBucket", "PutObject", "HeadObject"}; !slices.Equal(ops, want) {
		t.Errorf("the middleware saw %v, want %v", ops, want)
	}
}
