package step

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// fakeLayer records what the handler asked of it. A test layer stands in
// for the AWS side here: what is under test is the handler's dispatch,
// identity checks and progress, which touch no AWS API.
type fakeLayer struct {
	reconciled, destroyed []string
	destroyErr            error
}

func (f *fakeLayer) layer() Layer[*fakeLayer] {
	return Layer[*fakeLayer]{
		Name: "network",
		Reconcile: func(_ context.Context, c *fakeLayer, run *stack.Run, o *stack.Outputs) error {
			c.reconciled = append(c.reconciled, run.Spec.Name+" "+run.Token)
			o.Network = &stack.NetworkOutput{VPCID: "vpc-1"}
			return nil
		},
		Output: func(o *stack.Outputs) any { return o.Network },
		Destroy: func(_ context.Context, c *fakeLayer, run *stack.Run) error {
			c.destroyed = append(c.destroyed, run.Spec.Name)
			return c.destroyErr
		},
		Checks: []Check[*fakeLayer]{{Name: "nat", Status: func(context.Context, *fakeLayer, *stack.Outputs) (stack.Status, error) {
			return stack.NotYet("pending"), nil
		}}},
	}
}

func TestHandlerRunsEachOpOfItsLayer(t *testing.T) {
	f := &fakeLayer{}
	h := &Handler[*fakeLayer]{Layer: f.layer(), Clients: f, Stack: "web", Log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	spec, _ := json.Marshal(stack.Defaults("web"))

	out, err := h.Handle(ctx, Request{Op: OpReconcile, Spec: spec, ExecutionARN: "arn:exec"})
	if o, ok := out.(*stack.NetworkOutput); err != nil || !ok || o.VPCID != "vpc-1" || len(f.reconciled) != 1 || f.reconciled[0] != "web arn:exec" {
		t.Fatalf("reconcile = %v, %v; layer saw %v", out, err, f.reconciled)
	}
	out, err = h.Handle(ctx, Request{Op: OpCheck, Check: "nat"})
	if p, ok := out.(*Progress); err != nil || !ok || p.Done || p.Name != "nat" || p.Detail != "pending" {
		t.Fatalf("check = %+v, %v", out, err)
	}
	// A teardown needs nothing of the spec but the name; NotReady is a
	// round of the wait loop, not a failure.
	f.destroyErr = &handlererr.NotReadyError{Msg: "NAT gateways deleting"}
	out, err = h.Handle(ctx, Request{Op: OpDestroy, Spec: json.RawMessage(`{"name": "web", "compute": {"minSize": "bad"}}`)})
	if p, ok := out.(*Progress); err != nil || !ok || p.Done || !strings.Contains(p.Detail, "deleting") {
		t.Fatalf("destroy while deleting = %+v, %v", out, err)
	}
	f.destroyErr = nil
	if out, err = h.Handle(ctx, Request{Op: OpDestroy, Spec: json.RawMessage(`{"name": "web"}`)}); err != nil || !out.(*Progress).Done {
		t.Fatalf("destroy = %+v, %v", out, err)
	}
}

func TestHandlerRefusesBadRequestsBeforeTheLayer(t *testing.T) {
	f := &fakeLayer{}
	h := &Handler[*fakeLayer]{Layer: f.layer(), Clients: f, Stack: "web", Log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	other, _ := json.Marshal(stack.Spec{Name: "other"})
	for name, req := range map[string]Request{
		"another stack's reconcile": {Op: OpReconcile, Spec: other},
		"another stack's teardown":  {Op: OpDestroy, Spec: other},
		"no name to tear down":      {Op: OpDestroy},
		"an unknown check":          {Op: OpCheck, Check: "dns"},
		"an unknown op":             {Op: "scale"},
		"a spec with a typo":        {Op: OpReconcile, Spec: json.RawMessage(`{"name": "web", "netwrok": {}}`)},
	} {
		_, err := h.Handle(ctx, req)
		var inv *handlererr.InvalidInputError
		if !errors.As(err, &inv) {
			t.Errorf("%s: %v, want an InvalidInputError", name, err)
		}
	}
	if len(f.reconciled)+len(f.destroyed) != 0 {
		t.Errorf("the layer ran for bad requests: %v %v", f.reconciled, f.destroyed)
	}
}

// TestReconcileAgainAfterACollision: a layer whose create collides with a
// resource of the same identity (a retried call whose first attempt went
// through) is reconciled once more; any other error, or a second
// collision, is returned.
func TestReconcileAgainAfterACollision(t *testing.T) {
	type out struct{ ID string }
	collide := &smithy.GenericAPIError{Code: "InvalidSubnet.Conflict", Message: "The CIDR '10.40.1.0/24' conflicts with another subnet"}
	other := &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "bad"}
	for _, tc := range []struct {
		name  string
		errs  []error
		calls int
		want  error
	}{
		{"a collision, then the resource found", []error{collide, nil}, 2, nil},
		{"two collisions", []error{collide, collide}, 2, collide},
		{"another error", []error{other}, 1, other},
		{"no error", []error{nil}, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			l := Define("test", func(o *stack.Outputs) **out { return new(*out) }, func(*stack.Outputs) struct{} { return struct{}{} },
				func(context.Context, struct{}, *stack.Run, struct{}) (*out, error) {
					err := tc.errs[calls]
					calls++
					return &out{ID: "x"}, err
				}, nil)
			err := l.Reconcile(context.Background(), struct{}{}, stack.NewRun(stack.Defaults("t"), false, "t", nil), &stack.Outputs{})
			if calls != tc.calls || !errors.Is(err, tc.want) {
				t.Errorf("%d reconciles, %v; want %d, %v", calls, err, tc.calls, tc.want)
			}
		})
	}
}
