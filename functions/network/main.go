// Command network is the Lambda function of the stack's network layer: it
// reconciles the layer, checks that its NAT gateways are available, and
// deletes it, one state-machine step at a time.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/step"
)

func main() {
	env, err := lambdaenv.Load(os.LookupEnv, nil, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &step.Handler[network.Clients]{Layer: network.Step, Clients: network.NewClients(awsclient.WithConsistencyRetries(env.AWS)), Stack: env.StackName, Log: env.Log}
	lambda.Start(h.Handle)
}
