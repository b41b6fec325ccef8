package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/rollout"
)

// Settings of the rollout commands.
var (
	stateMachineSetting = setting{flag: "state-machine", env: "ECSPLANE_ROLLOUT_STATE_MACHINE", what: "the rollout state machine (the control plane's RolloutStateMachineArn output)"}
	repositorySetting   = setting{flag: "image-repository", env: "ECSPLANE_IMAGE_REPOSITORY", what: "the app's image repository, <account>.dkr.ecr.<region>.amazonaws.com/<name>"}
)

// rolloutCommand is a rollout command's line, parsed.
type rolloutCommand struct {
	cmd     command
	service string
	asJSON  bool
	cfg     aws.Config
	ledger  *ledger.Ledger
	machine string
	// wait, interval and timeout follow a started rollout; indent starts
	// each phase printed.
	wait              bool
	interval, timeout time.Duration
	indent            string
}

// parseRollout parses a rollout command's flags and its <service>, with
// extra registering the command's own flags, and checks the settings it
// needs: the table, and the state machine when it starts a rollout.
func parseRollout(ctx context.Context, cmd command, args []string, stdout io.Writer, starts bool, extra func(c *command, fs *flag.FlagSet)) (*rolloutCommand, error) {
	r := &rolloutCommand{cmd: cmd}
	c := &r.cmd
	fs := c.flags()
	table := c.setting(fs, tableSetting)
	region := c.setting(fs, regionSetting)
	machine := c.setting(fs, stateMachineSetting)
	if starts {
		fs.BoolVar(&r.wait, "wait", false, "follow the rollout, printing each phase as it happens, and exit 1 unless it succeeded")
		fs.DurationVar(&r.interval, "interval", 2*time.Second, "with --wait, how often the rollout is read")
		fs.DurationVar(&r.timeout, "timeout", time.Hour, "with --wait, give up following after this long (the rollout goes on)")
	}
	if extra != nil {
		extra(c, fs)
	}
	positional, err := c.parse(fs, args, stdout)
	if err != nil {
		return nil, err
	}
	switch {
	case len(positional) != 1:
		return nil, usagef(c.name, "want one %s, got %d arguments", c.args, len(positional))
	case starts && (r.interval <= 0 || r.timeout <= 0):
		return nil, usagef(c.name, "--interval and --timeout must be positive")
	}
	need := []setting{table}
	if starts {
		need = append(need, machine)
	}
	if err := c.require(need...); err != nil {
		return nil, err
	}
	if r.cfg, err = c.loadAWS(ctx, region); err != nil {
		return nil, err
	}
	r.service, r.asJSON, r.machine = positional[0], c.asJSON(fs), *machine.value
	r.ledger = ledger.New(dynamodb.NewFromConfig(r.cfg), *table.value)
	return r, nil
}

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

var deployCommand = command{
	name: "deploy", args: "<service>",
	about: "Roll an image out through the rollout state machine, pinned by digest: --tag T\n" +
		"resolves the tag to its digest with ECR's DescribeImages, --digest D names it. The\n" +
		"rollout is the one a push starts: lease, alarms' gate, ECS's verdict, bake, rollback,\n" +
		"a recorded outcome. --wait follows it and prints each phase as it happens.",
	json: "print the started execution, or with --wait the outcome, as a JSON object",
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tag, digest string
	var repo setting
	r, err := parseRollout(ctx, deployCommand, args, stdout, true, func(c *command, fs *flag.FlagSet) {
		fs.StringVar(&tag, "tag", "", "the image's tag in the repository, resolved to its digest")
		fs.StringVar(&digest, "digest", "", "the image's digest, sha256:<64 hex digits>")
		repo = c.setting(fs, repositorySetting)
	})
	if err != nil {
		return err
	}
	switch {
	case (tag == "") == (digest == ""):
		return usagef(r.cmd.name, "give --tag or --digest, one of them")
	case digest != "" && !digestRe.MatchString(digest):
		return usagef(r.cmd.name, "--digest %q is not sha256:<64 hex digits>", digest)
	case tag != "":
		if err := r.cmd.require(repo); err != nil {
			return err
		}
		if digest, err = resolveTag(ctx, ecr.NewFromConfig(r.cfg), *repo.value, tag); err != nil {
			return err
		}
	}
	reason := "ecsplane deploy --digest " + digest
	if tag != "" {
		reason = fmt.Sprintf("ecsplane deploy --tag %s (%s)", tag, digest)
	}
	return r.start(ctx, rollout.Request{Digest: digest, Tag: tag, Cause: ledger.CauseDeploy, Reason: reason}, stdout, stderr)
}

