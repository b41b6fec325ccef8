package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/execution"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// localPush is one push of `make local`'s rollouts: a tag, how its image
// misbehaves, and the verdict the rollout must reach.
type localPush struct {
	tag   string
	fault sim.ImageFault
	want  ledger.Status
	about string
}

// localRolloutSteps are `make local`'s rollouts, after the build: a good
// image and a bad one pushed to the simulated ECR, whose "ECR Image Action"
// events go through moto's bus and the template's push rule to the rollout
// state machine. Each rollout's phases are printed as they happen, then its
// verdict, which must be the one expected.
func localRolloutSteps(lc *localControlPlane) []local.Step {
	var steps []local.Step
	started := 0
	for _, p := range []localPush{
		{tag: "v1.1.0", want: ledger.StatusSucceeded, about: "a good image"},
		{tag: "v1.2.0", fault: sim.ImagePullFails, want: ledger.StatusRolledBackByECS, about: "a bad image, whose pulls fail"},
	} {
		steps = append(steps, local.Step{
			Name: fmt.Sprintf("roll out %s: push %s; the template's push rule starts the rollout state machine", p.about, p.tag),
			Run: func(ctx context.Context, ls *local.Session) error {
				started++
				return runLocalPush(ctx, lc, ls, p, started)
			},
		})
	}
	return steps
}

func runLocalPush(ctx context.Context, lc *localControlPlane, ls *local.Session, p localPush, nth int) error {
	repo := lc.FunctionEnvironment("RolloutFunction")["IMAGE_REPOSITORY"]
	_, name, _ := strings.Cut(repo, "/")
	before := lc.invocations()
	digest, err := lc.Sim.PushImage(name, p.tag)
	if err != nil {
		return err
	}
	if p.fault != sim.ImageHealthy {
		lc.Sim.FailImage(repo+"@"+digest, p.fault)
	}
	fmt.Fprintf(ls.Out, "    pushed %s:%s, %s\n", name, p.tag, digest)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	seen := 0
	o, err := lc.Wiring.Dispatcher.WaitFor(wctx, func(o local.Outcome) bool {
		if o.Rule != "RolloutStateMachineOnPush" || o.Execution == "" {
			return false
		}
		seen++
		return seen == nth
	})
	if err != nil {
		return fmt.Errorf("no rollout started for the push of %s: %w", p.tag, err)
	}
	fmt.Fprintf(ls.Out, "    the push rule started %s\n", o.Execution)
	rc := &rolloutCommand{service: lc.Pseudo.StackName, ledger: ls.Ledger, interval: 200 * time.Millisecond, timeout: 5 * time.Minute, indent: "    "}
	api := sfn.NewFromConfig(lc.Config)
	out, err := rc.follow(ctx, api, o.Execution, ls.Out)
	if err != nil {
		return err
	}
	ex, err := execution.Wait(ctx, api, o.Execution, 100*time.Millisecond, nil)
	if err != nil {
		return err
	}
	transitions := 0
	for _, e := range ex.History {
		if e.StateEnteredEventDetails != nil {
			transitions++
		}
	}
	fmt.Fprintf(ls.Out, "    verdict: %s\n    %d state transitions, %d Lambda invocations, %s\n", out, transitions, lc.invocations()-before,
		time.Duration(out.DurationSeconds*float64(time.Second)).Round(time.Millisecond))
	if out.Status != p.want {
		return fmt.Errorf("the rollout of %s ended %s, want %s: %s", p.tag, out.Status, p.want, out.Reason)
	}
	if out.Digest != digest {
		return fmt.Errorf("the rollout of %s rolled out %s, want the pushed digest %s", p.tag, out.Digest, digest)
	}
	return nil
}

// invocations counts the invocations of the rollout's functions so far.
func (lc *localControlPlane) invocations() int {
	n := 0
	for _, f := range lc.App.Functions {
		if strings.HasPrefix(f.LogicalID, "Rollout") {
			n += lc.env.Gateway.Invocations(f.Name)
		}
	}
	return n
}
