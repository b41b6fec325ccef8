package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Handler is the rollout function: it runs the state machine's steps for
// the stack's one service.
type Handler struct {
	Clients Clients
	Config  Config
	// Stack is the stack the control plane manages; its service is the one
	// that rolls out.
	Stack string
	// Region is where the containers log.
	Region string
	Log    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle runs one step and returns its result, or the typed error the
// state machine matches. A step that waits for a task token returns nil:
// the wait's result comes from SendTaskSuccess or SendTaskFailure.
func (h *Handler) Handle(ctx context.Context, in Invocation) (any, error) {
	es, err := parseState(in.State)
	var out any
	switch {
	case err != nil:
	case in.Step == StepPrepare:
		out, err = h.prepare(ctx, in, es)
	case in.Step == StepDeploy:
		err = h.deploy(ctx, in, es)
	case in.Step == StepPoll:
		out, err = h.poll(ctx, es)
	case in.Step == StepWatchECSRollback:
		err = h.watchECSRollback(ctx, in, es)
	case in.Step == StepBake:
		err = h.bake(ctx, in, es)
	case in.Step == StepRollback:
		err = h.rollback(ctx, in, es)
	case in.Step == StepFinish:
		out, err = h.finish(ctx, in, es)
	default:
		return nil, handlererr.Invalid(fmt.Sprintf("step %q is not one of the rollout's", in.Step))
	}
	var rej *RejectedError
	if errors.As(err, &rej) {
		h.Log.InfoContext(ctx, "rollout_rejected", "step", in.Step, "execution", in.Execution, "reason", rej.Reason, "detail", rej.Detail)
		return nil, rej.Invalid()
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "rollout_step_failed", "step", in.Step, "execution", in.Execution, "error", err)
		return nil, handlererr.Boundary(fmt.Errorf("%s: %w", in.Step, err))
	}
	return out, nil
}

func (h *Handler) cluster() string { return h.Stack }

// renew extends the rollout's revision lease; a lease the rollout lost
// fences it off the service.
func (h *Handler) renew(ctx context.Context, st *State) error {
	if st.Lease == nil {
		return errors.New("the rollout holds no lease")
	}
	lease, err := h.Clients.Ledger.Renew(ctx, st.Lease, h.Config.LeaseTTL())
	if errors.Is(err, ledger.ErrNotOwner) {
		return fmt.Errorf("the rollout lost the service's lease (it ran out, or the rollout was aborted): %w", err)
	}
	if err == nil {
		st.Lease = lease
	}
	return err
}

func dedupeKey(service, digest string) string { return "rollout/" + service + "/" + digest }

// prepare accepts the push on the first round, and on every round checks
// that it is still the newest push, takes the lease and opens the gate.
func (h *Handler) prepare(ctx context.Context, in Invocation, es ExecutionState) (*State, error) {
	led := h.Clients.Ledger
	if st := es.Rollout; st != nil && st.DeploymentID != "" {
		rec, err := led.GetDeployment(ctx, st.Service, st.DeploymentID)
		if err != nil {
			return nil, err
		}
		return h.round(ctx, in, st, rec)
	}
	trig, err := ParseTrigger(in.State, h.Config)
	if err != nil {
		return nil, err
	}
	st := &State{
		Service: h.Stack, Trigger: trig,
		WaitSeconds: h.Config.PollSeconds, ECSWaitSeconds: h.Config.ECSWaitSeconds, BakeSeconds: h.Config.BakeSeconds,
	}
	if trig.Cause == ledger.CauseImage {
		_, err := led.ClaimKey(ctx, dedupeKey(st.Service, trig.Digest), in.Execution, h.Config.LeaseTTL())
		var dup *ledger.DuplicateError
		switch {
		case errors.As(err, &dup) && dup.Claim.Owner != in.Execution:
			st.Next, st.Duplicate = NextIgnore, fmt.Sprintf("the push of %s is rolled out by %s (%s %s)", trig.Digest, dup.Claim.Owner, strings.ToLower(dup.Claim.State), dup.Claim.Result)
			h.Log.InfoContext(ctx, "rollout_duplicate", "execution", in.Execution, "digest", trig.Digest, "owner", dup.Claim.Owner)
			return st, nil
		case err != nil && dup == nil:
			return nil, err
		}
	}
	rec, err := led.CreateDeployment(ctx, ledger.NewDeployment{
		ID: ledger.DeploymentID(in.Started, in.Execution), Service: st.Service, Cause: trig.Cause,
		ImageTag: trig.Tag, ImageDigest: trig.Digest, Image: trig.Image, EventID: trig.EventID, ExecutionARN: in.Execution,
	})
	if err != nil {
		return nil, err
	}
	st.DeploymentID = rec.ID
	if _, err := led.MarkNewest(ctx, ledger.Newest{Service: st.Service, Owner: in.Execution, Digest: trig.Digest, PushedAt: trig.At, DeploymentID: rec.ID}); err != nil {
		return nil, err
	}
	h.Log.InfoContext(ctx, "rollout_accepted", "execution", in.Execution, "deployment_id", rec.ID, "digest", trig.Digest, "cause", trig.Cause)
	return h.round(ctx, in, st, rec)
}

