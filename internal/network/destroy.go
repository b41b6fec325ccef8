package network

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Destroy deletes the layer's resources in dependency order. Not-found
// counts as done, so it can run again after any partial failure. While NAT
// gateways are still deleting it returns a NotReadyError; a delete refused
// with DependencyViolation returns a RetryableError. Callers repeat Destroy
// until it returns nil, within their own bound.
func Destroy(ctx context.Context, c Clients, run *stack.Run) error {
	inv, err := find(ctx, c.EC2, run.Spec)
	if err != nil {
		return err
	}
	return deleteInventory(ctx, c.EC2, run, inv)
}

// deleteInventory deletes what inv holds, NAT gateways first: their
// addresses, routes and subnets cannot go while they exist.
func deleteInventory(ctx context.Context, api EC2API, run *stack.Run, inv *inventory) error {
	deleting := 0
	for _, c := range stack.SortedKeys(inv.nats) {
		nat := inv.nats[c]
		id := aws.ToString(nat.NatGatewayId)
		if nat.State == types.NatGatewayStateDeleting {
			deleting++
			continue
		}
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:nat-gateway", c, id, ""), func(ctx context.Context) error {
			_, err := api.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
		deleting++
	}
	if deleting > 0 && !run.DryRun {
		return &handlererr.NotReadyError{Msg: fmt.Sprintf("%d NAT gateways of stack %s are still deleting", deleting, run.Spec.Name)}
	}
	for _, c := range stack.SortedKeys(inv.eips) {
		id := aws.ToString(inv.eips[c].AllocationId)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:elastic-ip", c, id, ""), func(ctx context.Context) error {
			_, err := api.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, c := range stack.SortedKeys(inv.rts) {
		rt := inv.rts[c]
		id := aws.ToString(rt.RouteTableId)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:route-table", c, id, ""), func(ctx context.Context) error {
			for _, a := range rt.Associations {
				if aws.ToBool(a.Main) {
					continue
				}
				if _, err := api.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: a.RouteTableAssociationId}); awserr.IgnoreNotFound(err) != nil {
					return fmt.Errorf("disassociating %s: %w", aws.ToString(a.RouteTableAssociationId), err)
				}
			}
			_, err := api.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, c := range stack.SortedKeys(inv.subnets) {
		id := aws.ToString(inv.subnets[c].SubnetId)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:subnet", c, id, ""), func(ctx context.Context) error {
			_, err := api.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, c := range stack.SortedKeys(inv.igws) {
		igw := inv.igws[c]
		id := aws.ToString(igw.InternetGatewayId)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:internet-gateway", c, id, ""), func(ctx context.Context) error {
			for _, a := range igw.Attachments {
				if _, err := api.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: a.VpcId}); awserr.IgnoreNotFound(err) != nil {
					return fmt.Errorf("detaching from %s: %w", aws.ToString(a.VpcId), err)
				}
			}
			_, err := api.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, c := range stack.SortedKeys(inv.vpcs) {
		id := aws.ToString(inv.vpcs[c].VpcId)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:vpc", c, id, ""), func(ctx context.Context) error {
			_, err := api.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
