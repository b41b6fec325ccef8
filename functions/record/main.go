// Command record is the Lambda function that writes audit actions reported
// by the state machines to the ledger.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/config"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/logging"
)

type env struct {
	Table string `env:"TABLE_NAME"`
}

func main() {
	var e env
	if err := config.Load(&e, os.LookupEnv); err != nil {
		log.Fatal(err)
	}
	var lo logging.Options
	if err := config.Load(&lo, os.LookupEnv); err != nil {
		log.Fatal(err)
	}
	cfg, err := awsclient.Load(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	h := &ledger.RecordHandler{
		Ledger: ledger.New(dynamodb.NewFromConfig(cfg), e.Table),
		Log:    logging.New(os.Stdout, lo),
	}
	lambda.Start(h.Handle)
}
