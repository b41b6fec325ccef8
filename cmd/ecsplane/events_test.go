package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/local"
)

// eventsApp deploys internal/local's test template in moto's default
// account, which the CLI acts in, and wires its rules.
func eventsApp(t *testing.T, echo chan<- json.RawMessage) (*local.App, *local.Wiring, string) {
	t.Helper()
	shared := awstest.NewStepFunctions(t)
	env := awstest.NewEnv(shared.Endpoint, local.Account)
	pseudo := local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: "cli"}
	tmpl, err := local.LoadTemplate("../../internal/local/testdata/events-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prefix := "c" + strings.ToLower(rand.Text()[:8]) + "-"
	app, err := local.DeployApp(context.Background(), env.Config, shared.Gateway, tmpl, local.AppOptions{
		TemplatePath: "../../internal/local/testdata/events-template.yaml", Pseudo: pseudo, Prefix: prefix,
		Handlers: map[string]any{
			"EchoFunction": func(_ context.Context, in json.RawMessage) (map[string]any, error) {
				echo <- in
				return map[string]any{"received": in}, nil
			},
			"FailingFunction": func(context.Context, json.RawMessage) error {
				return handlererr.Boundary(handlererr.Invalid("no instance in the event"))
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := local.Wire(context.Background(), env.Config, app, pseudo, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	awstest.UseEndpoint(t, shared.Endpoint)
	return app, w, prefix
}

// TestEventsPut puts an event file on the bus with the CLI: the rule that
// matches it delivers the event to its function. A malformed file is
// refused, naming its problem, and nothing is put.
func TestEventsPut(t *testing.T) {
	echo := make(chan json.RawMessage, 10)
	app, _, _ := eventsApp(t, echo)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"events", "put", "../../events/cloudwatch-alarm-state-change-alarm.json"}, &out, &errOut); err != nil {
		t.Fatalf("events put: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), `put "CloudWatch Alarm State Change" from aws.cloudwatch as event `) {
		t.Errorf("output: %s", out.String())
	}
	select {
	case in := <-echo:
		var detail struct {
			AlarmName string `json:"alarmName"`
		}
		if err := json.Unmarshal(in, &detail); err != nil || detail.AlarmName == "" {
			t.Errorf("the function received %s, want the alarm's detail (its rule has InputPath $.detail)", in)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the alarm did not reach its rule's function")
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version":"0","id":"1","source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","account":"123456789012","region":"us-east-1","time":"2025-01-01T00:00:00Z","detail":{"state":{"value":"ALARM"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(context.Background(), []string{"events", "put", bad}, &out, &errOut)
	var invalid *handlererr.InvalidInputError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "alarmName") {
		t.Errorf("a malformed alarm: %v, want an invalid input error naming alarmName", err)
	}
	if out.Len() != 0 {
		t.Errorf("a malformed event was put: %s", out.String())
	}
	if got := queueDepth(t, app.RuleQueues[local.RouteKey("EchoFunctionOnAlarm", "EchoFunctionOnAlarmLambdaTarget")]); got != 0 {
		t.Errorf("the rule's queue holds %d messages", got)
	}
	if err := run(context.Background(), []string{"events", "put"}, &out, &errOut); exitCode(err) != exitUsage {
		t.Errorf("events put without a file: %v, want a usage error", err)
	}
	// --json: one object per event put.
	jsonOut, _, code := cli(t, "events", "put", "--json", "../../events/cloudwatch-alarm-state-change-alarm.json")
	var put struct{ File, DetailType, Source, ID string }
	if err := json.Unmarshal([]byte(jsonOut), &put); err != nil || code != exitOK || put.DetailType != "CloudWatch Alarm State Change" || put.Source != "aws.cloudwatch" || put.ID == "" {
		t.Errorf("events put --json: exit %d, %q (%v)", code, jsonOut, err)
	}
}

func queueDepth(t *testing.T, url string) int {
	t.Helper()
	cfg, err := loadAWS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := sqs.NewFromConfig(cfg).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Messages)
}

// TestInvoke invokes functions with the CLI: a result is printed as JSON,
// a typed error is printed as errorType: errorMessage and fails the
// command.
func TestInvoke(t *testing.T) {
	echo := make(chan json.RawMessage, 10)
	_, _, prefix := eventsApp(t, echo)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"invoke", prefix + "EchoFunction", "--event", "../../events/ecr-image-action-push.json"}, &out, &errOut); err != nil {
		t.Fatalf("invoke: %v\n%s", err, errOut.String())
	}
	var res struct {
		Received struct {
			Source string `json:"source"`
		} `json:"received"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Received.Source != "aws.ecr" {
		t.Errorf("printed %s (%v), want the function's result", out.String(), err)
	}

	out.Reset()
	err := run(context.Background(), []string{"invoke", "--event", "../../events/ec2-instance-terminate-lifecycle-action.json", prefix + "FailingFunction"}, &out, &errOut)
	if !errors.Is(err, errFunction) || errOut.String() != "InvalidInputError: invalid input: no instance in the event\n" || out.Len() != 0 {
		t.Errorf("a function error: %v, stderr %q, stdout %q", err, errOut.String(), out.String())
	}

	errOut.Reset()
	if err := run(context.Background(), []string{"invoke", prefix + "NoSuchFunction"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("an unknown function: %v", err)
	}

	// --json: the answer on one line, the typed error too, exit 1.
	jsonOut, jsonErr, code := cli(t, "invoke", "--json", "--event", "../../events/ec2-instance-terminate-lifecycle-action.json", prefix+"FailingFunction")
	var typed struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal([]byte(jsonOut), &typed); err != nil || typed.ErrorType != "InvalidInputError" || code != exitFailure || strings.Count(jsonOut, "\n") != 1 {
		t.Errorf("invoke --json of a failing function: exit %d, stdout %q (%v), stderr %q", code, jsonOut, err, jsonErr)
	}
	jsonOut, _, code = cli(t, "invoke", "--json", prefix+"EchoFunction", "--event", "../../events/ecr-image-action-push.json")
	if err := json.Unmarshal([]byte(jsonOut), &res); err != nil || res.Received.Source != "aws.ecr" || code != exitOK || strings.Count(jsonOut, "\n") != 1 {
		t.Errorf("invoke --json: exit %d, %q (%v)", code, jsonOut, err)
	}
}
