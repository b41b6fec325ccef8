package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// simEndpointEnv names the variable holding a kept local environment's
// simulator endpoint (`ecsplane local --keep` prints it). With it set, the
// CLI's EC2, SSM, Auto Scaling, ECS, ELB, CloudWatch, Application Auto
// Scaling and ECR calls go to that environment's simulator, and the rest
// where AWS_ENDPOINT_URL sends them.
const simEndpointEnv = "ECSPLANE_SIM_ENDPOINT"

// loadAWS is the CLI's AWS configuration: the SDK's standard chain with
// opts, and the kept local environment's simulator when simEndpointEnv
// names one.
func loadAWS(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	cfg, err := awsclient.Load(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	if ep := os.Getenv(simEndpointEnv); ep != "" {
		cfg.APIOptions = append(cfg.APIOptions, sim.RemoteAPIOptions(ep, nil))
	}
	return cfg, nil
}