// round is one round of Prepare's wait: superseded, the lease, the gate,
// nothing to do, or go.
func (h *Handler) round(ctx context.Context, in Invocation, st *State, rec *ledger.Deployment) (*State, error) {
	led := h.Clients.Ledger
	if rec.Status.Terminal() {
		return h.decide(st, rec.Status, "the rollout ended before it started: "+rec.Reason), nil
	}
	newest, err := led.NewestPush(ctx, st.Service)
	if err != nil {
		return nil, err
	}
	if newest.Owner != in.Execution {
		return h.decide(st, ledger.StatusSuperseded, fmt.Sprintf("the push of %s at %s (deployment %s) is newer; the newest push rolls out",
			newest.Digest, newest.PushedAt.Format(time.RFC3339), newest.DeploymentID)), nil
	}
	lease, err := led.Acquire(ctx, st.Service, ledger.ScopeRevision, in.Execution, h.Config.LeaseTTL())
	var held *ledger.LockHeldError
	if errors.As(err, &held) {
		return h.wait(ctx, st, rec, waitingForLease, h.Config.leaseWaitLimit(), "the service's lease is held by "+held.Owner)
	}
	if err != nil {
		return nil, err
	}
	st.Lease = lease
	run, err := service.FindRunning(ctx, h.Clients.ECS, h.cluster(), st.Service)
	if errors.Is(err, service.ErrNoService) {
		st = h.decide(st, ledger.StatusFailed, err.Error())
		st.DecidedStep = service.StepPrepare
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	firing, err := h.firing(ctx, h.gateAlarms(run))
	if err != nil {
		return nil, err
	}
	if len(firing) > 0 {
		// ECS does not watch an alarm that is already in ALARM when a
		// deployment starts, and a firing alarm cannot tell a bad revision
		// from an existing problem: wait, without the lease.
		if err := service.ReleaseLease(ctx, led, lease); err != nil {
			return nil, err
		}
		st.Lease = nil
		return h.wait(ctx, st, rec, waitingForGate, time.Duration(h.Config.GateTimeoutSeconds)*time.Second, "alarms in ALARM: "+strings.Join(firing, ", "))
	}
	if run.Digest == st.Trigger.Digest {
		return h.decide(st, ledger.StatusSkipped, fmt.Sprintf("the service already runs %s (%s)", run.Digest, run.TaskDef)), nil
	}
	if _, err := led.Update(ctx, rec, ledger.Change{PreviousTaskDef: run.TaskDef, PreviousDigest: run.Digest, Phases: []ledger.Phase{
		{Phase: ledger.PhaseLeaseTaken, Detail: fmt.Sprintf("fencing token %d; the service runs %s", lease.Token, run.TaskDef)},
	}}); err != nil {
		return nil, err
	}
	st.Next, st.Waiting, st.WaitingSince = NextDeploy, "", time.Time{}
	return st, nil
}

// decide ends the rollout in Prepare with an outcome; Finish records it.
func (h *Handler) decide(st *State, status ledger.Status, reason string) *State {
	st.Next, st.Decided, st.DecidedReason = NextFinish, status, reason
	return st
}

// wait makes another round of Prepare's wait, or ends the rollout BLOCKED
// once it waited limit for the same thing. The timeline notes when a wait
// starts.
func (h *Handler) wait(ctx context.Context, st *State, rec *ledger.Deployment, what waitingFor, limit time.Duration, why string) (*State, error) {
	now := h.now()
	if st.Waiting != what {
		st.Waiting, st.WaitingSince = what, now
		phase := ledger.PhaseWaitingForLease
		if what == waitingForGate {
			phase = ledger.PhaseGateClosed
		}
		if _, err := h.Clients.Ledger.Update(ctx, rec, ledger.Change{Phases: []ledger.Phase{{Phase: phase, Detail: why}}}); err != nil {
			return nil, err
		}
	}
	if waited := now.Sub(st.WaitingSince); waited >= limit {
		return h.decide(st, ledger.StatusBlocked, fmt.Sprintf("%s for %s, the longest a rollout waits", why, waited.Round(time.Second))), nil
	}
	st.Next = NextWait
	return st, nil
}

// gateAlarms are the alarms that must be out of ALARM for a rollout to
// start: the service's deployment alarms, which ECS watches, and the
// bake's.
func (h *Handler) gateAlarms(run *service.Running) []string {
	out := slices.Clone(run.DeploymentAlarms)
	for _, a := range h.Config.BakeAlarms {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// firing returns the alarms of names in ALARM.
func (h *Handler) firing(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var out []string
	p := cloudwatch.NewDescribeAlarmsPaginator(h.Clients.CloudWatch, &cloudwatch.DescribeAlarmsInput{AlarmNames: names, StateValue: cwtypes.StateValueAlarm})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing alarms %v: %w", names, err)
		}
		for _, a := range page.MetricAlarms {
			out = append(out, aws.ToString(a.AlarmName))
		}
	}
	return out, nil
}

// begin is how a step of an accepted rollout starts: it reads the
// rollout's record, which must not have ended meanwhile (an abort), and
// renews the lease, which must still be the rollout's.
func (h *Handler) begin(ctx context.Context, es ExecutionState) (*State, *ledger.Deployment, error) {
	st, err := es.rollout()
	if err != nil {
		return nil, nil, err
	}
	rec, err := h.record(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	return st, rec, h.renew(ctx, st)
}

// record reads the rollout's deployment record, which must not have ended
// already (the rollout was aborted meanwhile).
func (h *Handler) record(ctx context.Context, st *State) (*ledger.Deployment, error) {
	rec, err := h.Clients.Ledger.GetDeployment(ctx, st.Service, st.DeploymentID)
	if err != nil {
		return nil, err
	}
	if rec.Status.Terminal() {
		return nil, fmt.Errorf("deployment %s ended %s meanwhile: %s", rec.ID, rec.Status, rec.Reason)
	}
	return rec, nil
}

// deploy registers the revision from the running revision's template with
// the image pinned by digest, updates the service, and waits for ECS's
// verdict. Run again (a retry, or another round after a poll of ECS), it
// only waits.
func (h *Handler) deploy(ctx context.Context, in Invocation, es ExecutionState) error {
	st, rec, err := h.begin(ctx, es)
	if err != nil {
		return err
	}
	led := h.Clients.Ledger
	var run *service.Running
	if rec.NewTaskDef == "" || rec.ECSDeploymentID == "" {
		if run, err = service.FindRunning(ctx, h.Clients.ECS, h.cluster(), st.Service); err != nil {
			return err
		}
	}
	if rec.NewTaskDef == "" {
		spec, err := service.TemplateOf(ctx, led, st.Service, run.TemplateHash)
		if err != nil {
			return err
		}
		w, err := service.NewWorkload(spec, h.Region)
		if err != nil {
			return err
		}
		td, err := service.RegisterRevision(ctx, h.Clients.ECS, stack.NewRun(spec, false, in.Execution, h.Log), spec, w, st.Trigger.Image, rec.PreviousTaskDef, st.Trigger.Reason)
		if err != nil {
			return err
		}
		hash, tmpl, err := service.Template(spec, w)
		if err != nil {
			return err
		}
		if rec, err = led.Update(ctx, rec, ledger.Change{NewTaskDef: td, TemplateHash: hash, Template: tmpl}); err != nil {
			return err
		}
	}
	if rec.ECSDeploymentID == "" {
		started, err := h.adoptOrUpdate(ctx, run, st, rec.NewTaskDef)
		if err != nil {
			return err
		}
		next, err := service.RecordStarted(ctx, led, rec, rec.NewTaskDef, started, st.Trigger.Reason)
		var illegal *ledger.IllegalTransitionError
		if errors.As(err, &illegal) {
			// The rollout was aborted, or its execution stopped, after this
			// step looked and before its update reached ECS: the update is
			// this step's to undo.
			undo, uerr := service.UpdateRevision(ctx, h.Clients.ECS, h.cluster(), st.Service, rec.PreviousTaskDef)
			return errors.Join(fmt.Errorf("the rollout ended while it updated the service; returned the service to %s (ECS deployment %s): %w", rec.PreviousTaskDef, undo.DeploymentID, err), uerr)
		}
		if err != nil {
			return err
		}
		rec = next
		h.Log.InfoContext(ctx, "rollout_update_sent", "execution", in.Execution, "deployment_id", rec.ID, "ecs_deployment", started.DeploymentID, "task_definition", rec.NewTaskDef)
	}
	return h.watch(ctx, in, rec, rec.ECSDeploymentID)
}

// adoptOrUpdate starts the deployment of td, or, when the service's
// primary deployment already rolls it out (a retried step whose update
// went through before its record did), returns that one.
func (h *Handler) adoptOrUpdate(ctx context.Context, run *service.Running, st *State, td string) (service.Started, error) {
	if run.TaskDef == td {
		for _, d := range run.Service.Deployments {
			if aws.ToString(d.Status) == "PRIMARY" && aws.ToString(d.TaskDefinition) == td {
				return service.Started{ServiceARN: aws.ToString(run.Service.ServiceArn), DeploymentID: aws.ToString(d.Id), ServiceDeploymentARN: aws.ToString(run.Service.CurrentServiceDeployment)}, nil
			}
		}
	}
	return service.UpdateRevision(ctx, h.Clients.ECS, h.cluster(), st.Service, td)
}

// watch stores the step's task token under the ECS deployment it waits
// for, then looks at the deployment once: a verdict ECS gave before the
// token was stored found no waiter, so the step sends it itself.
func (h *Handler) watch(ctx context.Context, in Invocation, rec *ledger.Deployment, ecsID string) error {
	if in.Token == "" {
		return handlererr.Invalid("a waiting step needs its task token")
	}
	if err := h.Clients.Ledger.PutWaiter(ctx, ledger.Waiter{
		Service: rec.Service, Key: ledger.WaitECS(ecsID), Token: in.Token, ExecutionARN: in.Execution, DeploymentID: rec.ID,
	}); err != nil {
		return err
	}
	svc, err := service.DescribeService(ctx, h.Clients.ECS, h.cluster(), rec.Service)
	if err != nil {
		return err
	}
	o := service.DeploymentState(svc, ecsID)
	if o.State == service.ECSInProgress {
		return nil
	}
	h.Log.InfoContext(ctx, "rollout_verdict_before_waiter", "execution", in.Execution, "ecs_deployment", ecsID, "state", o.State)
	_, err = SendECSResult(ctx, h.Clients.SFN, in.Token, ECSResult{Status: string(o.State), DeploymentID: ecsID, Reason: o.Reason, At: h.now().UTC()})
	return err
}

// ecsDetail is a timeline entry's detail for ECS's verdict: the phase is
// when the rollout learnt it, ECS's own time is in the detail.
func ecsDetail(r ECSResult) string {
	if r.At.IsZero() {
		return r.Reason
	}
	return fmt.Sprintf("%s (ECS, %s)", r.Reason, r.At.UTC().Format(time.RFC3339))
}

// SendECSResult resumes a step waiting for ECS: success for a completed
// deployment, ErrECSFailed otherwise. It reports whether the step was
// still waiting; one that is not (resumed already, stopped, timed out) is
// not an error.
func SendECSResult(ctx context.Context, api TaskAPI, token string, r ECSResult) (bool, error) {
	out, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	if r.Status == string(service.ECSCompleted) {
		_, err = api.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(out))})
	} else {
		_, err = api.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String(ErrECSFailed), Cause: aws.String(string(out))})
	}
	return sent(err)
}

