package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// TestLocalBuildSteps runs make local's build steps: the control plane
// created from template.yaml, its build state machine in moto's engine,
// AWS behaviour from the simulator, then the topology.
func TestLocalBuildSteps(t *testing.T) {
	shared := awstest.NewStepFunctions(t)
	env := &local.Env{Gateway: shared.Gateway}
	s := sim.New(sim.Options{Seed: 5})
	prefix := "b" + strings.ToLower(rand.Text()[:8]) + "-"
	lc, err := startLocalControlPlane(context.Background(), env, "../../template.yaml", "web", prefix, s)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Stop()
	var out bytes.Buffer
	session := lc.session(&out)
	if err := local.RunSteps(context.Background(), session, localBuildSteps(lc)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"preflight: 9 checks passed\n", "build SUCCEEDED", "us-east-1a\n", "us-east-1b\n", "healthy targets 1", "load balancer DNS name: web-alb-"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// The build, and the launch of each of the group's two instances,
	// completed by the template's lifecycle state machine.
	as, _, err := session.Ledger.Actions(context.Background(), "web", ledger.PageRequest{})
	kinds := map[string]int{}
	for _, a := range as {
		kinds[a.Kind+" "+a.Action+" "+a.Outcome]++
	}
	if err != nil || len(as) != 3 || kinds["build build SUCCEEDED"] != 1 || kinds["lifecycle launch CONTINUE"] != 2 {
		t.Errorf("recorded %v (%v), want the successful build and two launches completed with CONTINUE", kinds, err)
	}
	// The build created the service through the shared deployment path,
	// which recorded ECS's verdict; nothing else is in the history.
	ds, _, err := session.Ledger.History(context.Background(), "web", ledger.PageRequest{})
	if err != nil || len(ds) != 1 || ds[0].Cause != ledger.CauseCreate || ds[0].Status != ledger.StatusSucceeded {
		t.Errorf("deployments %+v (%v), want the service's creation, succeeded", ds, err)
	}
	t.Log("\n" + got)
}
