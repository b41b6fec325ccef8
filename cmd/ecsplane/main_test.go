package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"history"}, {"history", "--table", "t"}, {"history", "--table", "t", "--limit", "0", "web"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); !errors.Is(err, errUsage) {
			t.Errorf("run(%q) = %v, want usage error", args, err)
		}
		if errOut.Len() == 0 {
			t.Errorf("run(%q) printed no usage", args)
		}
	}
}

// TestHistoryThroughEndpointChain reads history the way a user does: the CLI
// loads its AWS configuration from the environment, here pointed at moto.
func TestHistoryThroughEndpointChain(t *testing.T) {
	env := awstest.Moto(t)
	ctx := context.Background()
	table := fmt.Sprintf("ledger-%s", env.AccountID)
	tmpl, err := local.LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The CLI uses moto's default account, so the table name isolates the test.
	db := dynamodb.NewFromConfig(local.Config(env.Endpoint))
	if err := local.CreateTable(ctx, db, tmpl, local.LedgerTableID, table); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(db, table)
	for i := 0; i < 3; i++ {
		d, err := l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web", ImageTag: fmt.Sprintf("v%d", i), ImageDigest: fmt.Sprintf("sha256:%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Transition(ctx, d, ledger.Change{To: ledger.StatusInProgress, NewTaskDef: fmt.Sprintf("web:%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	awstest.UseEndpoint(t, env.Endpoint)
	t.Setenv(tableEnv, table)

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"history", "web", "--limit", "2"}, &out, &errOut); err != nil {
		t.Fatalf("history: %v (%s)", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "STATUS") || !strings.Contains(lines[1], "v2") || !strings.Contains(lines[2], "v1") {
		t.Fatalf("history output:\n%s", out.String())
	}
	if !strings.Contains(lines[1], "PENDING → IN_PROGRESS") {
		t.Errorf("transitions missing: %s", lines[1])
	}

	out.Reset()
	if err := run(ctx, []string{"history", "--json", "--all", "web"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&out)
	n := 0
	for dec.More() {
		var d ledger.Deployment
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		if d.Service != "web" || d.Status != ledger.StatusInProgress {
			t.Errorf("deployment = %+v", d)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("--all --json printed %d deployments, want 3", n)
	}
}
