package awsclient

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// consistencyError marks a not-found answer to a mutating call as
// retryable for the SDK's standard retryer.
type consistencyError struct{ err error }

func (e *consistencyError) Error() string        { return e.err.Error() }
func (e *consistencyError) Unwrap() error        { return e.err }
func (e *consistencyError) RetryableError() bool { return true }

// settled lists the operations for which not-found is an answer, never a
// consistency window: reads, and deletes, where not-found means done.
var settled = []string{"Describe", "List", "Get", "Delete", "Deregister", "Release", "Disassociate", "Detach", "Revoke"}

// unseen lists, by service and operation, the codes other than not-found
// with which AWS refuses a call that names a resource it cannot see yet.
// Auto Scaling answers a launch template or a subnet created a moment
// before with a ValidationError, a code it gives other mistakes too, which
// are then retried within the retryer's bound before they surface.
var unseen = map[[2]string]string{
	{"Auto Scaling", "CreateAutoScalingGroup"}: "ValidationError",
	{"Auto Scaling", "UpdateAutoScalingGroup"}: "ValidationError",
}

// missingReference reports whether a mutating call failed because a
// resource it names is not visible yet, by error code.
func missingReference(ctx context.Context, err error) bool {
	op := middleware.GetOperationName(ctx)
	if isSettled(op) {
		return false
	}
	code, listed := unseen[[2]string{middleware.GetServiceID(ctx), op}]
	return awserr.IsNotFound(err) || (listed && awserr.Code(err) == code)
}

// RetryEventualConsistency makes the standard retryer retry a mutating call
// that fails because a resource it names is not found. The control plane
// only names resources it has just found or created, so such a failure is
// AWS's eventual consistency right after a create (a subnet in a new VPC, a
// route to a new NAT gateway), and the retryer's bounded, backed-off
// attempts are the one place that window is waited out. Add it to
// aws.Config.APIOptions; it sits just inside the retry loop.
func RetryEventualConsistency(st *middleware.Stack) error {
	return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("ecsplaneEventualConsistency",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			if err != nil && missingReference(ctx, err) {
				return out, md, &consistencyError{err}
			}
			return out, md, err
		}), "Retry", middleware.After)
}

// WithConsistencyRetries returns a copy of cfg whose clients wait out
// eventual consistency with RetryEventualConsistency, for the layers that
// create resources and name them right away.
func WithConsistencyRetries(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, RetryEventualConsistency)
	return cfg
}

func isSettled(op string) bool {
	for _, p := range settled {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}
