package network

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func testSpec() stack.Spec {
	s := stack.Defaults("net")
	s.Service.ImageRepository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
	return s
}

func newClient(t *testing.T) (*ec2.Client, *awsclient.Calls) {
	env := awstest.Moto(t)
	calls := awsclient.NewCalls()
	cfg := env.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
	return ec2.NewFromConfig(cfg), calls
}

func TestReconcileConvergesAndRepairsDrift(t *testing.T) {
	ctx := context.Background()
	api, calls := newClient(t)
	spec := testSpec()

	plan := stack.NewRun(spec, true, "t", nil)
	if _, err := Reconcile(ctx, Clients{EC2: api}, plan, Inputs{}); err != nil {
		t.Fatal(err)
	}
	// vpc, igw, 4 subnets, 2 EIPs, 2 NATs, 3 route tables, 3 routes, 4 associations.
	if got := plan.Plan().Count(stack.Create); got != 20 {
		t.Errorf("plan on an empty account: %d creates, want 20:\n%s", got, plan.Plan())
	}
	if n := awsclient.Total(calls.Mutations()); n != 0 {
		t.Fatalf("a dry run made %d mutating calls: %v", n, calls.Mutations())
	}

	out, err := Reconcile(ctx, Clients{EC2: api}, stack.NewRun(spec, false, "t", nil), Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AZs) != 2 || out.AZs[0] == out.AZs[1] {
		t.Fatalf("AZs = %v, want two distinct zones", out.AZs)
	}

	calls.Reset()
	again := stack.NewRun(spec, false, "t2", nil)
	out2, err := Reconcile(ctx, Clients{EC2: api}, again, Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if n := awsclient.Total(calls.Mutations()); n != 0 || len(again.Plan().Changes) != 0 {
		t.Fatalf("second apply made %d mutating calls %v, changes:\n%s", n, calls.Mutations(), again.Plan())
	}
	if out2.VPCID != out.VPCID || out2.NATGatewayIDs[1] != out.NATGatewayIDs[1] {
		t.Fatalf("second apply returned other IDs: %+v vs %+v", out2, out)
	}

	// Drift: the zone-2 private default route is deleted by hand.
	if _, err := api.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(out.PrivateRouteTableIDs[1]), DestinationCidrBlock: aws.String(DefaultRoute)}); err != nil {
		t.Fatal(err)
	}
	drift := stack.NewRun(spec, true, "t3", nil)
	if _, err := Reconcile(ctx, Clients{EC2: api}, drift, Inputs{}); err != nil {
		t.Fatal(err)
	}
	p := drift.Plan()
	if len(p.Changes) != 1 || p.Changes[0].Action != stack.Create || p.Changes[0].Resource != "ec2:route" || !strings.Contains(p.Changes[0].Name, PrivateRouteTable(1)) {
		t.Fatalf("plan after a deleted route:\n%s", p)
	}
	if _, err := Reconcile(ctx, Clients{EC2: api}, stack.NewRun(spec, false, "t3", nil), Inputs{}); err != nil {
		t.Fatal(err)
	}
	rts, err := api.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{out.PrivateRouteTableIDs[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasRoute(rts.RouteTables[0], out.NATGatewayIDs[1]) {
		t.Fatalf("route via %s not repaired: %+v", out.NATGatewayIDs[1], rts.RouteTables[0].Routes)
	}

	destroyAll(t, api, spec)
	left, err := find(ctx, api, spec)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(left.vpcs) + len(left.subnets) + len(left.igws) + len(left.eips) + len(left.rts); n != 0 {
		t.Fatalf("%d tagged resources left after destroy: %+v", n, left)
	}
}

func hasRoute(rt types.RouteTable, natID string) bool {
	for _, r := range rt.Routes {
		if aws.ToString(r.DestinationCidrBlock) == DefaultRoute && aws.ToString(r.NatGatewayId) == natID {
			return true
		}
	}
	return false
}

func destroyAll(t *testing.T, api EC2API, spec stack.Spec) {
	t.Helper()
	for range 10 {
		err := Destroy(context.Background(), Clients{EC2: api}, stack.NewRun(spec, false, "d", nil))
		var notReady *handlererr.NotReadyError
		if errors.As(err, &notReady) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("destroy did not finish in 10 rounds")
}

// TestUnwantedZonesArePruned is the pure half of the prune: a stack that
// spanned three zones and now wants two keeps the first two zones'
// components and lets go of every zone-3 one.
func TestUnwantedZonesArePruned(t *testing.T) {
	inv := &inventory{subnets: map[string]types.Subnet{}, eips: map[string]types.Address{}, nats: map[string]types.NatGateway{},
		rts: map[string]types.RouteTable{compPublicRT: {}}, vpcs: map[string]types.Vpc{compVPC: {}}, igws: map[string]types.InternetGateway{compIGW: {}}}
	for i := range 3 {
		inv.subnets[PublicSubnet(i)], inv.subnets[PrivateSubnet(i)] = types.Subnet{}, types.Subnet{}
		inv.eips[EIP(i)], inv.nats[NAT(i)], inv.rts[PrivateRouteTable(i)] = types.Address{}, types.NatGateway{}, types.RouteTable{}
	}
	u := inv.unwanted(wanted(2))
	got := []string{}
	for _, m := range []map[string]bool{keys(u.vpcs), keys(u.igws), keys(u.subnets), keys(u.eips), keys(u.nats), keys(u.rts)} {
		got = append(got, stack.SortedKeys(m)...)
	}
	want := []string{"private-subnet-3", "public-subnet-3", "eip-3", "nat-3", "private-rt-3"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("unwanted = %v, want %v", got, want)
	}
	if u := inv.unwanted(wanted(3)); len(u.subnets)+len(u.nats)+len(u.rts)+len(u.eips)+len(u.vpcs)+len(u.igws) != 0 {
		t.Fatalf("a three-zone stack wants all of its resources, got %+v", u)
	}
}

func keys[T any](m map[string]T) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func TestPickZonesKeepsExistingSubnetsWhereTheyAre(t *testing.T) {
	inv := &inventory{subnets: map[string]types.Subnet{PrivateSubnet(1): {AvailabilityZone: aws.String("us-east-1a")}}}
	got := pickZones(2, []string{"us-east-1a", "us-east-1b", "us-east-1c"}, inv)
	if strings.Join(got, ",") != "us-east-1b,us-east-1a" {
		t.Fatalf("zones = %v, want zone 2 to stay in us-east-1a and zone 1 to take the next free one", got)
	}
	if got := pickZones(3, []string{"us-east-1a"}, &inventory{}); got[1] != "" {
		t.Fatalf("zones = %v, want the missing ones empty", got)
	}
}

// twice sends each call that is not idempotent on EC2's side twice, and
// answers with the second: what the SDK does when the answer to a call
// that went through is lost (a reset connection, a slow server) and it
// retries.
type twice struct{ *ec2.Client }

func (c twice) AttachInternetGateway(ctx context.Context, in *ec2.AttachInternetGatewayInput, optFns ...func(*ec2.Options)) (*ec2.AttachInternetGatewayOutput, error) {
	if _, err := c.Client.AttachInternetGateway(ctx, in, optFns...); err != nil {
		return nil, err
	}
	return c.Client.AttachInternetGateway(ctx, in, optFns...)
}

func (c twice) CreateRoute(ctx context.Context, in *ec2.CreateRouteInput, optFns ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error) {
	if _, err := c.Client.CreateRoute(ctx, in, optFns...); err != nil {
		return nil, err
	}
	return c.Client.CreateRoute(ctx, in, optFns...)
}

func (c twice) AssociateRouteTable(ctx context.Context, in *ec2.AssociateRouteTableInput, optFns ...func(*ec2.Options)) (*ec2.AssociateRouteTableOutput, error) {
	if _, err := c.Client.AssociateRouteTable(ctx, in, optFns...); err != nil {
		return nil, err
	}
	return c.Client.AssociateRouteTable(ctx, in, optFns...)
}

// TestRetriedCallsThatWentThrough: an attachment, a route or a route
// table's association that a retried call finds already made is the one wanted, and the build goes
// on; a second apply then changes nothing.
func TestRetriedCallsThatWentThrough(t *testing.T) {
	ctx := context.Background()
	api, calls := newClient(t)
	spec := testSpec()
	if _, err := Reconcile(ctx, Clients{EC2: twice{api}}, stack.NewRun(spec, false, "t", nil), Inputs{}); err != nil {
		t.Fatal(err)
	}
	if n := calls.Mutations()["EC2:AttachInternetGateway"]; n != 2 {
		t.Errorf("%d AttachInternetGateway calls, want the two of one retried attach", n)
	}
	calls.Reset()
	again := stack.NewRun(spec, false, "t2", nil)
	if _, err := Reconcile(ctx, Clients{EC2: api}, again, Inputs{}); err != nil {
		t.Fatal(err)
	}
	if n := awsclient.Total(calls.Mutations()); n != 0 || len(again.Plan().Changes) != 0 {
		t.Fatalf("the apply after made %d mutating calls %v, changes:\n%s", n, calls.Mutations(), again.Plan())
	}
}
