// Package security reconciles the stack's security groups and their rules,
// exactly as DESIGN.md §2 lists them: the load balancer's group takes HTTP
// from the internet, and HTTPS only when the stack has a certificate, and
// reaches only the tasks; the tasks' group admits only the load balancer, on
// the service port, and lets out only HTTPS and DNS to the VPC's resolver;
// the instances' group admits nothing. A group tagged for
// the stack that the layer does not want is deleted. IAM roles are template
// resources and not managed here.
package security

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Layer is the layer's name in plans.
const Layer = "security"

// Components of the layer.
const (
	ALB      = "alb-sg"
	Task     = "task-sg"
	Instance = "instance-sg"
)

// EC2API is the subset of the EC2 client the security layer uses.
type EC2API interface {
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2.AuthorizeSecurityGroupEgressInput, optFns ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error)
	RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupEgress(ctx context.Context, in *ec2.RevokeSecurityGroupEgressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error)
}

var _ EC2API = (*ec2.Client)(nil)

// Clients are the layer's AWS clients.
type Clients struct {
	EC2 EC2API
}

// NewClients builds the layer's clients from one configuration.
func NewClients(cfg aws.Config) Clients { return Clients{EC2: ec2.NewFromConfig(cfg)} }

// Inputs are the earlier layers' outputs the layer needs.
type Inputs struct {
	Network *stack.NetworkOutput
}

// groups are the layer's components, in the order they are made.
var groups = []string{ALB, Task, Instance}

// Rule is one security group rule in a comparable form. Protocol "-1" is
// all traffic, and its ports are zero.
type Rule struct {
	Egress   bool
	Protocol string
	From, To int32
	// Exactly one of CIDR and Group is set.
	CIDR  string
	Group string
}

// String renders the rule as "tcp/80 ingress from sg-…".
func (r Rule) String() string {
	dir, peer := "ingress from", r.CIDR
	if r.Egress {
		dir = "egress to"
	}
	if r.Group != "" {
		peer = r.Group
	}
	ports := "all traffic"
	if r.Protocol != "-1" {
		ports = r.Protocol + "/" + strconv.Itoa(int(r.From))
		if r.To != r.From {
			ports += "-" + strconv.Itoa(int(r.To))
		}
	}
	return fmt.Sprintf("%s %s %s", ports, dir, peer)
}

func (r Rule) permission() types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(r.Protocol)}
	if r.Protocol != "-1" {
		p.FromPort, p.ToPort = aws.Int32(r.From), aws.Int32(r.To)
	}
	if r.Group != "" {
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: aws.String(r.Group)}}
	} else {
		p.IpRanges = []types.IpRange{{CidrIp: aws.String(r.CIDR)}}
	}
	return p
}

// rules flattens a group's permissions into rules.
func rules(g types.SecurityGroup) []Rule {
	var out []Rule
	add := func(egress bool, perms []types.IpPermission) {
		for _, p := range perms {
			base := Rule{Egress: egress, Protocol: aws.ToString(p.IpProtocol)}
			if base.Protocol != "-1" {
				base.From, base.To = aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
			}
			for _, r := range p.IpRanges {
				x := base
				x.CIDR = aws.ToString(r.CidrIp)
				out = append(out, x)
			}
			for _, pair := range p.UserIdGroupPairs {
				x := base
				x.Group = aws.ToString(pair.GroupId)
				out = append(out, x)
			}
		}
	}
	add(false, g.IpPermissions)
	add(true, g.IpPermissionsEgress)
	return out
}

// allEgress is the rule AWS adds to every new group.
var allEgress = Rule{Egress: true, Protocol: "-1", CIDR: "0.0.0.0/0"}

// Desired returns each group's exact rules, given the groups' IDs. The
// load balancer's group opens 443 only when the stack serves HTTPS; 80
// stays open, to serve HTTP or to redirect it.
func Desired(spec stack.Spec, ids stack.SecurityOutput) map[string][]Rule {
	port := spec.Service.Port
	alb := []Rule{{Protocol: "tcp", From: 80, To: 80, CIDR: "0.0.0.0/0"}}
	if spec.HTTPS() {
		alb = append(alb, Rule{Protocol: "tcp", From: 443, To: 443, CIDR: "0.0.0.0/0"})
	}
	return map[string][]Rule{
		ALB: append(alb, Rule{Egress: true, Protocol: "tcp", From: port, To: port, Group: ids.TaskSecurityGroupID}),
		Task: {
			{Protocol: "tcp", From: port, To: port, Group: ids.ALBSecurityGroupID},
			// The app reaches HTTPS services through the NAT gateways and
			// resolves names with the VPC's resolver; nothing else leaves
			// a task. (The images are pulled and the logs shipped by the
			// container agent, through the instance's own interface.)
			{Egress: true, Protocol: "tcp", From: 443, To: 443, CIDR: "0.0.0.0/0"},
			{Egress: true, Protocol: "udp", From: 53, To: 53, CIDR: spec.Network.VPCCIDR},
			{Egress: true, Protocol: "tcp", From: 53, To: 53, CIDR: spec.Network.VPCCIDR},
		},
		Instance: {allEgress},
	}
}

var descriptions = map[string]string{
	ALB:      "load balancer: HTTP, and HTTPS with a certificate, from the internet",
	Task:     "service tasks: the service port from the load balancer only",
	Instance: "container instances: no inbound",
}

