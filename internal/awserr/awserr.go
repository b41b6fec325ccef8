// Package awserr classifies errors returned by the AWS SDK by their API error
// codes, so callers decide on not-found, conflict and retry without string
// matching scattered through the code base.
package awserr

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Code returns the AWS API error code carried by err, or "" when err is not
// an API error.
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// Set is a group of API error codes that mean the same thing to the caller.
type Set map[string]struct{}

func newSet(codes ...string) Set {
	s := make(Set, len(codes))
	for _, c := range codes {
		s[c] = struct{}{}
	}
	return s
}

// Has reports whether err carries one of the set's codes.
func (s Set) Has(err error) bool {
	_, ok := s[Code(err)]
	return ok
}

var (
	// NotFound holds the codes AWS uses for a resource that does not exist.
	NotFound = newSet(
		"ResourceNotFoundException", "NotFoundException",
		"InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound",
		"InvalidRouteTableID.NotFound", "InvalidInternetGatewayID.NotFound",
		"InvalidAllocationID.NotFound", "NatGatewayNotFound", "InvalidNatGatewayID.NotFound",
		"InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.NotFound",
		"InvalidInstanceID.NotFound", "InvalidAssociationID.NotFound",
		"InvalidPermission.NotFound", "InvalidRoute.NotFound",
		"LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound",
		"ClusterNotFoundException", "ServiceNotFoundException",
		"ParameterNotFound", "ExecutionDoesNotExist", "StateMachineDoesNotExist",
		"ObjectNotFoundException", "NoSuchEntity", "RepositoryNotFoundException", "ImageNotFoundException",
	)
	// AccessDenied holds the codes for a call the caller's permissions do
	// not allow.
	AccessDenied = newSet("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
	// Conflict holds the codes for a write refused by a condition or by
	// concurrent state.
	Conflict = newSet(
		"ConditionalCheckFailedException", "TransactionCanceledException",
		"ResourceInUseException", "ScalingActivityInProgress",
	)
	// DependencyViolation holds the codes for a delete refused while
	// dependants exist.
	DependencyViolation = newSet(
		"DependencyViolation", "ResourceInUse",
		"ClusterContainsContainerInstancesException", "ClusterContainsServicesException",
		"ClusterContainsTasksException",
	)
	// AlreadyExists holds the codes for a create that collided with an
	// existing resource of the same identity: a subnet's CIDR, an
	// attachment or an association count as its identity.
	AlreadyExists = newSet(
		"AlreadyExists", "AlreadyExistsFault", "ResourceAlreadyExistsException",
		"InvalidGroup.Duplicate", "InvalidPermission.Duplicate", "RouteAlreadyExists",
		"InvalidSubnet.Conflict", "Resource.AlreadyAssociated",
		"DuplicateLoadBalancerName", "DuplicateTargetGroupName",
		"InvalidLaunchTemplateName.AlreadyExistsException", "StateMachineAlreadyExists",
	)
)

// IsNotFound reports whether err means the resource does not exist.
func IsNotFound(err error) bool { return NotFound.Has(err) }

// IgnoreNotFound returns nil when err means the resource does not exist,
// and err otherwise: for deletes, where not-found means done, and for
// lookups that may find nothing.
func IgnoreNotFound(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}

// IsAccessDenied reports whether err is a call the caller may not make.
func IsAccessDenied(err error) bool { return AccessDenied.Has(err) }

// IsConflict reports whether err is a refused conditional or concurrent write.
func IsConflict(err error) bool { return Conflict.Has(err) }

// IsDependencyViolation reports whether err is a delete refused by dependants.
func IsDependencyViolation(err error) bool { return DependencyViolation.Has(err) }

// IsAlreadyExists reports whether err is a create that found the resource
// already there.
func IsAlreadyExists(err error) bool { return AlreadyExists.Has(err) }

// IsThrottling reports whether err is a throttling error, using the SDK's own
// list of throttle codes so the two never disagree.
func IsThrottling(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool()
}

// IsRetryable reports whether the SDK's standard retryer would retry err:
// throttling, transient network failures and server-side faults.
func IsRetryable(err error) bool {
	if IsThrottling(err) {
		return true
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultServer
}
