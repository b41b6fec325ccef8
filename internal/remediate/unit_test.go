package remediate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// TestNamesAreTheLayers holds the names remediation reads to the layers'.
func TestNamesAreTheLayers(t *testing.T) {
	spec := stack.Defaults("web-dev")
	for _, c := range []struct{ got, want string }{
		{groupName(spec.Name), compute.GroupName(spec)},
		{clusterName(spec.Name), service.ClusterName(spec)},
		{serviceName(spec.Name), service.Name(spec)},
		{loadBalancerName(spec.Name), ingress.LoadBalancerName(spec)},
		{alarmName(spec.Name, alarmCPU), service.AlarmName(spec, service.AlarmCPU)},
		{alarmName(spec.Name, alarmMemory), service.AlarmName(spec, service.AlarmMemory)},
		{alarmName(spec.Name, alarmCapacity), service.AlarmName(spec, service.AlarmCapacity)},
	} {
		if c.got != c.want {
			t.Errorf("remediation reads %q, the layer names it %q", c.got, c.want)
		}
	}
	if strings.Join(zoneAlarmComponents, ",") != strings.Join(service.ZoneAlarms, ",") {
		t.Errorf("zone alarms %v, the service layer's %v", zoneAlarmComponents, service.ZoneAlarms)
	}
	for _, c := range service.ZoneAlarms {
		name := service.ZoneAlarmName(spec, c, "us-east-1a")
		if got, zone, ok := zoneAlarm(spec.Name, name); !ok || got != c || zone != "us-east-1a" {
			t.Errorf("zoneAlarm(%s) = %s %s %v", name, got, zone, ok)
		}
	}
	for _, name := range service.DeploymentAlarms(spec) {
		if Watches(spec.Name, name, "ALARM", "OK") {
			t.Errorf("deployment alarm %s is the rollout's, but remediation watches it", name)
		}
	}
}

// TestWatches: the rule's pattern, as Watches reads it.
func TestWatches(t *testing.T) {
	for _, c := range []struct {
		name, state, prev string
		want              bool
	}{
		{"web-dev-unhealthy-hosts-us-east-1a", "ALARM", "OK", true},
		{"web-dev-elb-5xx-us-east-1b", "ALARM", "INSUFFICIENT_DATA", true},
		{"web-dev-cpu-high", "ALARM", "OK", true},
		{"web-dev-capacity", "OK", "ALARM", true},
		{"web-dev-target-5xx-us-east-1a", "OK", "OK", false},
		{"web-dev-target-5xx-us-east-1a", "OK", "INSUFFICIENT_DATA", false},
		{"web-dev-target-5xx-us-east-1a", "INSUFFICIENT_DATA", "ALARM", false},
		{"web-dev-target-5xx", "ALARM", "OK", false},
		{"web-dev-cpu-high-2", "ALARM", "OK", false},
		{"batch-unhealthy-hosts-us-east-1a", "ALARM", "OK", false},
	} {
		if got := Watches("web-dev", c.name, c.state, c.prev); got != c.want {
			t.Errorf("Watches(%s %s → %s) = %v, want %v", c.name, c.prev, c.state, got, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Cooldown: time.Minute, PhaseDeadline: time.Minute, RestoreOKPeriods: 1, ShiftExpiry: time.Hour}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{ShiftExpiry: 73 * time.Hour, MaxCountCeiling: -1}
	err := bad.Validate()
	for _, want := range []string{"COOLDOWN", "RESTORE_OK_PERIODS", "SHIFT_EXPIRY", "MAX_COUNT_CEILING"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

// recorder notes calls, from the decide's concurrent reads too.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) note(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, op)
}

func (r *recorder) made() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// refusing answers the first call each op makes with an error and notes
// it; any other call panics on the nil interface it embeds.
type refusing struct {
	AutoScalingAPI
	calls *recorder
}

func (r refusing) DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	r.calls.note("DescribeAutoScalingGroups")
	return nil, errors.New("no AWS here")
}

type refusingTable struct {
	ledger.DynamoDBAPI
	calls *recorder
}

func (r refusingTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.calls.note("GetItem")
	return nil, errors.New("no AWS here")
}

func (r refusingTable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.calls.note("PutItem")
	return nil, errors.New("no AWS here")
}

func (r refusingTable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.calls.note("UpdateItem")
	return nil, errors.New("no AWS here")
}

func newRefusingHandler() (*Handler, *recorder) {
	calls := &recorder{}
	return &Handler{
		Clients: Clients{AutoScaling: refusing{calls: calls}}, Ledger: ledger.New(refusingTable{calls: calls}, "t"), Stack: "web-dev",
		Config: Config{Cooldown: time.Minute, PhaseDeadline: time.Minute, RestoreOKPeriods: 1, ShiftExpiry: time.Hour},
	}, calls
}

func sample(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRequestsRefusedBeforeAnyCall: malformed requests and events, and
// another stack's alarm, get an InvalidInputError and call nothing.
func TestRequestsRefusedBeforeAnyCall(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"not JSON", `{"op": "decide", `, "not valid JSON"},
		{"unknown op", `{"op": "evacuate"}`, `op "evacuate" is not one of`},
		{"check without a run", `{"op": "check"}`, "check needs the run"},
		{"record with nothing", `{"op": "record"}`, "record needs the run"},
		{"decide without an event", `{"op": "decide", "executionArn": "x"}`, "invalid input"},
		{"another stack's alarm", string(sample(t, "remediate-decide-other-stack.json")), "not one of stack web-dev's alarms"},
		{"another detail-type", `{"op": "decide", "executionArn": "x", "event": {"version": "0", "id": "1", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "account": "1", "time": "2025-01-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}}`, "invalid input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, calls := newRefusingHandler()
			_, err := h.Handle(context.Background(), []byte(tc.raw))
			var inv *handlererr.InvalidInputError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Handle = %v, want an InvalidInputError saying %q", err, tc.want)
			}
			if made := calls.made(); len(made) > 0 {
				t.Errorf("refused request made calls %v", made)
			}
		})
	}
}

