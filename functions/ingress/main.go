// Command ingress is the Lambda function of the stack's ingress layer: it
// reconciles the load balancer, the target group and the listeners,
// publishes the DNS name, checks that the load balancer is active, and
// deletes the layer.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/step"
)

func main() {
	var cfg ingress.Config
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &step.Handler[ingress.Clients]{Layer: ingress.Step, Clients: ingress.NewClients(awsclient.WithConsistencyRetries(env.AWS), cfg), Stack: env.StackName, Log: env.Log}
	lambda.Start(h.Handle)
}
