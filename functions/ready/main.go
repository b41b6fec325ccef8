// Command ready is the Lambda function that runs one round of a readiness wait loop of the build
// state machine.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsplane/ecsplane/internal/build"
)

func main() {
	h, err := build.NewHandler(context.Background(), os.LookupEnv, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(h.Ready)
}
