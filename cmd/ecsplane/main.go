// Command ecsplane is the control plane's command-line interface: it reads
// the deployment ledger, drives the stack, and runs the whole system locally.
//
// AWS access goes through the SDK's standard credential and endpoint chain,
// so AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL all apply.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: ecsplane <command> [flags]

commands:
  history <service>   list a service's deployments, newest first
  actions <subject>   list the audit actions recorded for a service or stack
  local               run the control plane end to end on the embedded AWS environment
                      (--keep: keep it running for the commands below and aws --endpoint-url)
  events put FILE...  put EventBridge events on the bus
  invoke FUNCTION     invoke a function with --event FILE and print its result or typed error
  stack plan|apply|destroy
                      plan, build or tear down the two-AZ ECS-on-EC2 stack

Run 'ecsplane <command> -h' for a command's flags.
`

// errUsage means the arguments were wrong; the usage has been printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errFunction):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "ecsplane:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "history":
		return runHistory(ctx, args[1:], stdout, stderr)
	case "actions":
		return runActions(ctx, args[1:], stdout, stderr)
	case "local":
		return runLocal(ctx, args[1:], stdout, stderr)
	case "stack":
		return runStack(ctx, args[1:], stdout, stderr)
	case "events":
		return runEvents(ctx, args[1:], stdout, stderr)
	case "invoke":
		return runInvoke(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}
