// Command plan is the Lambda function that validates a stack spec and reports the changes a build
// would make, without making them.
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
	lambda.Start(h.Plan)
}
