package local_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestRecordFunctionUnderRIE runs the record function's real binary under
// the Lambda Runtime Interface Emulator against moto: configuration from the
// environment, the JSON log format, and the typed error on bad input.
func TestRecordFunctionUnderRIE(t *testing.T) {
	env := awstest.Moto(t)
	ctx := context.Background()
	// The function sends no account header, so it acts in moto's default
	// account; a table name of its own keeps the test isolated there.
	table := "ledger-" + env.AccountID
	db := dynamodb.NewFromConfig(local.Config(env.Endpoint))
	if err := local.CreateTable(ctx, db, loadTemplate(t), local.LedgerTableID, table); err != nil {
		t.Fatal(err)
	}
	bootstrap, err := local.BuildBootstrap(ctx, "../..", "./functions/record", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	// Without TABLE_NAME the function must refuse to start, naming it.
	bad, err := local.StartRIE(bootstrap, []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "STACK_NAME=web-dev"})
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := bad.Invoke(ctx, []byte(`{}`), 10*time.Second)
	bad.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body)+bad.Output(), "missing environment variables: TABLE_NAME") {
		t.Fatalf("missing configuration was not reported: %s / %s", body, bad.Output())
	}

	rie, err := local.StartRIE(bootstrap, []string{
		"TABLE_NAME=" + table, "STACK_NAME=web-dev", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + env.Endpoint,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rie.Stop()

	fixture, err := os.ReadFile("../../events/record-build-failed.json")
	if err != nil {
		t.Fatal(err)
	}
	body, funcErr, err := rie.Invoke(ctx, fixture, 10*time.Second)
	if err != nil || funcErr != "" {
		t.Fatalf("invoke: %v %s %s\n%s", err, funcErr, body, rie.Output())
	}
	var rec ledger.Action
	if err := json.Unmarshal(body, &rec); err != nil || rec.ID == "" || rec.Reason != "NotReadyError" {
		t.Fatalf("response %s (%v)", body, err)
	}
	as, _, err := ledger.New(db, table).Actions(ctx, "web-dev", ledger.PageRequest{})
	if err != nil || len(as) != 1 || as[0].ID != rec.ID {
		t.Fatalf("ledger holds %+v (%v), want the recorded action", as, err)
	}
	if !strings.Contains(rie.Output(), `"msg":"recorded action"`) || !strings.Contains(rie.Output(), `"request_id":`) {
		t.Errorf("no JSON log line with a request ID:\n%s", rie.Output())
	}

	// The emulator reports a function error in the body only, without
	// Lambda's X-Amz-Function-Error header.
	for _, bad := range []string{`{"kind":"build"}`, `{"subject":"another-stack","kind":"build","action":"build","outcome":"SUCCEEDED"}`} {
		body, _, err = rie.Invoke(ctx, []byte(bad), 10*time.Second)
		if err != nil || !strings.Contains(string(body), `"errorType":"InvalidInputError"`) {
			t.Fatalf("bad input %s: %v %s", bad, err, body)
		}
	}
	if as, _, _ := ledger.New(db, table).Actions(ctx, "web-dev", ledger.PageRequest{}); len(as) != 1 {
		t.Fatalf("bad input wrote to the ledger: %d actions", len(as))
	}
}

// BenchmarkColdStart starts every function of template.yaml under the
// emulator, given the environment the template declares for it, and
// invokes it once with input no handler accepts, which every function
// answers without an AWS call. ns/op is process start to that answer;
// init-ms is the emulator's own measure of the function's start-up, to its
// first runtime API call.
func BenchmarkColdStart(b *testing.B) {
	tmpl, err := local.LoadTemplate("../../template.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dirs := functionDirs(b)
	// Each function's environment as the template resolves it, so typed
	// variables (a number of days, a flag) have values of their type.
	fns, err := tmpl.Functions(local.NewNames(tmpl, local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: "web-dev"}, nil, "", nil))
	if err != nil {
		b.Fatal(err)
	}
	for _, fn := range fns {
		id := fn.LogicalID
		b.Run(id, func(b *testing.B) {
			bootstrap, err := local.BuildBootstrap(context.Background(), "../..", dirs[id], b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x"}
			for k, v := range fn.Environment {
				env = append(env, k+"="+v)
			}
			var init time.Duration
			b.ResetTimer()
			for b.Loop() {
				rie, err := local.StartRIE(bootstrap, env)
				if err != nil {
					b.Fatal(err)
				}
				// A handler's own answer, not a failed start.
				body, _, err := rie.Invoke(context.Background(), []byte(`[]`), 10*time.Second)
				if err != nil || !strings.Contains(string(body), "cannot unmarshal array") {
					b.Fatalf("invoke: %v %s\n%s", err, body, rie.Output())
				}
				d, err := rie.InitDuration()
				rie.Stop()
				if err != nil {
					b.Fatal(err)
				}
				init += d
			}
			b.ReportMetric(float64(init.Microseconds())/1000/float64(b.N), "init-ms/op")
		})
	}
}

// functionDirs maps each function's logical ID to its package, as the
// Makefile's build targets do.
func functionDirs(t testing.TB) map[string]string {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "-s", "functions")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make functions: %v", err)
	}
	dirs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, dir, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("make functions printed %q", line)
		}
		dirs[id] = dir
	}
	return dirs
}
