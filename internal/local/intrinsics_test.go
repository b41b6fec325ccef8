package local_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/local"
)

const intrinsicsTemplate = `
Parameters:
  ServiceName: {Type: String, Default: web}
  Environment: {Type: String, Default: dev}
  Alarms: {Type: CommaDelimitedList, Default: "a,b"}
  NoAlarms: {Type: CommaDelimitedList, Default: ""}
Conditions:
  IsProd: !Equals [!Ref Environment, prod]
  NotProd: !Not [!Condition IsProd]
Resources:
  Fn:
    Type: AWS::Serverless::Function
  Named:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${ServiceName}-named
  Machine:
    Type: AWS::Serverless::StateMachine
  Topic:
    Type: AWS::SNS::Topic
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${Fn}
  Values:
    Type: Custom::Values
    Properties:
      ref_param: !Ref ServiceName
      ref_pseudo: !Sub ${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${ServiceName}
      ref_fn: !Ref Fn
      ref_named: !Ref Named
      ref_machine: !Ref Machine
      ref_topic: {Ref: Topic}
      ref_group: !Ref Group
      getatt_short: !GetAtt Fn.Arn
      getatt_long: {"Fn::GetAtt": [Machine, Name]}
      sub_vars: !Sub ["${A}-${B}-${!Literal}", {A: !Ref ServiceName, B: x}]
      sub_getatt: !Sub "${Fn.Arn}:live"
      join: !Join [",", [a, !Ref Environment, "3"]]
      select: !Select [1, [a, b, c]]
      if: !If [IsProd, big, small]
      cond: !If [NotProd, yes, no]
      novalue: !If [IsProd, x, !Ref AWS::NoValue]
      number: 15
      list: [1, !Ref Environment]
      comma_list: !Ref Alarms
      comma_join: !Join ["+", !Ref Alarms]
      comma_empty: !Join ["", !Ref NoAlarms]
`

func TestResolver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(intrinsicsTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl, err := local.LoadTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	names := local.NewNames(tmpl, local.Pseudo{AccountID: "111122223333", Region: "eu-west-1", StackName: "s"}, map[string]string{"Environment": "dev"}, "p-", nil)
	var props map[string]any
	_, node, err := tmpl.Resource("Values")
	if err != nil {
		t.Fatal(err)
	}
	v, err := names.Resolver().Value(node)
	if err != nil {
		t.Fatal(err)
	}
	props = v.(map[string]any)
	want := map[string]any{
		"ref_param":    "web",
		"ref_pseudo":   "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web",
		"ref_fn":       "p-Fn",
		"ref_named":    "web-named",
		"ref_machine":  "arn:aws:states:eu-west-1:111122223333:stateMachine:p-Machine",
		"ref_topic":    "arn:aws:sns:eu-west-1:111122223333:p-Topic",
		"ref_group":    "/aws/lambda/p-Fn",
		"getatt_short": "arn:aws:lambda:eu-west-1:111122223333:function:p-Fn",
		"getatt_long":  "p-Machine",
		"sub_vars":     "web-x-${Literal}",
		"sub_getatt":   "arn:aws:lambda:eu-west-1:111122223333:function:p-Fn:live",
		"join":         "a,dev,3",
		"select":       "b",
		"if":           "small",
		"cond":         "yes",
		"number":       15,
		"list":         []any{1, "dev"},
		"comma_list":   []any{"a", "b"},
		"comma_join":   "a+b",
		"comma_empty":  "",
	}
	if !reflect.DeepEqual(props, want) {
		for k := range want {
			if !reflect.DeepEqual(props[k], want[k]) {
				t.Errorf("%s = %#v, want %#v", k, props[k], want[k])
			}
		}
		if _, ok := props["novalue"]; ok {
			t.Error("AWS::NoValue left the property in place")
		}
	}

	for _, bad := range []struct{ yaml, want string }{
		{"x: !FindInMap [M, a, b]", "!FindInMap is not supported"},
		{"x: !Ref Nowhere", "no such parameter or resource"},
		{"x: !GetAtt Fn.Dns", "does not resolve that attribute"},
		{"x: !Sub ${Nowhere}", "${Nowhere}"},
	} {
		p := filepath.Join(t.TempDir(), "bad.yaml")
		doc := strings.Replace(intrinsicsTemplate, "      number: 15\n", "      "+bad.yaml+"\n", 1)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		bt, err := local.LoadTemplate(p)
		if err != nil {
			t.Fatal(err)
		}
		_, n, _ := bt.Resource("Values")
		_, err = local.NewNames(bt, local.Pseudo{AccountID: "1", Region: "r"}, nil, "", nil).Resolver().Value(n)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one containing %q", bad.yaml, err, bad.want)
		}
	}
}

