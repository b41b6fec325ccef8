package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// errFunction means the invoked function returned an error, which has
// been printed.
var errFunction = errors.New("the function returned an error")

// runInvoke runs `ecsplane invoke FUNCTION --event FILE`: one synchronous
// invocation, the result printed as indented JSON, or the function's typed
// error (errorType: errorMessage) on stderr and a non-zero exit.
func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	event := fs.String("event", "", "file with the event to send (default: {})")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: ecsplane invoke [--event FILE] FUNCTION\n\nFUNCTION is the function's name: its logical ID in a local environment\n")
		fs.PrintDefaults()
	}
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if args = fs.Args(); len(args) > 0 {
			positional, args = append(positional, args[0]), args[1:]
		}
	}
	if len(positional) != 1 {
		fs.Usage()
		return errUsage
	}
	payload := []byte("{}")
	if *event != "" {
		var err error
		if payload, err = os.ReadFile(*event); err != nil {
			return fmt.Errorf("reading the event: %w", err)
		}
		if !json.Valid(payload) {
			return fmt.Errorf("%s is not JSON", *event)
		}
	}
	cfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	out, err := lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(positional[0]), Payload: payload, InvocationType: lambdatypes.InvocationTypeRequestResponse,
	})
	if err != nil {
		return fmt.Errorf("invoking %s: %w", positional[0], err)
	}
	if out.FunctionError != nil {
		var fe struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal(out.Payload, &fe) == nil && fe.ErrorType != "" {
			fmt.Fprintf(stderr, "%s: %s\n", fe.ErrorType, fe.ErrorMessage)
		} else {
			fmt.Fprintf(stderr, "%s error: %s\n", aws.ToString(out.FunctionError), out.Payload)
		}
		return errFunction
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out.Payload, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out.Payload)
	}
	fmt.Fprintln(stdout, pretty.String())
	return nil
}
