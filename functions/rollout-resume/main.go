// Command rollout-resume is the Lambda function that resumes a waiting
// rollout step: the ECS deployment rule sends it ECS's verdicts, the bake
// alarm rule the bake's alarms going to ALARM.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/rollout"
)

func main() {
	var cfg rollout.ResumeConfig
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &rollout.Resume{
		Ledger: ledger.New(dynamodb.NewFromConfig(env.AWS), cfg.TableName), SFN: sfn.NewFromConfig(env.AWS),
		Stack: env.StackName, BakeAlarms: cfg.BakeAlarms, Log: env.Log,
	}
	lambda.Start(h.Handle)
}
