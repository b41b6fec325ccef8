// Command teardown is the Lambda function that deletes one layer of the stack, one round of the
// teardown state machine's wait loop at a time.
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
	lambda.Start(h.Teardown)
}
