// Package controlplanetest runs template.yaml's control plane on a
// simulator in tests, as the local environment does: the lifecycle state
// machine completes the launch hooks of every instance a build starts, as
// on AWS.
package controlplanetest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// Local is template.yaml's control plane on a simulator for one test.
type Local struct {
	*controlplane.OnSim
	// SFN runs the template's state machines, in moto's default account,
	// where the local environment lives.
	SFN *awstest.StepFunctions
}

// New creates template.yaml's control plane on s for the stack called
// name, with parameters overriding the template's defaults, under a name
// prefix of the test's own in moto's default account, and stops it when
// the test ends.
func New(t testing.TB, s *sim.Sim, name string, parameters map[string]string) *Local {
	t.Helper()
	shared := awstest.NewStepFunctions(t)
	env := awstest.NewEnv(shared.Endpoint, local.Account)
	prefix := "l" + strings.ToLower(rand.Text()[:8]) + "-"
	c, err := controlplane.StartOnSim(context.Background(), &local.Env{Gateway: shared.Gateway}, s, controlplane.Options{
		TemplatePath: filepath.Join(awstest.RepoRoot(t), "template.yaml"), StackName: name, Prefix: prefix, Parameters: parameters,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return &Local{OnSim: c, SFN: &awstest.StepFunctions{Env: env, Gateway: shared.Gateway, SFN: sfn.NewFromConfig(env.Config)}}
}

// Run runs the template's state machine id with input and waits for it.
func (l *Local) Run(t testing.TB, id string, input any) *awstest.Execution {
	t.Helper()
	arn, err := l.StateMachine(id)
	if err != nil {
		t.Fatal(err)
	}
	return l.SFN.Run(t, arn, input)
}
