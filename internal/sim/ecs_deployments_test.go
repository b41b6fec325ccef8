package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// serviceDeployment describes the service's newest service deployment.
func (f *fleet) serviceDeployment(t testing.TB, name string) ecstypes.ServiceDeployment {
	t.Helper()
	ctx := context.Background()
	list, err := f.ecs.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String(fleetCluster), Service: aws.String(name)})
	if err != nil || len(list.ServiceDeployments) == 0 {
		t.Fatalf("ListServiceDeployments: %s (%v)", describe(list), err)
	}
	out, err := f.ecs.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{aws.ToString(list.ServiceDeployments[0].ServiceDeploymentArn)}})
	if err != nil || len(out.ServiceDeployments) != 1 {
		t.Fatalf("DescribeServiceDeployments: %s (%v)", describe(out), err)
	}
	return out.ServiceDeployments[0]
}

// TestServiceDeploymentsTellOutcomesApart follows the ServiceDeployment
// reference: the status, statusReason, rollback (with its reason) and the
// circuit breaker's and alarms' monitors tell a completed deployment from
// one the circuit breaker rolled back, one a deployment alarm rolled back,
// and one that failed with no rollback and stopped.
//
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeploymentCircuitBreaker.html
func TestServiceDeploymentsTellOutcomesApart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     serviceOpts
		image    string
		fault    sim.ImageFault
		errors   bool // the new revision makes the deployment alarm fire
		status   ecstypes.ServiceDeploymentStatus
		reason   string // prefix of statusReason
		rollback string // prefix of rollback.reason, "" for no rollback
		breaker  ecstypes.ServiceDeploymentRollbackMonitorsStatus
		failures int32
		alarms   ecstypes.ServiceDeploymentRollbackMonitorsStatus
	}{
		{"completed", serviceOpts{breaker: true}, ":v2", sim.ImageHealthy, false,
			ecstypes.ServiceDeploymentStatusSuccessful, "ECS deployment ", "", "MONITORING_COMPLETE", 0, "DISABLED"},
		{"circuit breaker rolled back", serviceOpts{breaker: true}, ":bad", sim.ImageExits, false,
			ecstypes.ServiceDeploymentStatusRollbackSuccessful, "ECS deployment circuit breaker: task exited", "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/", "TRIGGERED", 3, "DISABLED"},
		{"alarm rolled back", serviceOpts{alarms: []string{"web-errors"}}, ":v2", sim.ImageHealthy, true,
			ecstypes.ServiceDeploymentStatusRollbackSuccessful, "ECS deployment alarms: web-errors in ALARM state.", "ECS deployment alarms: rolling back to deploymentId ecs-svc/", "DISABLED", 0, "TRIGGERED"},
		{"failed without rollback", serviceOpts{breaker: true, noRollback: true}, ":bad", sim.ImageExits, false,
			ecstypes.ServiceDeploymentStatusStopped, "ECS deployment circuit breaker: task exited", "", "TRIGGERED", 3, "DISABLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 43, instances: 4})
			f.putAlarm(t, "web-errors", "Web", "Errors", 5, 1, 1, "notBreaching")
			o := tc.opts
			o.name, o.desired, o.minHealthy, o.max = "web", 4, 100, 200
			f.createService(t, o)
			f.waitSteady(t, "web", 10*time.Minute)
			image := strings.Replace(fleetImage, ":v1", tc.image, 1)
			f.sim.FailImage(image, tc.fault)
			f.updateTD(t, "web", f.registerTD(t, image))
			advanceUntil(t, f.sim, 30*time.Minute, "deployment over", func() bool {
				if tc.errors {
					f.putMetric(t, "Web", "Errors", 50)
				}
				st := f.serviceDeployment(t, "web").Status
				return st != ecstypes.ServiceDeploymentStatusInProgress && st != ecstypes.ServiceDeploymentStatusRollbackInProgress
			})
			d := f.serviceDeployment(t, "web")
			if d.Status != tc.status || !strings.HasPrefix(aws.ToString(d.StatusReason), tc.reason) {
				t.Fatalf("status %s (%q), want %s (%q…)", d.Status, aws.ToString(d.StatusReason), tc.status, tc.reason)
			}
			switch {
			case tc.rollback == "" && d.Rollback != nil:
				t.Fatalf("rollback %s, want none", describe(d.Rollback))
			case tc.rollback != "" && (d.Rollback == nil || !strings.HasPrefix(aws.ToString(d.Rollback.Reason), tc.rollback) || d.Rollback.ServiceRevisionArn == nil):
				t.Fatalf("rollback %s, want reason %q… and the revision it returned to", describe(d.Rollback), tc.rollback)
			}
			if cb := d.DeploymentCircuitBreaker; cb.Status != tc.breaker || cb.FailureCount != tc.failures || cb.Threshold != 3 {
				t.Fatalf("circuit breaker %s, want %s with %d failures of 3", describe(cb), tc.breaker, tc.failures)
			}
			if d.Alarms.Status != tc.alarms || (tc.alarms == "TRIGGERED") != (strings.Join(d.Alarms.TriggeredAlarmNames, ",") == "web-errors") {
				t.Fatalf("alarms %s, want %s", describe(d.Alarms), tc.alarms)
			}
			if (d.Status == ecstypes.ServiceDeploymentStatusStopped) != (d.StoppedAt != nil) || (d.Status == ecstypes.ServiceDeploymentStatusStopped) == (d.FinishedAt != nil) {
				t.Fatalf("finished at %v, stopped at %v for a %s deployment", d.FinishedAt, d.StoppedAt, d.Status)
			}
			if len(d.SourceServiceRevisions) != 1 || aws.ToString(d.TargetServiceRevision.Arn) == aws.ToString(d.SourceServiceRevisions[0].Arn) {
				t.Fatalf("source %s, target %s: want the previous revision and a new one", describe(d.SourceServiceRevisions), describe(d.TargetServiceRevision))
			}
		})
	}
}

