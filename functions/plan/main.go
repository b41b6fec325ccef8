// Command plan is the Lambda function that resolves and validates a stack
// spec and reports the changes a build would make, without making them.
// The later steps of the build read the spec it resolved.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
)

func main() {
	var cfg build.Config
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &build.PlanHandler{Clients: build.NewClients(env.AWS, build.Options{DNSNameParameter: cfg.DNSNameParameter}), Stack: env.StackName, Config: cfg, Log: env.Log}
	lambda.Start(h.Plan)
}