// FuzzHandle: whatever the request, the handler returns a typed error or
// an answer, never panics, and makes no call for a request it refuses.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"remediate-decide-zone.json", "remediate-decide-other-stack.json", "remediate-record-refused.json"} {
		f.Add(sample(f, name))
	}
	f.Add([]byte(`{"op": "check", "run": {"decision": {"executionArn": "x"}, "evacuation": {"zone": "a"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, calls := newRefusingHandler()
		_, err := h.Handle(context.Background(), raw)
		var inv *handlererr.InvalidInputError
		if made := calls.made(); errors.As(err, &inv) && len(made) > 0 {
			t.Errorf("refused %q after calls %v", raw, made)
		}
	})
}

// TestSurplus: the restore takes the group back from the zones holding the
// most instances, empty instances first, never a zone's last, and leaves
// instances that are not InService alone.
func TestSurplus(t *testing.T) {
	inst := func(id, zone string, st astypes.LifecycleState) astypes.Instance {
		return astypes.Instance{InstanceId: aws.String(id), AvailabilityZone: aws.String(zone), LifecycleState: st}
	}
	in := astypes.LifecycleStateInService
	zones := []string{"us-east-1a", "us-east-1b"}
	f := &fleet{instances: []containerInstance{
		{ec2ID: "a1", free: 0, size: 1}, {ec2ID: "a2", free: 1, size: 1},
		{ec2ID: "b1", free: 0, size: 1}, {ec2ID: "b2", free: 1, size: 1}, {ec2ID: "b3", free: 0, size: 1},
	}}
	for _, tc := range []struct {
		name      string
		instances []astypes.Instance
		desired   int32
		want      int32
		out       []string
	}{
		{"the fuller zone's empty instance", []astypes.Instance{inst("a1", zones[0], in), inst("b1", zones[1], in), inst("b2", zones[1], in)}, 3, 2, []string{"b2"}},
		{"busy instances when no empty one is left", []astypes.Instance{inst("a1", zones[0], in), inst("b1", zones[1], in), inst("b3", zones[1], in)}, 3, 2, []string{"b1"}},
		{"one from each zone", []astypes.Instance{inst("a1", zones[0], in), inst("a2", zones[0], in), inst("b2", zones[1], in), inst("b1", zones[1], in)}, 4, 2, []string{"a2", "b2"}},
		{"never a zone's last", []astypes.Instance{inst("a1", zones[0], in), inst("b1", zones[1], in)}, 3, 1, nil},
		{"only InService instances", []astypes.Instance{inst("a1", zones[0], in), inst("b1", zones[1], in), inst("b2", zones[1], astypes.LifecycleStatePending)}, 3, 2, nil},
		{"nothing above want", []astypes.Instance{inst("a1", zones[0], in), inst("b1", zones[1], in), inst("b2", zones[1], in)}, 2, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := groupView{zones: zones, desired: tc.desired, instances: tc.instances}
			var got []string
			for _, i := range surplus(g, f, tc.want) {
				got = append(got, aws.ToString(i.InstanceId))
			}
			if !slices.Equal(got, tc.out) {
				t.Errorf("surplus %v, want %v", got, tc.out)
			}
		})
	}
}
