// Command lifecycle is the Lambda function of the lifecycle state machine:
// it starts, checks, completes and records the Auto Scaling lifecycle
// actions of the stack's group, launches joining the cluster and
// terminations draining their container instances.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
)

func main() {
	var cfg lifecycle.Config
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	h := &lifecycle.Handler{
		Clients: lifecycle.NewClients(env.AWS), Ledger: ledger.New(dynamodb.NewFromConfig(env.AWS), cfg.TableName),
		Stack: env.StackName, Config: cfg, Log: env.Log,
	}
	lambda.Start(h.Handle)
}