// poll reads ECS's verdict on the deployment a wait ran out on, the
// rollout's or its rollback's, up to maxECSPolls rounds.
func (h *Handler) poll(ctx context.Context, es ExecutionState) (*ECSResult, error) {
	st, err := es.rollout()
	if err != nil {
		return nil, err
	}
	rec, err := h.record(ctx, st)
	if err != nil {
		return nil, err
	}
	polls := 1
	if es.ECSPoll != nil {
		polls = es.ECSPoll.Polls + 1
	}
	// The deployment waited for: the rollback's once there is one.
	arn, id := rec.ServiceDeploymentARN, rec.ECSDeploymentID
	if rec.RollbackServiceDeploymentARN != "" {
		arn, id = rec.RollbackServiceDeploymentARN, rec.RollbackDeploymentID
	}
	o, err := service.ServiceDeploymentOutcome(ctx, h.Clients.ECS, arn)
	if err != nil {
		return nil, err
	}
	r := &ECSResult{Status: string(o.State), DeploymentID: id, Reason: o.Reason, Polls: polls, At: h.now().UTC()}
	switch o.State {
	case service.ECSCompleted:
		return r, nil
	case service.ECSInProgress:
		if polls >= maxECSPolls {
			return nil, fmt.Errorf("ECS gave no verdict on deployment %s in %d waits of %ds", id, polls, h.Config.ECSWaitSeconds)
		}
		return r, nil
	}
	r.Status = string(service.ECSFailed)
	return r, nil
}