// TestStopServiceDeploymentRollsBack follows StopServiceDeployment: the
// ROLLBACK stop type "rolls back the service deployment to the previous
// service revision", even when the deployment did not configure rollback;
// only a deployment in progress can be stopped.
//
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopServiceDeployment.html
func TestStopServiceDeploymentRollsBack(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 44, instances: 4})
	v1 := f.td
	f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	// A revision that never turns healthy and no circuit breaker: the
	// deployment would stay in progress for ever.
	sick := strings.Replace(fleetImage, ":v1", ":sick", 1)
	f.sim.FailImage(sick, sim.ImageUnhealthy)
	f.updateTD(t, "web", f.registerTD(t, sick))
	f.sim.Advance(5 * time.Minute)
	d := f.serviceDeployment(t, "web")
	if d.Status != ecstypes.ServiceDeploymentStatusInProgress {
		t.Fatalf("status %s, want IN_PROGRESS", d.Status)
	}
	ctx := context.Background()
	stop := func(arn string, typ ecstypes.StopServiceDeploymentStopType) error {
		_, err := f.ecs.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(arn), StopType: typ})
		return err
	}
	if code := errCode(stop(aws.ToString(d.ServiceDeploymentArn), ecstypes.StopServiceDeploymentStopTypeAbort)); code != "InvalidParameterException" {
		t.Fatalf("ABORT on a rolling deployment: %q, want InvalidParameterException", code)
	}
	if err := stop(aws.ToString(d.ServiceDeploymentArn), ecstypes.StopServiceDeploymentStopTypeRollback); err != nil {
		t.Fatal(err)
	}
	if st := f.serviceDeployment(t, "web").Status; st != ecstypes.ServiceDeploymentStatusRollbackInProgress {
		t.Fatalf("status %s right after the stop, want ROLLBACK_IN_PROGRESS", st)
	}
	f.waitSteady(t, "web", 15*time.Minute)
	d = f.serviceDeployment(t, "web")
	if d.Status != ecstypes.ServiceDeploymentStatusRollbackSuccessful || d.Rollback == nil || !strings.Contains(aws.ToString(d.Rollback.Reason), "stop request") {
		t.Fatalf("after the stop: %s (rollback %s), want ROLLBACK_SUCCESSFUL for the stop request", d.Status, describe(d.Rollback))
	}
	if got := aws.ToString(f.service(t, "web").TaskDefinition); got != v1 {
		t.Fatalf("service runs %s, want the previous revision %s", got, v1)
	}
	if code := errCode(stop(aws.ToString(d.ServiceDeploymentArn), "")); code != "ConflictException" {
		t.Fatalf("stopping a finished deployment: %q, want ConflictException", code)
	}
	unknown := strings.Replace(aws.ToString(d.ServiceDeploymentArn), "/web/", "/nope/", 1)
	if code := errCode(stop(unknown, "")); code != "ServiceDeploymentNotFoundException" {
		t.Fatalf("stopping an unknown deployment: %q, want ServiceDeploymentNotFoundException", code)
	}
	missing, err := f.ecs.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{unknown}})
	if err != nil || len(missing.Failures) != 1 || aws.ToString(missing.Failures[0].Reason) != "MISSING" {
		t.Fatalf("describing an unknown deployment: %s (%v), want a MISSING failure", describe(missing), err)
	}
	// Newest first, and filtered by status.
	list, err := f.ecs.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{
		Cluster: aws.String(fleetCluster), Service: aws.String("web"), Status: []ecstypes.ServiceDeploymentStatus{ecstypes.ServiceDeploymentStatusSuccessful},
	})
	if err != nil || len(list.ServiceDeployments) != 1 || aws.ToString(list.ServiceDeployments[0].ServiceDeploymentArn) == aws.ToString(d.ServiceDeploymentArn) {
		t.Fatalf("successful service deployments %s (%v), want the first one only", describe(list), err)
	}
	if cur := aws.ToString(f.service(t, "web").CurrentServiceDeployment); cur != aws.ToString(d.ServiceDeploymentArn) {
		t.Fatalf("current service deployment %s, want the rolled-back %s", cur, aws.ToString(d.ServiceDeploymentArn))
	}
}
