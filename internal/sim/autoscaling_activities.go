package sim

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/ecsplane/ecsplane/internal/events"
)

func init() {
	handle(asgID, "DescribeScalingActivities", (*Sim).describeScalingActivities)
}

// activity is a scaling activity: one launch or termination.
type activity struct {
	seq           uint64
	id            string
	description   string
	cause         string
	subnetID, az  string
	status        types.ScalingActivityStatusCode
	statusMessage string
	start, end    time.Time
}

func (s *Sim) newActivity(g *asGroup, description, cause, subnetID, az string) *activity {
	s.asg.seq++
	a := &activity{seq: s.asg.seq, id: s.newUUID(), description: description, cause: cause, subnetID: subnetID, az: az, status: types.ScalingActivityStatusCodeInProgress, start: s.clock.now}
	g.activities = append(g.activities, a)
	// AWS keeps six weeks of activities; the simulator keeps the most recent
	// ones, which is all a caller can page through in practice.
	if len(g.activities) > 1000 {
		g.activities = g.activities[len(g.activities)-1000:]
	}
	return a
}

func (a *activity) finish(now time.Time, status types.ScalingActivityStatusCode, message string) {
	a.status, a.statusMessage, a.end = status, message, now
}

func (s *Sim) activityOut(g *asGroup, a *activity) types.Activity {
	details, _ := json.Marshal(events.ActivityDetails{SubnetID: a.subnetID, AvailabilityZone: a.az})
	out := types.Activity{
		ActivityId: aws.String(a.id), AutoScalingGroupName: aws.String(g.name), AutoScalingGroupARN: aws.String(g.arn),
		Description: aws.String(a.description), Cause: aws.String(a.cause), StartTime: aws.Time(a.start), StatusCode: a.status,
		Details: aws.String(string(details)), Progress: aws.Int32(0),
	}
	if a.statusMessage != "" {
		out.StatusMessage = aws.String(a.statusMessage)
	}
	if !a.end.IsZero() {
		out.EndTime = aws.Time(a.end)
		out.Progress = aws.Int32(100)
	}
	return out
}

// emitActivity publishes an activity's outcome. AWS's events carry the status
// the activity had while the event was prepared, which for the successful
// ones is InProgress.
func (s *Sim) emitActivity(g *asGroup, a *activity, detailType, status, instanceID string, launching bool) {
	resources := []string{g.arn}
	if instanceID != "" {
		resources = append(resources, s.instanceArn(instanceID))
	}
	origin, dest := "EC2", "AutoScalingGroup"
	if !launching {
		origin, dest = dest, origin
	}
	end := a.end
	if end.IsZero() {
		end = s.clock.now
	}
	act := events.ScalingActivity{
		StatusCode: status, Description: a.description, AutoScalingGroupName: g.name, ActivityID: a.id,
		Details: events.ActivityDetails{SubnetID: a.subnetID, AvailabilityZone: a.az}, RequestID: a.id, StatusMessage: a.statusMessage,
		EndTime: end.UTC().Format(eventTimeFormat), EC2InstanceID: instanceID, StartTime: a.start.UTC().Format(eventTimeFormat),
		Cause: a.cause, Origin: origin, Destination: dest,
	}
	switch detailType {
	case events.DetailTypeLaunchSuccessful:
		s.emit(resources, events.InstanceLaunchSuccessful{ScalingActivity: act})
	case events.DetailTypeLaunchUnsuccessful:
		s.emit(resources, events.InstanceLaunchUnsuccessful{ScalingActivity: act})
	case events.DetailTypeTerminateSuccessful:
		s.emit(resources, events.InstanceTerminateSuccessful{ScalingActivity: act})
	}
}

func (s *Sim) describeScalingActivities(in *autoscaling.DescribeScalingActivitiesInput) (*autoscaling.DescribeScalingActivitiesOutput, error) {
	var groups []*asGroup
	if in.AutoScalingGroupName != nil {
		if g, ok := s.asg.groups[*in.AutoScalingGroupName]; ok && !s.hidden(asgID, g.created) {
			groups = []*asGroup{g}
		}
	} else {
		groups = s.visibleGroups()
	}
	var acts []types.Activity
	type pair struct {
		g *asGroup
		a *activity
	}
	var all []pair
	for _, g := range groups {
		for _, a := range g.activities {
			if len(in.ActivityIds) == 0 || containsString(in.ActivityIds, a.id) {
				all = append(all, pair{g, a})
			}
		}
	}
	slices.SortFunc(all, func(x, y pair) int { return cmp.Compare(y.a.seq, x.a.seq) })
	for _, p := range all {
		acts = append(acts, s.activityOut(p.g, p.a))
	}
	if in.MaxRecords == nil {
		in.MaxRecords = aws.Int32(100)
	}
	page, next, err := paginateRecords(acts, in.MaxRecords, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &autoscaling.DescribeScalingActivitiesOutput{Activities: page, NextToken: next}, nil
}
