package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// cli runs the CLI as main does: what it prints on stdout and stderr, and
// its exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	report(&errOut, err)
	return out.String(), errOut.String(), exitCode(err)
}

// noAWSSettings clears what the CLI reads from the environment, so a test
// sees what a user without it would.
func noAWSSettings(t *testing.T) {
	for _, k := range []string{tableEnv, "ECSPLANE_STACK", "ECSPLANE_IMAGE_REPOSITORY", "ECSPLANE_ROLLOUT_STATE_MACHINE", "ECSPLANE_NGINX_IMAGE", "ECSPLANE_INSTANCE_PROFILE_ARN",
		"ECSPLANE_EXECUTION_ROLE_ARN", "ECSPLANE_TASK_ROLE_ARN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	// A call that got through would fail on the network, not on usage.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
}

// TestHelpOfEveryCommand: --help (and -h) prints the usage, every flag
// with its environment variable, what --json does and the exit codes, on
// stdout, and exits 0.
func TestHelpOfEveryCommand(t *testing.T) {
	noAWSSettings(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"history <service>", "stack apply", "local", "events put FILE...", "invoke FUNCTION", "exit codes: 0 success, 1 failure, 2 usage", "--region"}},
		{[]string{"help"}, []string{"history <service>"}},
		{[]string{"history", "--help"}, []string{"usage: ecsplane history [flags] <service>", "--table string", "($ECSPLANE_TABLE)", "--region string", "($AWS_REGION)", "--limit int", "(default 20)", "--json\n      print each deployment as a JSON object", "exit codes"}},
		{[]string{"actions", "-h"}, []string{"usage: ecsplane actions [flags] <subject>", "--table string", "--json"}},
		{[]string{"stack", "--help"}, []string{"plan|apply|destroy", "--name string", "($ECSPLANE_STACK)", "--timeout duration", "exit codes"}},
		{[]string{"stack", "plan", "--help"}, []string{"usage: ecsplane stack plan", "preflight", "--spec string", "--json\n      print one JSON object"}},
		{[]string{"stack", "apply", "-h"}, []string{"usage: ecsplane stack apply", "--wait", "--interval duration", "(default 15s)", "--timeout duration", "(default 30m0s)", "($ECSPLANE_TASK_ROLE_ARN)"}},
		{[]string{"stack", "destroy", "--help"}, []string{"usage: ecsplane stack destroy", "--state-machine string"}},
		{[]string{"local", "--help"}, []string{"usage: ecsplane local", "--json\n      print the whole run's record", "--scenario string", "(default scenarios/default.json)", "--report string", "--template string", "--keep"}},
		{[]string{"drill", "--help"}, []string{"usage: ecsplane drill [flags] bad-image|instance-loss|az-outage|gray-failure", "--zone string", "--target string", "--json"}},
		{[]string{"report", "--help"}, []string{"usage: ecsplane report [flags] <service>", "GetMetricData", "--from string", "--to string", "--out string", "($ECSPLANE_TABLE)"}},
		{[]string{"events", "--help"}, []string{"usage: ecsplane events put [flags] FILE...", "--json\n      print each event put as a JSON object"}},
		{[]string{"events", "put", "--help"}, []string{"usage: ecsplane events put [flags] FILE...", "--bus string", "--region string"}},
		{[]string{"invoke", "--help"}, []string{"usage: ecsplane invoke [flags] FUNCTION", "--event string", "--json"}},
		{[]string{"deploy", "--help"}, []string{"usage: ecsplane deploy [flags] <service>", "--tag string", "--digest string", "--wait", "--state-machine string", "($ECSPLANE_ROLLOUT_STATE_MACHINE)", "($ECSPLANE_IMAGE_REPOSITORY)", "--interval duration", "(default 2s)", "--json"}},
		{[]string{"rollback", "-h"}, []string{"usage: ecsplane rollback [flags] <service>", "last SUCCEEDED deployment", "--wait", "--table string"}},
		{[]string{"abort", "--help"}, []string{"usage: ecsplane abort [flags] <service>", "StopServiceDeployment", "--json"}},
		{[]string{"status", "--help"}, []string{"usage: ecsplane status [flags] <service>", "healthy targets per zone", "--region string"}},
		{[]string{"--help"}, []string{"deploy <service>", "rollback <service>", "abort <service>", "status <service>", "report <service>", "drill KIND"}},
	}
	for _, tt := range tests {
		out, errOut, code := cli(t, tt.args...)
		if code != exitOK || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q; want 0 and nothing on stderr", tt.args, code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: usage lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}

// TestUsageErrors: a bad command line exits 2 and says what is wrong on
// stderr; a missing setting names its flag and its variable.
func TestUsageErrors(t *testing.T) {
	noAWSSettings(t)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "ecsplane: no command"},
		{[]string{"frobnicate"}, `ecsplane: unknown command "frobnicate"`},
		{[]string{"history", "web"}, "ecsplane history: missing the ledger table (the control plane's LedgerTableName output): set --table or $ECSPLANE_TABLE"},
		{[]string{"history", "--table", "t"}, "ecsplane history: want one <service>, got 0 arguments"},
		{[]string{"history", "--table", "t", "--limit", "0", "web"}, "--limit must be positive, got 0"},
		{[]string{"history", "--table", "t", "web"}, "ecsplane history: missing the AWS region: set --region or $AWS_REGION"},
		{[]string{"actions", "--frob", "web"}, "ecsplane actions: flag provided but not defined: -frob (see the flags with --help)"},
		{[]string{"stack"}, "ecsplane stack: missing the subcommand: plan, apply or destroy"},
		{[]string{"stack", "frob"}, `ecsplane stack: unknown subcommand "frob"`},
		{[]string{"stack", "apply", "--interval", "0"}, "ecsplane stack apply: --interval must be positive, got 0s"},
		{[]string{"stack", "apply", "--timeout", "soon"}, `invalid value "soon" for flag -timeout`},
		{[]string{"stack", "plan", "--state-machine", "arn:aws:states:us-east-1:123456789012:stateMachine:x"}, "plan runs here only"},
		{[]string{"stack", "apply"}, "ecsplane stack apply: missing the stack's name: set --name or $ECSPLANE_STACK; the app's image repository: set --image-repository or $ECSPLANE_IMAGE_REPOSITORY; " +
			"the nginx sidecar's image, built from nginx/: set --nginx-image or $ECSPLANE_NGINX_IMAGE; the container instances' instance profile: set --instance-profile-arn or $ECSPLANE_INSTANCE_PROFILE_ARN; " +
			"the task execution role: set --execution-role-arn or $ECSPLANE_EXECUTION_ROLE_ARN; the task role: set --task-role-arn or $ECSPLANE_TASK_ROLE_ARN; " +
			"the ledger table (the control plane's LedgerTableName output): set --table or $ECSPLANE_TABLE"},
		{[]string{"stack", "destroy"}, "ecsplane stack destroy: missing the stack's name: set --name or $ECSPLANE_STACK\n"},
		{[]string{"local", "--scenario", "testdata/none.json"}, "ecsplane local: open testdata/none.json: no such file or directory"},
		{[]string{"local", "--scenario", "testdata/invalid.json"}, `ecsplane local: scenario testdata/invalid.json is invalid: step 1 "deploy it": unknown kind "deploy"`},
		{[]string{"drill"}, "ecsplane drill: want one drill: az-outage, bad-image, gray-failure, instance-loss"},
		{[]string{"drill", "meteor"}, `ecsplane drill: unknown drill "meteor"`},
		{[]string{"drill", "--target", "aws", "bad-image"}, "ecsplane drill: drill bad-image against AWS is refused: it needs an image that fails"},
		{[]string{"drill", "--target", "aws", "instance-loss"}, "ecsplane drill: --target aws acts on a real stack: add --confirm web-dev"},
		{[]string{"drill", "--target", "gcp", "instance-loss"}, `ecsplane drill: --target "gcp": want local or aws`},
		{[]string{"report", "web"}, "ecsplane report: missing the ledger table"},
		{[]string{"report", "--table", "t", "--from", "yesterday", "web"}, "ecsplane report: --from: parsing time"},
		{[]string{"local", "--speed", "0"}, "ecsplane local: --speed must be positive, got 0"},
		{[]string{"events"}, "ecsplane events: want the subcommand put"},
		{[]string{"events", "put"}, "ecsplane events put: want at least one FILE"},
		{[]string{"invoke"}, "ecsplane invoke: want one FUNCTION, got 0 arguments"},
		{[]string{"invoke", "a", "b"}, "want one FUNCTION, got 2 arguments"},
		{[]string{"deploy", "web"}, "ecsplane deploy: missing the ledger table (the control plane's LedgerTableName output): set --table or $ECSPLANE_TABLE; " +
			"the rollout state machine (the control plane's RolloutStateMachineArn output): set --state-machine or $ECSPLANE_ROLLOUT_STATE_MACHINE"},
		{[]string{"deploy", "--table", "t", "--state-machine", "sm", "--region", "us-east-1", "web"}, "ecsplane deploy: give --tag or --digest, one of them"},
		{[]string{"deploy", "--table", "t", "--state-machine", "sm", "--region", "us-east-1", "--tag", "v1", "--digest", "sha256:aa", "web"}, "give --tag or --digest, one of them"},
		{[]string{"deploy", "--table", "t", "--state-machine", "sm", "--region", "us-east-1", "--digest", "v1", "web"}, `--digest "v1" is not sha256:<64 hex digits>`},
		{[]string{"deploy", "--table", "t", "--state-machine", "sm", "--region", "us-east-1", "--tag", "v1", "web"}, "missing the app's image repository, <account>.dkr.ecr.<region>.amazonaws.com/<name>: set --image-repository or $ECSPLANE_IMAGE_REPOSITORY"},
		{[]string{"deploy", "--table", "t", "--state-machine", "sm", "--wait", "--interval", "0", "web"}, "--interval and --timeout must be positive"},
		{[]string{"rollback", "--table", "t"}, "ecsplane rollback: want one <service>, got 0 arguments"},
		{[]string{"abort", "web"}, "ecsplane abort: missing the ledger table"},
		{[]string{"status", "a", "b"}, "ecsplane status: want one <service>, got 2 arguments"},
	}
	for _, tt := range tests {
		out, errOut, code := cli(t, tt.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want 2; stderr %q", tt.args, code, errOut)
		}
		if !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: stderr %q, want %q", tt.args, errOut, tt.want)
		}
		if tt.args != nil && out != "" {
			t.Errorf("%q: stdout %q, want nothing", tt.args, out)
		}
	}
}

