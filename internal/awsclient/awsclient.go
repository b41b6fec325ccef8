// Package awsclient builds AWS SDK configuration and declares the narrow
// client interfaces the rest of the code base depends on.
//
// Configuration comes from config.LoadDefaultConfig, so the standard
// credential chain, AWS_REGION, AWS_ENDPOINT_URL and the per-service
// AWS_ENDPOINT_URL_<SERVICE> variables all apply, as does the SDK's standard
// retryer. Pointing AWS_ENDPOINT_URL at a local emulator is how the CLI and
// the local environment talk to it.
package awsclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

// MaxAttempts is the standard retryer's attempt budget. It is a little above
// the SDK default because control-plane calls are few and throttling on
// Describe-heavy waits is the common failure.
const MaxAttempts = 5

// Load returns the SDK configuration for this process.
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = MaxAttempts })
		}),
	}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}