// watchECSRollback waits for ECS's own rollback of the failed deployment,
// so that the lease covers it and the verdict says how it ended. When ECS
// made none, or it is over already, the step resumes itself.
func (h *Handler) watchECSRollback(ctx context.Context, in Invocation, es ExecutionState) error {
	st, rec, err := h.begin(ctx, es)
	if err != nil {
		return err
	}
	var failed ECSResult
	if ce := caught(es.ECS); ce != nil {
		_ = json.Unmarshal([]byte(ce.Cause), &failed)
	} else if es.ECSPoll != nil {
		failed = *es.ECSPoll
	}
	if !rec.Reached(ledger.PhaseECSFailed) {
		if rec, err = h.Clients.Ledger.Update(ctx, rec, ledger.Change{Phases: []ledger.Phase{{Phase: ledger.PhaseECSFailed, Detail: ecsDetail(failed)}}}); err != nil {
			return err
		}
	}
	svc, err := service.DescribeService(ctx, h.Clients.ECS, h.cluster(), st.Service)
	if err != nil {
		return err
	}
	id, ok := service.RollbackOf(svc, rec.ECSDeploymentID, rec.PreviousTaskDef)
	if !ok {
		h.Log.InfoContext(ctx, "rollout_no_ecs_rollback", "execution", in.Execution, "ecs_deployment", rec.ECSDeploymentID)
		_, err := SendECSResult(ctx, h.Clients.SFN, in.Token, ECSResult{Status: string(service.ECSCompleted), Reason: "ECS made no rollback", At: h.now().UTC()})
		return err
	}
	return h.watch(ctx, in, rec, id)
}