// TestHistoryWithoutOrWithAWrongTable: without a table the CLI says which
// setting is missing (exit 2); with one that does not exist it names it,
// the region it looked in and where the name came from (exit 1).
func TestHistoryWithoutOrWithAWrongTable(t *testing.T) {
	env := awstest.Moto(t)
	awstest.UseEndpoint(t, env.Endpoint)
	t.Setenv(tableEnv, "")
	_, errOut, code := cli(t, "history", "web")
	if code != exitUsage || !strings.Contains(errOut, "set --table or $ECSPLANE_TABLE") {
		t.Errorf("history without a table: exit %d, stderr %q", code, errOut)
	}
	t.Setenv(tableEnv, "no-such-ledger-"+env.AccountID)
	out, errOut, code := cli(t, "history", "web")
	want := `ecsplane: reading the history of web: ledger table "no-such-ledger-` + env.AccountID + `" does not exist in us-east-1 (--table or $ECSPLANE_TABLE)`
	if code != exitFailure || !strings.Contains(errOut, want) {
		t.Errorf("history with a wrong table: exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
	if _, errOut, code := cli(t, "actions", "--json", "web"); code != exitFailure || !strings.Contains(errOut, "does not exist") {
		t.Errorf("actions with a wrong table: exit %d, stderr %q", code, errOut)
	}
	_ = out
}

// TestHistoryThroughEndpointChain reads history the way a user does: the CLI
// loads its AWS configuration from the environment, here pointed at moto.
func TestHistoryThroughEndpointChain(t *testing.T) {
	ctx := context.Background()
	l := cliLedger(t)
	for i := 0; i < 3; i++ {
		d, err := l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web", ImageTag: fmt.Sprintf("v%d", i), ImageDigest: fmt.Sprintf("sha256:%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Transition(ctx, d, ledger.Change{To: ledger.StatusInProgress, NewTaskDef: fmt.Sprintf("web:%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := cli(t, "history", "web", "--limit", "2")
	if code != exitOK {
		t.Fatalf("history: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "STATUS") || !strings.Contains(lines[1], "v2") || !strings.Contains(lines[2], "v1") {
		t.Fatalf("history output:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 10 || f[4] != "IN_PROGRESS" || f[7] != "running" || f[8] != "web:2" {
		t.Errorf("history line %q, want the status, running and the task definition", lines[1])
	}

	out, errOut, code = cli(t, "history", "--json", "--all", "web")
	if code != exitOK {
		t.Fatalf("history --json: exit %d: %s", code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
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

// cliLedger creates a ledger table in moto and points the CLI at it, as a
// user's environment does. The CLI uses moto's default account, so the
// table's name isolates the test.
func cliLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	env := awstest.Moto(t)
	table := fmt.Sprintf("ledger-%s", env.AccountID)
	tmpl, err := local.LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(local.Config(env.Endpoint))
	if err := local.CreateTable(context.Background(), db, tmpl, local.LedgerTableID, table); err != nil {
		t.Fatal(err)
	}
	awstest.UseEndpoint(t, env.Endpoint)
	t.Setenv(tableEnv, table)
	return ledger.New(db, table)
}
