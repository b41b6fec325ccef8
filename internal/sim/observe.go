package sim

import (
	"maps"
	"slices"
	"time"

	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// Snapshot is the fleet as it stands after one step of the simulation: its
// instances, its tasks and its load balancer targets, for a test to check
// invariants that must hold at every moment, not only when it looks.
type Snapshot struct {
	At        time.Time
	Instances []InstanceView
	Tasks     []TaskView
	Targets   []TargetView
}

// InstanceView is an EC2 instance in a Snapshot.
type InstanceView struct {
	ID, Zone string
	// State is the EC2 state: pending, running, shutting-down, terminated.
	State string
	// GroupState is its Auto Scaling lifecycle state; empty outside a group.
	GroupState astypes.LifecycleState
}

// TaskView is an ECS task in a Snapshot.
type TaskView struct {
	ARN        string
	InstanceID string
	Zone       string
	// Service is the task's service; empty for a standalone task.
	Service    string
	LastStatus string
	StopCode   string
	// TargetID is the task's target ID: its address for awsvpc tasks.
	TargetID string
}

// TargetView is a load balancer target in a Snapshot.
type TargetView struct {
	TargetGroupARN string
	ID             string
	Port           int32
	Zone           string
	// State is what DescribeTargetHealth reports for it.
	State string
}

// observers watch every step.
type observers struct {
	next  int
	funcs map[int]func(Snapshot)
}

// Observe calls fn with a Snapshot after every step of the simulation: each
// timer that fires and each API call it answers. fn runs under the
// simulator's lock, so it sees each step as it is, and must not call the
// simulator. The returned function stops the observation.
func (s *Sim) Observe(fn func(Snapshot)) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.observers.funcs == nil {
		s.observers.funcs = map[int]func(Snapshot){}
	}
	s.observers.next++
	id := s.observers.next
	s.observers.funcs[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.observers.funcs, id)
	}
}

// observed hands a snapshot to the observers, if any. The caller holds
// Sim.mu.
func (s *Sim) observed() {
	if len(s.observers.funcs) == 0 {
		return
	}
	snap := s.snapshot()
	for _, id := range slices.Sorted(maps.Keys(s.observers.funcs)) {
		s.observers.funcs[id](snap)
	}
}

func (s *Sim) snapshot() Snapshot {
	snap := Snapshot{At: s.clock.now}
	for _, inst := range s.ec2.sortedInstances() {
		v := InstanceView{ID: inst.id, Zone: inst.az, State: inst.state}
		if _, ai, ok := s.groupOf(inst.id); ok {
			v.GroupState = ai.state
		}
		snap.Instances = append(snap.Instances, v)
	}
	for _, t := range s.ecs.sortedTasks() {
		v := TaskView{ARN: t.arn, Zone: t.az, LastStatus: t.lastStatus, StopCode: string(t.stopCode), TargetID: t.targetID()}
		if t.ci != nil {
			v.InstanceID = t.ci.inst.id
		}
		if t.service != nil {
			v.Service = t.service.name
		}
		snap.Tasks = append(snap.Tasks, v)
	}
	for _, tg := range sortedBySeq(s.elb.targetGroups, func(tg *targetGroup) uint64 { return tg.seq }) {
		for _, t := range sortedBySeq(tg.targets, func(t *target) uint64 { return t.seq }) {
			st, _, _ := s.effectiveHealth(tg, t)
			snap.Targets = append(snap.Targets, TargetView{TargetGroupARN: tg.arn, ID: t.id, Port: t.port, Zone: t.az, State: string(st)})
		}
	}
	return snap
}