// resolveTag finds the digest of tag in the repository of the image
// repository URI repo.
func resolveTag(ctx context.Context, api *ecr.Client, repo, tag string) (string, error) {
	_, name, ok := strings.Cut(repo, "/")
	if !ok {
		return "", usagef("deploy", "--image-repository %q is not <registry>/<repository>", repo)
	}
	out, err := api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(name), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}}})
	var notFound *ecrtypes.ImageNotFoundException
	if errors.As(err, &notFound) {
		return "", fmt.Errorf("tag %q is not in repository %s", tag, name)
	}
	if err != nil {
		return "", fmt.Errorf("resolving tag %s of %s: %w", tag, name, err)
	}
	if len(out.ImageDetails) != 1 {
		return "", fmt.Errorf("tag %q of %s names %d images", tag, name, len(out.ImageDetails))
	}
	return aws.ToString(out.ImageDetails[0].ImageDigest), nil
}

var rollbackCommand = command{
	name: "rollback", args: "<service>",
	about: "Roll the service back to the image of its last SUCCEEDED deployment before the\n" +
		"current one (the newest that SUCCEEDED), through the rollout state machine, with the\n" +
		"same lease, gate, bake and verdict as any rollout. --wait follows it.",
	json: "print the started execution, or with --wait the outcome, as a JSON object",
}

func runRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	r, err := parseRollout(ctx, rollbackCommand, args, stdout, true, nil)
	if err != nil {
		return err
	}
	current, target, err := rollbackTarget(ctx, r.ledger, r.service)
	if err != nil {
		return err
	}
	return r.start(ctx, rollout.Request{
		Digest: target.ImageDigest, Tag: target.ImageTag, Cause: ledger.CauseRollback,
		Reason: fmt.Sprintf("ecsplane rollback from deployment %s (%s) to deployment %s (%s)", current.ID, current.ImageDigest, target.ID, target.ImageDigest),
	}, stdout, stderr)
}

