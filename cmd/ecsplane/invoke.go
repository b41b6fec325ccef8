package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// errFunction means the invoked function returned an error, which has
// been printed.
var errFunction = fmt.Errorf("the function returned an error: %w", errReported)

var invokeCommand = command{
	name: "invoke", args: "FUNCTION",
	about: "Invoke a function once, synchronously, with --event FILE (default {}), and print\n" +
		"its result as indented JSON, or its typed error (errorType: errorMessage) on\n" +
		"stderr, exit 1. FUNCTION is the function's name: its logical ID in a local\n" +
		"environment.",
	json: "print the function's answer on one line, its typed error as {\"errorType\": ..., \"errorMessage\": ...} too",
}

// runInvoke runs `ecsplane invoke FUNCTION --event FILE`.
func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := invokeCommand
	fs := cmd.flags()
	event := fs.String("event", "", "file with the event to send (default: {})")
	region := cmd.setting(fs, regionSetting)
	positional, err := cmd.parse(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef(cmd.name, "want one FUNCTION, got %d arguments", len(positional))
	}
	asJSON := cmd.asJSON(fs)
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
	cfg, err := cmd.loadAWS(ctx, region)
	if err != nil {
		return err
	}
	out, err := lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(positional[0]), Payload: payload, InvocationType: lambdatypes.InvocationTypeRequestResponse,
	})
	if err != nil {
		return fmt.Errorf("invoking %s: %w", positional[0], err)
	}
	if asJSON {
		var compact bytes.Buffer
		if json.Compact(&compact, out.Payload) != nil {
			compact.Reset()
			compact.Write(out.Payload)
		}
		fmt.Fprintln(stdout, compact.String())
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
	if asJSON {
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out.Payload, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out.Payload)
	}
	fmt.Fprintln(stdout, pretty.String())
	return nil
}
