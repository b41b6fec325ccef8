package controlplane_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestTemplateIsCreatedLocally deploys template.yaml with the registry's
// handlers and checks, from moto and the gateway, that every function,
// state machine, rule, table, queue and topic it declares exists.
func TestTemplateIsCreatedLocally(t *testing.T) {
	shared := awstest.NewStepFunctions(t)
	env := awstest.NewEnv(shared.Endpoint, local.Account)
	tmpl, err := local.LoadTemplate("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pseudo := local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: "web"}
	prefix := "r" + strings.ToLower(rand.Text()[:8]) + "-"
	fns, err := tmpl.Functions(local.NewNames(tmpl, pseudo, nil, prefix, nil))
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(sim.Options{Seed: 1})
	handlers, err := controlplane.Handlers(fns, controlplane.Clients{Moto: env.Config, Sim: s.Config()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, err := local.DeployApp(context.Background(), env.Config, shared.Gateway, tmpl, local.AppOptions{
		TemplatePath: "../../../template.yaml", Pseudo: pseudo, Prefix: prefix, Handlers: handlers,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Verify(context.Background(), env.Config, shared.Gateway); err != nil {
		t.Fatal(err)
	}
	if len(app.Functions) != len(controlplane.Registered()) {
		t.Errorf("the template declares %d functions, the registry knows %d: %v", len(app.Functions), len(controlplane.Registered()), controlplane.Registered())
	}
}

// TestRegistryRefusesWhatItCannotRun checks that a function the registry
// does not know, and one whose environment lacks a variable its main
// reads, stop the local environment with their names.
func TestRegistryRefusesWhatItCannotRun(t *testing.T) {
	_, err := controlplane.Handlers([]local.Function{
		{LogicalID: "UndeclaredFunction", Environment: map[string]string{"STACK_NAME": "web"}},
		{LogicalID: "RecordFunction", Environment: map[string]string{"STACK_NAME": "web"}},
		{LogicalID: "NetworkFunction", Environment: map[string]string{}},
	}, controlplane.Clients{}, nil, nil)
	for _, want := range []string{"function UndeclaredFunction has no local handler", "function RecordFunction: ", "TABLE_NAME", "function NetworkFunction: ", "STACK_NAME"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}
