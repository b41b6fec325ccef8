package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// env is a simulator with SDK clients on it.
type env struct {
	sim *sim.Sim
	ec2 *ec2.Client
	asg *autoscaling.Client
	ssm *ssm.Client
}

func newEnv(t testing.TB, opts sim.Options) *env {
	t.Helper()
	s := sim.New(opts)
	cfg := s.Config()
	return &env{sim: s, ec2: ec2.NewFromConfig(cfg), asg: autoscaling.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}
}

// network is a VPC with one subnet in each of two zones and a launch template
// on the ECS-optimized AMI.
type network struct {
	vpcID          string
	subnets        []string
	zones          []string
	launchTemplate string
}

func (e *env) network(t testing.TB) network {
	t.Helper()
	ctx := context.Background()
	vpc, err := e.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("CreateVpc: %v", err)
	}
	n := network{vpcID: aws.ToString(vpc.Vpc.VpcId)}
	for i, z := range e.sim.Zones()[:2] {
		sn, err := e.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: vpc.Vpc.VpcId, AvailabilityZone: aws.String(z), CidrBlock: aws.String([]string{"10.0.1.0/24", "10.0.2.0/24"}[i]),
		})
		if err != nil {
			t.Fatalf("CreateSubnet: %v", err)
		}
		n.subnets = append(n.subnets, aws.ToString(sn.Subnet.SubnetId))
		n.zones = append(n.zones, z)
	}
	ami, err := e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(sim.ECSAMIParameter)})
	if err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	lt, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("ecs-node"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{
			ImageId: ami.Parameter.Value, InstanceType: types.InstanceTypeT3Medium,
			MetadataOptions: &types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: types.LaunchTemplateHttpTokensStateRequired},
		},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate: %v", err)
	}
	n.launchTemplate = aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	return n
}

// group creates an Auto Scaling group over the network's subnets.
func (e *env) group(t testing.TB, n network, name string, desired int32, hooks ...astypes.LifecycleHookSpecification) {
	t.Helper()
	_, err := e.asg.CreateAutoScalingGroup(context.Background(), &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(10), DesiredCapacity: aws.Int32(desired),
		VPCZoneIdentifier:              aws.String(n.subnets[0] + "," + n.subnets[1]),
		LaunchTemplate:                 &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(n.launchTemplate), Version: aws.String("$Latest")},
		LifecycleHookSpecificationList: hooks,
	})
	if err != nil {
		t.Fatalf("CreateAutoScalingGroup: %v", err)
	}
}

func (e *env) describeGroup(t testing.TB, name string) astypes.AutoScalingGroup {
	t.Helper()
	out, err := e.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		t.Fatalf("DescribeAutoScalingGroups: %v", err)
	}
	if len(out.AutoScalingGroups) != 1 {
		t.Fatalf("DescribeAutoScalingGroups returned %d groups, want 1", len(out.AutoScalingGroups))
	}
	return out.AutoScalingGroups[0]
}

// inService counts a group's InService instances per zone.
func (e *env) inService(t testing.TB, name string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, i := range e.describeGroup(t, name).Instances {
		if i.LifecycleState == astypes.LifecycleStateInService {
			counts[aws.ToString(i.AvailabilityZone)]++
		}
	}
	return counts
}

// settled reports whether the group has exactly want InService instances per
// zone and nothing else.
func (e *env) settled(t testing.TB, name string, want map[string]int) bool {
	t.Helper()
	g := e.describeGroup(t, name)
	total := 0
	for _, n := range want {
		total += n
	}
	if len(g.Instances) != total {
		return false
	}
	got := e.inService(t, name)
	for z, n := range want {
		if got[z] != n {
			return false
		}
	}
	return true
}

// instanceState returns a group member's lifecycle state, or "" when it has
// left the group.
func (e *env) instanceState(t testing.TB, group, id string) astypes.LifecycleState {
	t.Helper()
	for _, i := range e.describeGroup(t, group).Instances {
		if aws.ToString(i.InstanceId) == id {
			return i.LifecycleState
		}
	}
	return ""
}

func (e *env) ec2State(t testing.TB, id string) types.InstanceStateName {
	t.Helper()
	out, err := e.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	return out.Reservations[0].Instances[0].State.Name
}

func errCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// advanceUntil runs the simulator until cond holds, failing the test after
// limit of virtual time.
func advanceUntil(t testing.TB, s *sim.Sim, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !s.RunUntil(cond, limit) {
		t.Fatalf("%s: not reached within %s of simulated time", what, limit)
	}
}

var (
	eventID   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	eventTime = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$`)
)

// variant names the kind of event a documented example shows: its detail
// type and, where the documentation shows several variants, the field that
// tells them apart.
func variant(detailType string, detail map[string]any) string {
	field := map[string]string{
		events.DetailTypeECSDeploymentStateChange: "eventName",
		events.DetailTypeECSServiceAction:         "eventName",
		events.DetailTypeECSTaskStateChange:       "lastStatus",
		events.DetailTypeInstanceStateChange:      "state",
		events.DetailTypeLaunchUnsuccessful:       "StatusCode",
	}[detailType]
	key := detailType
	if field != "" {
		key += "|" + fmt.Sprint(detail[field])
	}
	switch detailType {
	case events.DetailTypeAlarmStateChange:
		state, _ := detail["state"].(map[string]any)
		prev, _ := detail["previousState"].(map[string]any)
		key += "|" + fmt.Sprint(prev["value"]) + "->" + fmt.Sprint(state["value"])
	case events.DetailTypeECSDeploymentStateChange:
		if strings.Contains(fmt.Sprint(detail["reason"]), "rolling back") {
			key += "|rollback"
		}
	}
	return key
}

// forDocumentedExamples compares each documented example event in the files
// matching glob (exactly count of them) with the first emitted event of the
// same variant: the same envelope keys, source, EventBridge's ID and time
// formats. check then compares the details.
func forDocumentedExamples(t *testing.T, glob string, count int, emitted []sim.Event, check func(t *testing.T, got, want sim.Event, gotDetail, wantDetail map[string]any)) {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) != count {
		t.Fatalf("documented examples %s: %v %v, want %d", glob, files, err, count)
	}
	first := map[string]sim.Event{}
	for _, ev := range emitted {
		var d map[string]any
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if k := variant(ev.DetailType, d); first[k].ID == "" {
			first[k] = ev
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want sim.Event
			if err := json.Unmarshal(doc, &want); err != nil {
				t.Fatal(err)
			}
			var wantDetail map[string]any
			if err := json.Unmarshal(want.Detail, &wantDetail); err != nil {
				t.Fatal(err)
			}
			got, ok := first[variant(want.DetailType, wantDetail)]
			if !ok {
				t.Fatalf("the scenario emitted no %s event", variant(want.DetailType, wantDetail))
			}
			raw, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := keys(t, raw), keys(t, doc); strings.Join(g, ",") != strings.Join(w, ",") {
				t.Fatalf("envelope keys %v, documented %v", g, w)
			}
			gotTime, _ := json.Marshal(got.Time)
			if got.Source != want.Source || !eventID.MatchString(got.ID) || !eventTime.Match(gotTime) {
				t.Fatalf("envelope %s does not match the documented source %q or EventBridge's id and time formats", raw, want.Source)
			}
			var gotDetail map[string]any
			if err := json.Unmarshal(got.Detail, &gotDetail); err != nil {
				t.Fatal(err)
			}
			check(t, got, want, gotDetail, wantDetail)
		})
	}
}