// TestTestTemplateModel reads the test template's functions, state machine
// and rules as SAM would generate them.
func TestTestTemplateModel(t *testing.T) {
	tmpl, err := local.LoadTemplate(testTemplate)
	if err != nil {
		t.Fatal(err)
	}
	names := local.NewNames(tmpl, local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: "s"}, nil, "", nil)
	fns, err := tmpl.Functions(names)
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 2 || fns[0].Environment["TABLE_NAME"] != "LedgerTable" || fns[0].Environment["TOPIC_ARN"] != "arn:aws:sns:us-east-1:123456789012:OutcomeTopic" || fns[0].AsyncRetries != 2 {
		t.Errorf("echo function = %+v", fns[0])
	}
	if f := fns[1]; f.AsyncRetries != 1 || f.OnFailure != "arn:aws:sqs:us-east-1:123456789012:FunctionFailures" || f.OnFailureRecord {
		t.Errorf("failing function = %+v", f)
	}
	rules, err := tmpl.Rules(names)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]local.Target{}
	for _, r := range rules {
		got[r.LogicalID] = r.Targets[0]
	}
	want := map[string]local.Target{
		"RolloutSucceededRule": {ID: "Echo", ARN: "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction",
			MaximumRetryAttempts: 185, MaximumEventAgeSec: 86400, DeadLetterARN: "arn:aws:sqs:us-east-1:123456789012:StatusDeadLetters"},
		"EchoFunctionOnAlarm": {ID: "EchoFunctionOnAlarmLambdaTarget", ARN: "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction", InputPath: "$.detail",
			MaximumRetryAttempts: 2, MaximumEventAgeSec: 60, DeadLetterARN: "arn:aws:sqs:us-east-1:123456789012:EchoFunctionOnAlarmQueue"},
		"FailingFunctionOnTerminate": {ID: "FailingFunctionOnTerminateLambdaTarget", ARN: "arn:aws:lambda:us-east-1:123456789012:function:FailingFunction",
			MaximumRetryAttempts: 185, MaximumEventAgeSec: 86400},
		"RolloutStateMachineOnPush": {ID: "RolloutStateMachineOnPushStepFunctionsTarget", ARN: "arn:aws:states:us-east-1:123456789012:stateMachine:RolloutStateMachine",
			MaximumRetryAttempts: 185, MaximumEventAgeSec: 86400, DeadLetterARN: "arn:aws:sqs:us-east-1:123456789012:PushDeadLetters",
			InputTransformer: &local.InputTransformer{
				InputPathsMap: map[string]string{"repository": "$.detail.repository-name", "digest": "$.detail.image-digest", "tag": "$.detail.image-tag"},
				InputTemplate: `{"service": "<repository>", "digest": "<digest>", "tag": "<tag>"}`,
			}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}
	if got := tmpl.Queues(); !reflect.DeepEqual(got, []string{"FunctionFailures", "StatusDeadLetters", "EchoFunctionOnAlarmQueue", "PushDeadLetters"}) {
		t.Errorf("queues = %v", got)
	}
}