// bake records that the new revision bakes, stores the step's token for
// the alarms of the bake's set, and looks at them once: one that went to
// ALARM before the token was stored fails the bake at once.
func (h *Handler) bake(ctx context.Context, in Invocation, es ExecutionState) error {
	_, rec, err := h.begin(ctx, es)
	if err != nil {
		return err
	}
	if in.Token == "" {
		return handlererr.Invalid("the bake needs its task token")
	}
	var done ECSResult
	_ = json.Unmarshal(es.ECS, &done)
	if es.ECSPoll != nil && es.ECSPoll.Status == string(service.ECSCompleted) {
		done = *es.ECSPoll
	}
	if rec.Status == ledger.StatusInProgress {
		if rec, err = h.Clients.Ledger.Update(ctx, rec, ledger.Change{To: ledger.StatusBaking, Phases: []ledger.Phase{
			{Phase: ledger.PhaseECSCompleted, Detail: ecsDetail(done)},
			{Phase: ledger.PhaseBakeStarted, Detail: fmt.Sprintf("%ds, alarms %s", h.Config.BakeSeconds, strings.Join(h.Config.BakeAlarms, ", "))},
		}}); err != nil {
			return err
		}
	}
	if err := h.Clients.Ledger.PutWaiter(ctx, ledger.Waiter{
		Service: rec.Service, Key: ledger.WaitBake, Token: in.Token, ExecutionARN: in.Execution, DeploymentID: rec.ID, Alarms: h.Config.BakeAlarms,
	}); err != nil {
		return err
	}
	firing, err := h.firing(ctx, h.Config.BakeAlarms)
	if err != nil || len(firing) == 0 {
		return err
	}
	_, err = SendBakeAlarm(ctx, h.Clients.SFN, in.Token, fmt.Sprintf("%s in ALARM when the bake started", strings.Join(firing, ", ")))
	return err
}

