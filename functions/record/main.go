// Command record is the Lambda function that writes audit actions reported
// by the state machines to the ledger.
package main

import (
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

func main() {
	var cfg ledger.Config
	env, err := lambdaenv.Load(os.LookupEnv, &cfg, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	h := &ledger.RecordHandler{Ledger: ledger.New(dynamodb.NewFromConfig(env.AWS), cfg.TableName), Stack: env.StackName, Log: env.Log}
	lambda.Start(h.Handle)
}