// find lists the stack's security groups by their tags, by component.
func find(ctx context.Context, api EC2API, spec stack.Spec) (map[string]types.SecurityGroup, error) {
	found := map[string]types.SecurityGroup{}
	p := ec2.NewDescribeSecurityGroupsPaginator(api, &ec2.DescribeSecurityGroupsInput{Filters: spec.EC2Filter()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing security groups: %w", err)
		}
		for _, g := range page.SecurityGroups {
			// The VPC's default group carries the stack's tags too; it is
			// the network layer's and goes with the VPC.
			if aws.ToString(g.GroupName) == "default" {
				continue
			}
			c := stack.EC2TagMap(g.Tags)[stack.TagComponent]
			if _, dup := found[c]; dup {
				return nil, &handlererr.ConflictError{Msg: fmt.Sprintf("two security groups are tagged as component %q of this stack", c)}
			}
			found[c] = g
		}
	}
	return found, nil
}

// Reconcile creates the groups, makes their rules exactly the desired
// ones, revoking any other rule, and deletes the groups tagged for the
// stack that are not among its components.
func Reconcile(ctx context.Context, c Clients, run *stack.Run, in Inputs) (*stack.SecurityOutput, error) {
	if in.Network == nil {
		return nil, stack.Missing(Layer, "network")
	}
	api, net := c.EC2, in.Network
	found, err := find(ctx, api, run.Spec)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	current := map[string][]Rule{}
	for _, c := range groups {
		g, ok := found[c]
		if ok {
			if aws.ToString(g.VpcId) != net.VPCID {
				return nil, handlererr.Invalid(fmt.Sprintf("security group %s (%s) is in %s, not in the stack's VPC %s", aws.ToString(g.GroupId), c, aws.ToString(g.VpcId), net.VPCID))
			}
			ids[c], current[c] = aws.ToString(g.GroupId), rules(g)
			continue
		}
		id, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:security-group", c, "", descriptions[c]),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
					GroupName: aws.String(run.Spec.ResourceName(c)), Description: aws.String(descriptions[c]),
					VpcId: aws.String(net.VPCID), TagSpecifications: run.Spec.EC2TagSpecifications(types.ResourceTypeSecurityGroup, c),
				})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.GroupId), nil
			})
		if err != nil {
			return nil, err
		}
		ids[c], current[c] = id, []Rule{allEgress}
	}
	out := &stack.SecurityOutput{ALBSecurityGroupID: ids[ALB], TaskSecurityGroupID: ids[Task], InstanceSecurityGroupID: ids[Instance]}
	desired := Desired(run.Spec, *out)
	for _, c := range groups {
		if err := reconcileRules(ctx, api, run, c, ids[c], current[c], desired[c]); err != nil {
			return nil, err
		}
	}
	return out, deleteGroups(ctx, api, run, unwanted(found))
}

// unwanted returns the found groups that are not the layer's components.
func unwanted(found map[string]types.SecurityGroup) map[string]types.SecurityGroup {
	out := map[string]types.SecurityGroup{}
	for c, g := range found {
		if !slices.Contains(groups, c) {
			out[c] = g
		}
	}
	return out
}

func reconcileRules(ctx context.Context, api EC2API, run *stack.Run, component, id string, have, want []Rule) error {
	for _, r := range want {
		if slices.Contains(have, r) {
			continue
		}
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:security-group-rule", component, id, r.String()),
			func(ctx context.Context) (string, error) { return id, authorize(ctx, api, id, r) }); err != nil {
			return err
		}
	}
	for _, r := range have {
		if slices.Contains(want, r) {
			continue
		}
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Delete, "ec2:security-group-rule", component, id, r.String()),
			func(ctx context.Context) (string, error) { return id, revoke(ctx, api, id, r) }); err != nil {
			return err
		}
	}
	return nil
}

func authorize(ctx context.Context, api EC2API, id string, r Rule) error {
	perms := []types.IpPermission{r.permission()}
	if r.Egress {
		_, err := api.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: perms})
		return err
	}
	_, err := api.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: perms})
	return err
}

func revoke(ctx context.Context, api EC2API, id string, r Rule) error {
	perms := []types.IpPermission{r.permission()}
	if r.Egress {
		_, err := api.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: perms})
		return err
	}
	_, err := api.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: perms})
	return err
}

// Destroy deletes the groups. Groups still used by network interfaces (the
// load balancer's or the tasks', released some time after their owners)
// give a RetryableError.
func Destroy(ctx context.Context, c Clients, run *stack.Run) error {
	found, err := find(ctx, c.EC2, run.Spec)
	if err != nil {
		return err
	}
	return deleteGroups(ctx, c.EC2, run, found)
}

// deleteGroups deletes the groups. Rules that reference another group are
// revoked first, since AWS refuses to delete a group another one refers
// to.
func deleteGroups(ctx context.Context, api EC2API, run *stack.Run, found map[string]types.SecurityGroup) error {
	for _, c := range stack.SortedKeys(found) {
		id := aws.ToString(found[c].GroupId)
		for _, r := range rules(found[c]) {
			if r.Group == "" {
				continue
			}
			if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:security-group-rule", c, id, r.String()),
				func(ctx context.Context) error { return revoke(ctx, api, id, r) }); err != nil {
				return err
			}
		}
	}
	for _, c := range stack.SortedKeys(found) {
		id := aws.ToString(found[c].GroupId)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:security-group", c, id, ""), func(ctx context.Context) error {
			_, err := api.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
