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
func Destroy(ctx context.Context, api EC2API, run *stack.Run) error {
	inv, err := find(ctx, api, run.Spec)
	if err != nil {
		return err
	}
	deleting := 0
	for _, c := range stack.SortedKeys(inv.nats) {
		nat := inv.nats[c]
		id := aws.ToString(nat.NatGatewayId)
		if nat.State == types.NatGatewayStateDeleting {
			deleting++
			continue
		}
		if _, err := run.Do(ctx, change(stack.Delete, "ec2:nat-gateway", c, id, ""), func(ctx context.Context) (string, error) {
			_, err := api.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(id)})
			return id, ignoreNotFound(err)
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
		if err := del(ctx, run, "ec2:elastic-ip", c, id, func(ctx context.Context) error {
			_, err := api.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, c := range stack.SortedKeys(inv.rts) {
		rt := inv.rts[c]
		id := aws.ToString(rt.RouteTableId)
		if err := del(ctx, run, "ec2:route-table", c, id, func(ctx context.Context) error {
			for _, a := range rt.Associations {
				if aws.ToBool(a.Main) {
					continue
				}
				if _, err := api.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: a.RouteTableAssociationId}); ignoreNotFound(err) != nil {
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
		if err := del(ctx, run, "ec2:subnet", c, id, func(ctx context.Context) error {
			_, err := api.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, c := range stack.SortedKeys(inv.igws) {
		igw := inv.igws[c]
		id := aws.ToString(igw.InternetGatewayId)
		if err := del(ctx, run, "ec2:internet-gateway", c, id, func(ctx context.Context) error {
			for _, a := range igw.Attachments {
				if _, err := api.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: a.VpcId}); ignoreNotFound(err) != nil {
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
		if err := del(ctx, run, "ec2:vpc", c, id, func(ctx context.Context) error {
			_, err := api.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// del records and makes one delete, treating not-found as done and turning
// DependencyViolation into a RetryableError for the caller's bounded retry.
func del(ctx context.Context, run *stack.Run, resource, component, id string, fn func(context.Context) error) error {
	_, err := run.Do(ctx, change(stack.Delete, resource, component, id, ""), func(ctx context.Context) (string, error) {
		return id, ignoreNotFound(fn(ctx))
	})
	return Retryable(err)
}

// Retryable wraps a DependencyViolation as a RetryableError: teardown
// ordering is right, but AWS releases dependants (ENIs, mappings) some time
// after their owner is deleted.
func Retryable(err error) error {
	if err != nil && awserr.IsDependencyViolation(err) {
		return &handlererr.RetryableError{Msg: "waiting for dependants to go", Err: err}
	}
	return err
}

func ignoreNotFound(err error) error {
	if awserr.IsNotFound(err) {
		return nil
	}
	return err
}
