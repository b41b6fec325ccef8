// Command compute is the Lambda function of the stack's compute layer: it
// reconciles the launch template, the Auto Scaling group, the cluster and
// its capacity provider, checks that instances are in service and
// registered in every zone, and deletes the layer.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/step"
)

func main() {
	env, err := lambdaenv.Load(os.LookupEnv, nil, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &step.Handler[compute.Clients]{Layer: compute.Step, Clients: compute.NewClients(awsclient.WithConsistencyRetries(env.AWS)), Stack: env.StackName, Log: env.Log}
	lambda.Start(h.Handle)
}