// rollbackTarget finds the current deployment, the newest that
// SUCCEEDED, and the one to return to: the newest SUCCEEDED before it of
// another image.
func rollbackTarget(ctx context.Context, led *ledger.Ledger, service string) (current, target *ledger.Deployment, err error) {
	cursor := ""
	for {
		ds, next, err := led.History(ctx, service, ledger.PageRequest{Limit: 100, Cursor: cursor})
		if err != nil {
			return nil, nil, fmt.Errorf("reading the history of %s: %w", service, err)
		}
		for i := range ds {
			d := &ds[i]
			switch {
			case d.Status != ledger.StatusSucceeded:
			case current == nil:
				current = d
			case d.ImageDigest == current.ImageDigest && d.ImageTag == current.ImageTag:
			case d.ImageDigest == "":
				return nil, nil, fmt.Errorf("deployment %s, the one before the current %s, rolled out %s by tag, not by digest; deploy the image you want with ecsplane deploy", d.ID, current.ID, d.ImageTag)
			default:
				return current, d, nil
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if current == nil {
		return nil, nil, fmt.Errorf("%s has no SUCCEEDED deployment to roll back from", service)
	}
	return nil, nil, fmt.Errorf("%s has no SUCCEEDED deployment of another image before the current one, %s", service, current.ID)
}

// start starts the rollout state machine with a request and, with
// --wait, follows it.
func (r *rolloutCommand) start(ctx context.Context, req rollout.Request, stdout, stderr io.Writer) error {
	req.ID = fmt.Sprintf("cli-%s-%s-%s", req.Cause, time.Now().UTC().Format("20060102T150405"), strings.ToLower(rand.Text()[:6]))
	req.At = time.Now().UTC()
	input, err := json.Marshal(map[string]any{"request": req})
	if err != nil {
		return err
	}
	api := sfn.NewFromConfig(r.cfg)
	out, err := api.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(r.machine), Name: aws.String(req.ID), Input: aws.String(string(input))})
	if err != nil {
		return fmt.Errorf("starting %s: %w", r.machine, err)
	}
	arn := aws.ToString(out.ExecutionArn)
	if !r.wait {
		if r.asJSON {
			return json.NewEncoder(stdout).Encode(map[string]string{"executionArn": arn, "digest": req.Digest})
		}
		fmt.Fprintf(stdout, "started the %s of %s: %s\n", req.Cause, req.Digest, arn)
		return nil
	}
	progress := stdout
	if r.asJSON {
		progress = stderr
	}
	fmt.Fprintf(progress, "started the %s of %s: %s\n", req.Cause, req.Digest, arn)
	o, err := r.follow(ctx, api, arn, progress)
	if err != nil {
		return err
	}
	if r.asJSON {
		if err := json.NewEncoder(stdout).Encode(o); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%s after %s\n", o, time.Duration(o.DurationSeconds*float64(time.Second)).Round(time.Second))
	}
	if !o.Succeeded {
		return fmt.Errorf("the %s of %s ended %s", req.Cause, req.Digest, o.Status)
	}
	return nil
}

// follow reads the execution and its deployment record every interval,
// prints each phase of the record's timeline as it appears, and returns
// the outcome once the execution has ended.
func (r *rolloutCommand) follow(ctx context.Context, api *sfn.Client, arn string, out io.Writer) (*rollout.Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	shown := 0
	for {
		d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("reading execution %s: %w", arn, err)
		}
		rec, err := r.ledger.FindByExecution(ctx, r.service, arn)
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return nil, err
		}
		if rec != nil {
			for _, p := range rec.Timeline[shown:] {
				fmt.Fprintln(out, strings.TrimRight(fmt.Sprintf("%s%s %-16s %s", r.indent, p.At.Local().Format(time.TimeOnly), p.Phase, p.Detail), " "))
			}
			shown = len(rec.Timeline)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			if rec == nil {
				return nil, fmt.Errorf("execution %s ended %s without a deployment record: %s", arn, d.Status, firstNonEmpty(aws.ToString(d.Output), aws.ToString(d.Cause)))
			}
			if !rec.Status.Terminal() {
				// The cleanup function ends the record of an execution
				// stopped from outside; wait for it.
				if err := sleep(ctx, r.interval); err != nil {
					return nil, err
				}
				continue
			}
			o := rollout.OutcomeOf(rec)
			return &o, nil
		}
		if err := sleep(ctx, r.interval); err != nil {
			return nil, fmt.Errorf("gave up following %s after %s (--timeout); the rollout goes on: %w", arn, r.timeout, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var abortCommand = command{
	name: "abort", args: "<service>",
	about: "Stop the service's rollout in progress: stop its execution, return the service to\n" +
		"its previous revision (ECS's StopServiceDeployment with the ROLLBACK stop type while\n" +
		"ECS rolls it out, UpdateService once it has), record it ABORTED and release the lease.\n" +
		"Nothing happens, and the exit code is 0, when no rollout is in progress.",
	json: "print the aborted deployment, or that nothing was in progress, as a JSON object",
}

func runAbort(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	r, err := parseRollout(ctx, abortCommand, args, stdout, false, nil)
	if err != nil {
		return err
	}
	rec, lease, err := rollout.Running(ctx, r.ledger, r.service)
	if err != nil {
		return err
	}
	type result struct {
		Aborted    bool               `json:"aborted"`
		Reason     string             `json:"reason"`
		Deployment *ledger.Deployment `json:"deployment,omitempty"`
	}
	if rec == nil {
		res := result{Reason: "no rollout of " + r.service + " is in progress"}
		if lease != nil {
			res.Reason += fmt.Sprintf("; the revision lease is held by %s, which is not a rollout", lease.Owner)
		}
		return r.print(stdout, res, "nothing to abort: "+res.Reason)
	}
	// The execution stops first, so no step of it acts after the abort;
	// its cleanup may then end the record before this does.
	_, err = sfn.NewFromConfig(r.cfg).StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(rec.ExecutionARN), Error: aws.String("Aborted"), Cause: aws.String("ecsplane abort"),
	})
	if err != nil && awserr.Code(err) != "ExecutionDoesNotExist" {
		return fmt.Errorf("stopping %s: %w", rec.ExecutionARN, err)
	}
	if rec, err = r.ledger.GetDeployment(ctx, rec.Service, rec.ID); err != nil {
		return err
	}
	if !rec.Status.Terminal() {
		ended, err := rollout.Abandon(ctx, ecs.NewFromConfig(r.cfg), r.ledger, r.service, rec, ledger.StatusAborted, "aborted with ecsplane abort")
		var illegal *ledger.IllegalTransitionError
		switch {
		case errors.As(err, &illegal):
			if ended, err = r.ledger.GetDeployment(ctx, rec.Service, rec.ID); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		rec = ended
	}
	if err := rollout.Release(ctx, r.ledger, rec); err != nil {
		return err
	}
	return r.print(stdout, result{Aborted: true, Reason: rec.Reason, Deployment: rec},
		fmt.Sprintf("aborted deployment %s of %s: %s %s", rec.ID, rec.ImageDigest, rec.Status, rec.Reason))
}

// print writes v as JSON with --json, else line.
func (r *rolloutCommand) print(stdout io.Writer, v any, line string) error {
	if r.asJSON {
		return json.NewEncoder(stdout).Encode(v)
	}
	_, err := fmt.Fprintln(stdout, line)
	return err
}
