package awsclient

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Environment is what the Lambda service puts in a function's environment
// for the SDK: the region and the execution role's credentials
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
// AWS_ENDPOINT_URL, when set, sends every call elsewhere, as the tests do.
type Environment struct {
	Region          string `env:"AWS_REGION"`
	AccessKeyID     string `env:"AWS_ACCESS_KEY_ID"`
	SecretAccessKey string `env:"AWS_SECRET_ACCESS_KEY"`
	SessionToken    string `env:"AWS_SESSION_TOKEN" default:""`
	EndpointURL     string `env:"AWS_ENDPOINT_URL" default:""`
}

// FromEnvironment is a function's SDK configuration, built from what
// Lambda gives it, with the standard retryer. Unlike
// config.LoadDefaultConfig it links none of the credential providers a
// function never uses (SSO, STS web identity and role assumption, the
// instance metadata service), and so none of their clients.
func FromEnvironment(e Environment) aws.Config {
	cfg := aws.Config{
		Region:      e.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, e.SessionToken)),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = MaxAttempts })
		},
	}
	if e.EndpointURL != "" {
		cfg.BaseEndpoint = aws.String(e.EndpointURL)
	}
	return cfg
}
