// Command security is the Lambda function of the stack's security layer:
// it reconciles the security groups and their rules, and deletes them.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/security"
	"github.com/ecsplane/ecsplane/internal/step"
)

func main() {
	env, err := lambdaenv.Load(os.LookupEnv, nil, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &step.Handler[security.Clients]{Layer: security.Step, Clients: security.NewClients(awsclient.WithConsistencyRetries(env.AWS)), Stack: env.StackName, Log: env.Log}
	lambda.Start(h.Handle)
}
