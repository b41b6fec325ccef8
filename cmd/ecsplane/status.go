package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/rollout"
	"github.com/ecsplane/ecsplane/internal/service"
)

var statusCommand = command{
	name: "status", args: "<service>",
	about: "Show where the service is: who holds its leases, the rollout in progress and its\n" +
		"phase, ECS's deployments of it, and its running tasks and healthy targets per zone.",
	json: "print the status as a JSON object",
}

// serviceStatus is what status shows.
type serviceStatus struct {
	Service string `json:"service"`
	// Leases are the holders of the service's leases, by scope.
	Leases map[ledger.Scope]*ledger.Lease `json:"leases"`
	// Rollout is the rollout in progress, if any.
	Rollout *ledger.Deployment `json:"rollout,omitempty"`
	// TaskDefinition is the revision the service runs, Image its app image.
	TaskDefinition string             `json:"taskDefinition"`
	Image          string             `json:"image"`
	Deployments    []deploymentStatus `json:"deployments"`
	Zones          []zoneStatus       `json:"zones"`
}

type deploymentStatus struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	RolloutState   string `json:"rolloutState"`
	Reason         string `json:"reason,omitempty"`
	TaskDefinition string `json:"taskDefinition"`
	Running        int32  `json:"running"`
	Desired        int32  `json:"desired"`
}

type zoneStatus struct {
	Zone           string `json:"zone"`
	RunningTasks   int    `json:"runningTasks"`
	HealthyTargets int    `json:"healthyTargets"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	r, err := parseRollout(ctx, statusCommand, args, stdout, false, nil)
	if err != nil {
		return err
	}
	st := serviceStatus{Service: r.service, Leases: map[ledger.Scope]*ledger.Lease{}}
	for _, scope := range []ledger.Scope{ledger.ScopeRevision, ledger.ScopeCapacity} {
		l, err := r.ledger.CurrentLock(ctx, r.service, scope)
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("reading the %s lease of %s: %w", scope, r.service, err)
		}
		st.Leases[scope] = l
	}
	if st.Rollout, _, err = rollout.Running(ctx, r.ledger, r.service); err != nil {
		return err
	}
	c := service.NewClients(r.cfg, nil)
	run, err := service.FindRunning(ctx, c.ECS, r.service, r.service)
	if err != nil {
		return err
	}
	st.TaskDefinition, st.Image = run.TaskDef, run.AppImage
	for _, d := range run.Service.Deployments {
		st.Deployments = append(st.Deployments, deploymentStatus{
			ID: aws.ToString(d.Id), Status: aws.ToString(d.Status), RolloutState: string(d.RolloutState), Reason: aws.ToString(d.RolloutStateReason),
			TaskDefinition: aws.ToString(d.TaskDefinition), Running: d.RunningCount, Desired: d.DesiredCount,
		})
	}
	tasks, err := service.Tasks(ctx, c, r.service, r.service)
	if err != nil {
		return err
	}
	healthy := map[string]int{}
	for _, lb := range run.Service.LoadBalancers {
		counts, err := service.HealthyTargets(ctx, c, aws.ToString(lb.TargetGroupArn), tasks)
		if err != nil {
			return err
		}
		for az, n := range counts {
			healthy[az] += n
		}
	}
	running := map[string]int{}
	var zones []string
	for _, t := range tasks {
		az := aws.ToString(t.AvailabilityZone)
		if !slices.Contains(zones, az) {
			zones = append(zones, az)
		}
		if aws.ToString(t.LastStatus) == "RUNNING" {
			running[az]++
		}
	}
	slices.Sort(zones)
	for _, az := range zones {
		st.Zones = append(st.Zones, zoneStatus{Zone: az, RunningTasks: running[az], HealthyTargets: healthy[az]})
	}
	if r.asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	printStatus(stdout, st)
	return nil
}

func printStatus(w io.Writer, st serviceStatus) {
	fmt.Fprintf(w, "service %s runs %s (%s)\n", st.Service, st.TaskDefinition, st.Image)
	for _, scope := range []ledger.Scope{ledger.ScopeRevision, ledger.ScopeCapacity} {
		l := st.Leases[scope]
		if l == nil {
			fmt.Fprintf(w, "%s lease: free\n", scope)
			continue
		}
		fmt.Fprintf(w, "%s lease: held by %s until %s (fencing token %d)\n", scope, l.Owner, l.Expires.Local().Format(time.DateTime), l.Token)
	}
	if d := st.Rollout; d != nil {
		last := d.Timeline[len(d.Timeline)-1]
		fmt.Fprintf(w, "rollout in progress: deployment %s of %s, %s since %s; last phase %s at %s %s\n",
			d.ID, dash(d.ImageDigest), d.Status, d.CreatedAt.Local().Format(time.TimeOnly), last.Phase, last.At.Local().Format(time.TimeOnly), last.Detail)
	} else {
		fmt.Fprintln(w, "rollout in progress: none")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECS DEPLOYMENT\tSTATUS\tROLLOUT\tTASKS\tTASK DEFINITION\tREASON")
	for _, d := range st.Deployments {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", d.ID, d.Status, d.RolloutState, d.Running, d.Desired, d.TaskDefinition, dash(d.Reason))
	}
	_ = tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tRUNNING TASKS\tHEALTHY TARGETS")
	for _, z := range st.Zones {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", z.Zone, z.RunningTasks, z.HealthyTargets)
	}
	_ = tw.Flush()
	if len(st.Zones) == 0 {
		fmt.Fprintln(w, "no task is running")
	}
}
