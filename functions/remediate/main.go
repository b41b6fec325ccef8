// Command remediate is the Lambda function of the remediation state
// machine: it applies the policy to a state change of one of the stack's
// alarms, runs an evacuation's rounds, and records every decision.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/remediate"
)

func main() {
	var cfg remediate.Config
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	h := &remediate.Handler{
		Clients: remediate.NewClients(env.AWS), Ledger: ledger.New(dynamodb.NewFromConfig(env.AWS), cfg.TableName),
		Stack: env.StackName, Config: cfg, Log: env.Log,
	}
	lambda.Start(h.Handle)
}
