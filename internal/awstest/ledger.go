package awstest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/local"
)

// RepoRoot returns the repository's root directory, where go.mod is.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// LedgerTable creates template.yaml's ledger table in env and returns its
// name.
func LedgerTable(t testing.TB, env *Env) string {
	t.Helper()
	tmpl, err := local.LoadTemplate(filepath.Join(RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "ledger"
	if err := local.CreateTable(context.Background(), dynamodb.NewFromConfig(env.Config), tmpl, local.LedgerTableID, name); err != nil {
		t.Fatal(err)
	}
	return name
}
