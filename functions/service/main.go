// Command service is the Lambda function of the stack's service layer: it
// reconciles the task definition's template, the alarms, the service and
// its scaling, deploys through the shared deployment path with the
// service's lease and a ledger record, waits for ECS's verdict and for the
// service to be steady, and deletes the layer.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/step"
)

func main() {
	var cfg service.Config
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	led := ledger.New(dynamodb.NewFromConfig(env.AWS), cfg.TableName)
	h := &step.Handler[service.Clients]{Layer: service.Step(), Clients: service.NewClients(awsclient.WithConsistencyRetries(env.AWS), led), Stack: env.StackName, Log: env.Log}
	lambda.Start(h.Handle)
}
