// Command rollout is the Lambda function of the rollout state machine's
// steps: it accepts a push, takes the service's lease behind its alarms'
// gate, registers the revision pinned by digest and updates the service,
// stores the task tokens of the event-driven waits, bakes, rolls back and
// records the verdict.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/rollout"
	"github.com/ecsplane/ecsplane/internal/service"
)

func main() {
	var cfg rollout.Config
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		log.Fatal(err)
	}
	h := &rollout.Handler{
		Clients: rollout.Clients{
			ECS: ecs.NewFromConfig(env.AWS), CloudWatch: service.NewCloudWatch(env.AWS), SFN: sfn.NewFromConfig(env.AWS),
			Ledger: ledger.New(dynamodb.NewFromConfig(env.AWS), cfg.TableName),
		},
		Config: cfg, Stack: env.StackName, Region: env.AWS.Region, Log: env.Log,
	}
	lambda.Start(h.Handle)
}
