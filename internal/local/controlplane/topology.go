package controlplane

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// PrintTopology writes, per Availability Zone, the stack's subnets, NAT
// gateway, instances, running tasks and healthy targets, then the load
// balancer's DNS name, all read through the layers' own functions.
func PrintTopology(ctx context.Context, c build.Clients, o *stack.Outputs, w io.Writer) error {
	if o.Network == nil || o.Compute == nil || o.Ingress == nil || o.Service == nil {
		return fmt.Errorf("the stack is not fully built")
	}
	n := o.Network
	nats, err := network.NATGateways(ctx, c.Network, n)
	if err != nil {
		return err
	}
	natZone := map[string]string{}
	for i, id := range n.PublicSubnetIDs {
		for _, g := range nats {
			if aws.ToString(g.SubnetId) == id {
				natZone[n.AZs[i]] = fmt.Sprintf("%s (%s)", aws.ToString(g.NatGatewayId), g.State)
			}
		}
	}
	members, _, err := compute.GroupInstances(ctx, c.Compute, o.Compute)
	if err != nil {
		return err
	}
	instances := map[string][]string{}
	for _, i := range members {
		az := aws.ToString(i.AvailabilityZone)
		instances[az] = append(instances[az], fmt.Sprintf("%s %s", aws.ToString(i.InstanceId), i.LifecycleState))
	}
	all, err := service.Tasks(ctx, c.Service, o.Service.ClusterName, o.Service.ServiceName)
	if err != nil {
		return err
	}
	tasks := map[string][]string{}
	for _, t := range all {
		az, id := aws.ToString(t.AvailabilityZone), aws.ToString(t.TaskArn)
		tasks[az] = append(tasks[az], fmt.Sprintf("%s %s", id[strings.LastIndex(id, "/")+1:], aws.ToString(t.LastStatus)))
	}
	healthy, err := service.HealthyTargets(ctx, c.Service, o.Ingress.TargetGroupARN, all)
	if err != nil {
		return err
	}
	for i, az := range n.AZs {
		fmt.Fprintf(w, "    %s\n", az)
		fmt.Fprintf(w, "      public subnet   %s\n      private subnet  %s\n      NAT gateway     %s\n", n.PublicSubnetIDs[i], n.PrivateSubnetIDs[i], natZone[az])
		fmt.Fprintf(w, "      instances       %s\n", strings.Join(instances[az], ", "))
		fmt.Fprintf(w, "      tasks           %s\n", strings.Join(tasks[az], ", "))
		fmt.Fprintf(w, "      healthy targets %d\n", healthy[az])
	}
	fmt.Fprintf(w, "    load balancer DNS name: %s\n", o.Ingress.DNSName)
	return nil
}
