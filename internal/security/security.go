// Package security reconciles the stack's security groups and their rules,
// exactly as DESIGN.md §2 lists them: the load balancer's group takes HTTP
// and HTTPS from the internet and reaches only the tasks; the tasks' group
// admits only the load balancer, on the service port; the instances' group
// admits nothing. IAM roles are template resources and not managed here.
package security

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/network"
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

// Output is what the later layers need.
type Output struct {
	ALBSecurityGroupID      string `json:"albSecurityGroupId"`
	TaskSecurityGroupID     string `json:"taskSecurityGroupId"`
	InstanceSecurityGroupID string `json:"instanceSecurityGroupId"`
}

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

// Desired returns each group's exact rules, given the groups' IDs.
func Desired(spec stack.Spec, ids Output) map[string][]Rule {
	port := spec.Service.Port
	return map[string][]Rule{
		ALB: {
			{Protocol: "tcp", From: 80, To: 80, CIDR: "0.0.0.0/0"},
			{Protocol: "tcp", From: 443, To: 443, CIDR: "0.0.0.0/0"},
			{Egress: true, Protocol: "tcp", From: port, To: port, Group: ids.TaskSecurityGroupID},
		},
		Task: {
			{Protocol: "tcp", From: port, To: port, Group: ids.ALBSecurityGroupID},
			// Tasks pull images and call AWS APIs through the NAT gateways.
			allEgress,
		},
		Instance: {allEgress},
	}
}

var descriptions = map[string]string{
	ALB:      "load balancer: HTTP and HTTPS from the internet",
	Task:     "service tasks: the service port from the load balancer only",
	Instance: "container instances: no inbound",
}

func find(ctx context.Context, api EC2API, spec stack.Spec) (map[string]types.SecurityGroup, error) {
	groups := map[string]types.SecurityGroup{}
	p := ec2.NewDescribeSecurityGroupsPaginator(api, &ec2.DescribeSecurityGroupsInput{Filters: network.StackFilter(spec)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing security groups: %w", err)
		}
		for _, g := range page.SecurityGroups {
			c := network.Component(g.Tags)
			if _, dup := groups[c]; dup {
				return nil, &handlererr.ConflictError{Msg: fmt.Sprintf("two security groups are tagged as component %q of this stack", c)}
			}
			groups[c] = g
		}
	}
	return groups, nil
}

// Reconcile creates the groups and makes their rules exactly the desired
// ones, revoking any other rule.
func Reconcile(ctx context.Context, api EC2API, run *stack.Run, net *network.Output) (*Output, error) {
	groups, err := find(ctx, api, run.Spec)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	current := map[string][]Rule{}
	for _, c := range []string{ALB, Task, Instance} {
		g, ok := groups[c]
		if ok {
			if aws.ToString(g.VpcId) != net.VPCID {
				return nil, handlererr.Invalid(fmt.Sprintf("security group %s (%s) is in %s, not in the stack's VPC %s", aws.ToString(g.GroupId), c, aws.ToString(g.VpcId), net.VPCID))
			}
			ids[c], current[c] = aws.ToString(g.GroupId), rules(g)
			continue
		}
		id, err := run.Do(ctx, stack.Change{Action: stack.Create, Layer: Layer, Resource: "ec2:security-group", Name: c, Detail: descriptions[c]},
			func(ctx context.Context) (string, error) {
				out, err := api.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
					GroupName: aws.String(run.Spec.ResourceName(c)), Description: aws.String(descriptions[c]),
					VpcId: aws.String(net.VPCID), TagSpecifications: network.TagSpecifications(run.Spec, types.ResourceTypeSecurityGroup, c),
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
	out := &Output{ALBSecurityGroupID: ids[ALB], TaskSecurityGroupID: ids[Task], InstanceSecurityGroupID: ids[Instance]}
	desired := Desired(run.Spec, *out)
	for _, c := range []string{ALB, Task, Instance} {
		if err := reconcileRules(ctx, api, run, c, ids[c], current[c], desired[c]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func reconcileRules(ctx context.Context, api EC2API, run *stack.Run, component, id string, have, want []Rule) error {
	for _, r := range want {
		if slices.Contains(have, r) {
			continue
		}
		if _, err := run.Do(ctx, stack.Change{Action: stack.Create, Layer: Layer, Resource: "ec2:security-group-rule", Name: component, ID: id, Detail: r.String()},
			func(ctx context.Context) (string, error) { return id, authorize(ctx, api, id, r) }); err != nil {
			return err
		}
	}
	for _, r := range have {
		if slices.Contains(want, r) {
			continue
		}
		if _, err := run.Do(ctx, stack.Change{Action: stack.Delete, Layer: Layer, Resource: "ec2:security-group-rule", Name: component, ID: id, Detail: r.String()},
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

// Destroy deletes the groups. Rules that reference another group are
// revoked first, since AWS refuses to delete a group another one refers to.
// Groups still used by network interfaces (the load balancer's or the
// tasks', released some time after their owners) give a RetryableError.
func Destroy(ctx context.Context, api EC2API, run *stack.Run) error {
	groups, err := find(ctx, api, run.Spec)
	if err != nil {
		return err
	}
	for _, c := range stack.SortedKeys(groups) {
		id := aws.ToString(groups[c].GroupId)
		for _, r := range rules(groups[c]) {
			if r.Group == "" {
				continue
			}
			if _, err := run.Do(ctx, stack.Change{Action: stack.Delete, Layer: Layer, Resource: "ec2:security-group-rule", Name: c, ID: id, Detail: r.String()},
				func(ctx context.Context) (string, error) { return id, ignoreNotFound(revoke(ctx, api, id, r)) }); err != nil {
				return err
			}
		}
	}
	for _, c := range stack.SortedKeys(groups) {
		id := aws.ToString(groups[c].GroupId)
		_, err := run.Do(ctx, stack.Change{Action: stack.Delete, Layer: Layer, Resource: "ec2:security-group", Name: c, ID: id},
			func(ctx context.Context) (string, error) {
				_, err := api.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
				return id, ignoreNotFound(err)
			})
		if err = network.Retryable(err); err != nil {
			return err
		}
	}
	return nil
}

func ignoreNotFound(err error) error {
	if awserr.IsNotFound(err) {
		return nil
	}
	return err
}
