// Command ecsplane is the control plane's command-line interface: it reads
// the deployment ledger, drives the stack, and runs the whole system locally.
//
// AWS access goes through the SDK's standard credential and endpoint chain,
// so AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL all apply. Every command
// follows the conventions of cli.go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: ecsplane <command> [flags] [arguments]

commands:
  history <service>   list a service's deployments, newest first: outcomes, digests, durations, reasons
  actions <subject>   list the audit actions recorded for a service or stack
  deploy <service>    roll out an image by --tag or --digest through the rollout state machine
  rollback <service>  roll back to the image of the last SUCCEEDED deployment before the current one
  abort <service>     stop the rollout in progress, return the service to its previous revision
  status <service>    show the leases, the rollout in progress, ECS's deployments and the zones
  stack plan          list every change a build would make, after the preflight checks
  stack apply         build the stack: preflight, then every change, then wait until ready
  stack destroy       tear the stack down
  local               run a scenario end to end on the embedded AWS environment, check each
                      step's outcome, write the report page (--keep: keep it running for
                      the commands here and the AWS CLI)
  report <service>    write a stack's report page from CloudWatch and the ledger
  drill KIND          run a chaos drill (bad-image, instance-loss, az-outage, gray-failure)
                      against the local environment and print its recovery figures
  events put FILE...  put EventBridge events on the bus
  invoke FUNCTION     invoke a function with --event FILE and print its result or typed error

Run 'ecsplane <command> --help' for a command's flags; every flag that has
an environment variable names it. --json gives machine-readable output, on
every command that has one.

AWS access uses the SDK's standard chain: AWS_PROFILE, AWS_REGION (or
--region) and AWS_ENDPOINT_URL apply.

exit codes: 0 success, 1 failure, 2 usage (a bad flag or argument, a missing setting)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	report(os.Stderr, err)
	os.Exit(exitCode(err))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{cmd: "", msg: "no command"}
	}
	switch args[0] {
	case "history":
		return runHistory(ctx, args[1:], stdout, stderr)
	case "actions":
		return runActions(ctx, args[1:], stdout, stderr)
	case "deploy":
		return runDeploy(ctx, args[1:], stdout, stderr)
	case "rollback":
		return runRollback(ctx, args[1:], stdout, stderr)
	case "abort":
		return runAbort(ctx, args[1:], stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "local":
		return runLocal(ctx, args[1:], stdout, stderr)
	case "report":
		return runReport(ctx, args[1:], stdout, stderr)
	case "drill":
		return runDrill(ctx, args[1:], stdout, stderr)
	case "stack":
		return runStack(ctx, args[1:], stdout, stderr)
	case "events":
		return runEvents(ctx, args[1:], stdout, stderr)
	case "invoke":
		return runInvoke(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return &usageError{cmd: "", msg: fmt.Sprintf("unknown command %q", args[0])}
	}
}
