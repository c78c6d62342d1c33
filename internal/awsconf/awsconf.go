// Package awsconf loads the AWS SDK configuration the same way for every
// AWS API EduStream calls (S3, MediaConvert, Transcribe): the SDK's
// default chain (environment, shared files, the instance's role), with
// the region, static credentials, HTTP client and middleware a client's
// settings name taking precedence.
package awsconf

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
)

// Settings are what a client's configuration may set; the zero value of
// each leaves the SDK's default.
type Settings struct {
	Region string
	// AccessKeyID and SecretAccessKey are static credentials; empty means
	// the default chain.
	AccessKeyID, SecretAccessKey string
	// HTTPClient sends the requests (nil: the SDK's own).
	HTTPClient aws.HTTPClient
	// APIOptions are added to the stack of every call (tracing, metrics).
	APIOptions []func(*middleware.Stack) error
}

// Load returns the SDK configuration for s.
func Load(ctx context.Context, s Settings) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, awsconfig.WithRegion(s.Region))
	}
	if s.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")))
	}
	if s.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(s.HTTPClient))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.APIOptions = append(cfg.APIOptions, s.APIOptions...)
	return cfg, nil
}