// SendBakeAlarm fails a bake with ErrBakeAlarm, and reports whether the
// bake was still waiting.
func SendBakeAlarm(ctx context.Context, api TaskAPI, token, cause string) (bool, error) {
	_, err := api.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String(ErrBakeAlarm), Cause: aws.String(cause)})
	return sent(err)
}

// rollback returns the service to its previous revision with UpdateService
// and waits for that deployment like the rollout's own. When the rollout
// never changed the service, or no longer holds its lease, there is
// nothing it may roll back, and the step resumes itself.
func (h *Handler) rollback(ctx context.Context, in Invocation, es ExecutionState) error {
	st, err := es.rollout()
	if err != nil {
		return err
	}
	rec, err := h.Clients.Ledger.GetDeployment(ctx, st.Service, st.DeploymentID)
	if err != nil {
		return err
	}
	skip := func(why string) error {
		h.Log.InfoContext(ctx, "rollout_no_rollback", "execution", in.Execution, "why", why)
		out, _ := json.Marshal(ECSResult{Status: "NOT_NEEDED", Reason: why, At: h.now().UTC()})
		_, err := h.Clients.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(in.Token), Output: aws.String(string(out))})
		_, err = sent(err)
		return err
	}
	switch {
	case rec.Status.Terminal():
		return skip(fmt.Sprintf("the rollout ended %s meanwhile", rec.Status))
	case rec.ECSDeploymentID == "":
		return skip("the service was not changed")
	case rec.PreviousTaskDef == "":
		return skip("there is no previous revision")
	}
	if err := h.renew(ctx, st); err != nil {
		return skip(err.Error())
	}
	if rec.RollbackDeploymentID == "" {
		why := "the bake failed"
		if step, f := es.failure(); f != nil {
			why = fmt.Sprintf("step %s failed: %s", step, f.Message())
		} else if es.Bake != nil {
			why = es.Bake.Cause
		}
		started, err := service.UpdateRevision(ctx, h.Clients.ECS, h.cluster(), st.Service, rec.PreviousTaskDef)
		if err != nil {
			return err
		}
		change := ledger.Change{RollbackDeploymentID: started.DeploymentID, RollbackServiceDeploymentARN: started.ServiceDeploymentARN,
			Phases: []ledger.Phase{{Phase: ledger.PhaseRollbackSent, Detail: fmt.Sprintf("back to %s (ECS deployment %s): %s", rec.PreviousTaskDef, started.DeploymentID, why)}}}
		if rec.Status == ledger.StatusBaking || rec.Status == ledger.StatusInProgress {
			change.To = ledger.StatusRollingBack
		}
		if es.Bake != nil && es.Bake.Error == ErrBakeAlarm {
			change.Phases = append([]ledger.Phase{{Phase: ledger.PhaseBakeEnded, Detail: "alarm: " + es.Bake.Cause}}, change.Phases...)
		}
		if rec, err = h.Clients.Ledger.Update(ctx, rec, change); err != nil {
			return err
		}
		h.Log.InfoContext(ctx, "rollout_rollback_sent", "execution", in.Execution, "deployment_id", rec.ID, "ecs_deployment", started.DeploymentID, "why", why)
	}
	return h.watch(ctx, in, rec, rec.RollbackDeploymentID)
}

// sent reads a SendTask* call's error: whether the task was still
// waiting, and an error unless it was closed (resumed already, stopped or
// timed out), which is not one.
func sent(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	var taskErr interface{ ErrorCode() string }
	if errors.As(err, &taskErr) {
		switch taskErr.ErrorCode() {
		case "TaskTimedOut", "TaskDoesNotExist", "InvalidToken":
			return false, nil
		}
	}
	return false, err
}
