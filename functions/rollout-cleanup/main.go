// Command rollout-cleanup is the Lambda function that cleans up after a
// rollout execution that failed, timed out or was stopped from outside:
// the rule on the rollout state machine's own status changes invokes it.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/rollout"
)

func main() {
	var cfg rollout.CleanupConfig
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &rollout.Cleanup{
		Ledger: ledger.New(dynamodb.NewFromConfig(env.AWS), cfg.TableName), ECS: ecs.NewFromConfig(env.AWS),
		Stack: env.StackName, StateMachineARN: cfg.StateMachineARN, Log: env.Log,
	}
	lambda.Start(h.Handle)
}
