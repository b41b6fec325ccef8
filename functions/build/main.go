// Command build is the Lambda function that reconciles one layer of the stack (network, security,
// compute, ingress or service) and returns its IDs for the next layer.
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
	lambda.Start(h.Build)
}
