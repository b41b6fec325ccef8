package sim

import (
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

func init() {
	handle(asgID, "SuspendProcesses", (*Sim).suspendProcesses)
	handle(asgID, "ResumeProcesses", (*Sim).resumeProcesses)
}

func processes(names []string) ([]string, error) {
	if len(names) == 0 {
		return scalingProcesses, nil
	}
	for _, n := range names {
		if !containsString(scalingProcesses, n) {
			return nil, validationError("Process %s is not a valid process name.", n)
		}
	}
	return names, nil
}

func (s *Sim) suspendProcesses(in *autoscaling.SuspendProcessesInput) (*autoscaling.SuspendProcessesOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	names, err := processes(in.ScalingProcesses)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		g.suspended[n] = "User suspended at " + s.clock.now.UTC().Format("2006-01-02T15:04:05Z")
	}
	return &autoscaling.SuspendProcessesOutput{}, nil
}

func (s *Sim) resumeProcesses(in *autoscaling.ResumeProcessesInput) (*autoscaling.ResumeProcessesOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	names, err := processes(in.ScalingProcesses)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		delete(g.suspended, n)
	}
	s.asgKick(g, s.timings.ScalingReaction)
	s.asgScheduleHealthCheck(g)
	return &autoscaling.ResumeProcessesOutput{}, nil
}
