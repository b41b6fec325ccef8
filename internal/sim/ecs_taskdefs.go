package sim

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func init() {
	handle(ecsID, "RegisterTaskDefinition", (*Sim).registerTaskDefinition)
	handle(ecsID, "DescribeTaskDefinition", (*Sim).describeTaskDefinition)
	handle(ecsID, "DeregisterTaskDefinition", (*Sim).deregisterTaskDefinition)
	handle(ecsID, "ListTaskDefinitions", (*Sim).listTaskDefinitions)
	handle(ecsID, "ListTaskDefinitionFamilies", (*Sim).listTaskDefinitionFamilies)
	handle(ecsID, "DeleteTaskDefinitions", (*Sim).deleteTaskDefinitions)
}

// taskFamily holds a family's revisions, oldest first.
type taskFamily struct {
	seq       uint64
	name      string
	revisions []*taskDef
}

// taskDef is one registered revision.
type taskDef struct {
	seq          uint64
	arn          string
	family       string
	revision     int32
	status       types.TaskDefinitionStatus
	in           ecs.RegisterTaskDefinitionInput
	cpu, memory  int32
	registeredAt time.Time
	deregistered time.Time
	tags         []types.Tag
}

func (td *taskDef) awsvpc() bool { return td.in.NetworkMode == types.NetworkModeAwsvpc }

func (s *Sim) registerTaskDefinition(in *ecs.RegisterTaskDefinitionInput) (*ecs.RegisterTaskDefinitionOutput, error) {
	family := aws.ToString(in.Family)
	if family == "" {
		return nil, ecsClient("Family must not be empty.")
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, ecsClient("Container.image should not be null or empty.")
	}
	var cpu, mem int32
	for _, c := range in.ContainerDefinitions {
		if aws.ToString(c.Name) == "" {
			return nil, ecsClient("Container.name should not be null or empty.")
		}
		if aws.ToString(c.Image) == "" {
			return nil, ecsClient("Container.image should not be null or empty.")
		}
		cpu += c.Cpu
		switch {
		case c.MemoryReservation != nil:
			mem += *c.MemoryReservation
		case c.Memory != nil:
			mem += *c.Memory
		case in.Memory == nil:
			return nil, ecsClient("Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' must be specified.", aws.ToString(c.Name))
		}
	}
	if v := aws.ToString(in.Cpu); v != "" {
		n, ok := taskSize(v, "vcpu", 1024)
		if !ok {
			return nil, ecsClient("Invalid 'cpu' setting for task.")
		}
		cpu = n
	}
	if v := aws.ToString(in.Memory); v != "" {
		n, ok := taskSize(v, "gb", 1024)
		if !ok {
			return nil, ecsClient("Invalid 'memory' setting for task.")
		}
		mem = n
	}
	if in.NetworkMode == "" {
		in.NetworkMode = types.NetworkModeBridge
	}
	f, ok := s.ecs.families[family]
	if !ok {
		f = &taskFamily{seq: s.ecs.next(), name: family}
		s.ecs.families[family] = f
	}
	rev := int32(len(f.revisions) + 1)
	td := &taskDef{
		seq: s.ecs.next(), arn: s.ecsArn("task-definition/" + family + ":" + strconv.Itoa(int(rev))), family: family, revision: rev,
		status: types.TaskDefinitionStatusActive, in: *in, cpu: cpu, memory: mem, registeredAt: s.clock.now, tags: ecsTags(in.Tags),
	}
	f.revisions = append(f.revisions, td)
	return &ecs.RegisterTaskDefinitionOutput{TaskDefinition: s.taskDefOut(td), Tags: td.tags}, nil
}

// taskSize parses a task-level cpu or memory value: units ("1024") or, with
// unit, a multiple of scale ("0.25 vCPU", "2 GB").
func taskSize(v, unit string, scale float64) (int32, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if n, err := strconv.Atoi(v); err == nil {
		return int32(n), n >= 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, unit)), 64)
	if err != nil || !strings.HasSuffix(v, unit) || f < 0 {
		return 0, false
	}
	return int32(f * scale), true
}

func (s *Sim) taskDefOut(td *taskDef) *types.TaskDefinition {
	out := &types.TaskDefinition{
		TaskDefinitionArn: aws.String(td.arn), Family: aws.String(td.family), Revision: td.revision, Status: td.status,
		ContainerDefinitions: td.in.ContainerDefinitions, NetworkMode: td.in.NetworkMode, Cpu: td.in.Cpu, Memory: td.in.Memory,
		ExecutionRoleArn: td.in.ExecutionRoleArn, TaskRoleArn: td.in.TaskRoleArn, Volumes: td.in.Volumes,
		PlacementConstraints: td.in.PlacementConstraints, RequiresCompatibilities: td.in.RequiresCompatibilities,
		Compatibilities: []types.Compatibility{types.CompatibilityEc2}, RuntimePlatform: td.in.RuntimePlatform,
		RegisteredAt: aws.Time(td.registeredAt), RegisteredBy: aws.String(s.arn("iam", "root")),
		RequiresAttributes: []types.Attribute{},
	}
	if td.awsvpc() {
		out.Compatibilities = append(out.Compatibilities, types.CompatibilityFargate)
		out.RequiresAttributes = append(out.RequiresAttributes, types.Attribute{Name: aws.String("ecs.capability.task-eni")})
	}
	if out.Volumes == nil {
		out.Volumes = []types.Volume{}
	}
	if out.PlacementConstraints == nil {
		out.PlacementConstraints = []types.TaskDefinitionPlacementConstraint{}
	}
	if !td.deregistered.IsZero() {
		out.DeregisteredAt = aws.Time(td.deregistered)
	}
	return out
}

// findTaskDef resolves family, family:revision or an ARN. A bare family
// means its latest ACTIVE revision.
func (s *Sim) findTaskDef(ref string) (*taskDef, error) {
	bad := ecsClient("Unable to describe task definition.")
	name := ref
	if i := strings.Index(ref, ":task-definition/"); i >= 0 {
		name = ref[i+len(":task-definition/"):]
	}
	family, revStr, hasRev := strings.Cut(name, ":")
	f, ok := s.ecs.families[family]
	if !ok {
		return nil, bad
	}
	if !hasRev {
		for i := len(f.revisions) - 1; i >= 0; i-- {
			if f.revisions[i].status == types.TaskDefinitionStatusActive {
				return f.revisions[i], nil
			}
		}
		return nil, bad
	}
	rev, err := strconv.Atoi(revStr)
	if err != nil || rev < 1 || rev > len(f.revisions) {
		return nil, bad
	}
	return f.revisions[rev-1], nil
}

func (s *Sim) describeTaskDefinition(in *ecs.DescribeTaskDefinitionInput) (*ecs.DescribeTaskDefinitionOutput, error) {
	td, err := s.findTaskDef(aws.ToString(in.TaskDefinition))
	if err != nil {
		return nil, err
	}
	out := &ecs.DescribeTaskDefinitionOutput{TaskDefinition: s.taskDefOut(td)}
	for _, f := range in.Include {
		if f == types.TaskDefinitionFieldTags {
			out.Tags = td.tags
		}
	}
	return out, nil
}

func (s *Sim) deregisterTaskDefinition(in *ecs.DeregisterTaskDefinitionInput) (*ecs.DeregisterTaskDefinitionOutput, error) {
	ref := aws.ToString(in.TaskDefinition)
	if !strings.Contains(ref, ":") {
		return nil, ecsInvalid("The specified task definition does not include a revision. Specify a task definition revision and try again.")
	}
	td, err := s.findTaskDef(ref)
	if err != nil {
		return nil, ecsClient("The specified task definition does not exist. Specify a valid account, family, revision and try again.")
	}
	if td.status == types.TaskDefinitionStatusActive {
		td.status = types.TaskDefinitionStatusInactive
		td.deregistered = s.clock.now
	}
	return &ecs.DeregisterTaskDefinitionOutput{TaskDefinition: s.taskDefOut(td)}, nil
}

func (s *Sim) listTaskDefinitions(in *ecs.ListTaskDefinitionsInput) (*ecs.ListTaskDefinitionsOutput, error) {
	status := in.Status
	if status == "" {
		status = types.TaskDefinitionStatusActive
	}
	var arns []string
	families := sortedBySeq(s.ecs.families, func(f *taskFamily) uint64 { return f.seq })
	// ListTaskDefinitions sorts by family, then revision.
	sortFamilies(families)
	for _, f := range families {
		if p := aws.ToString(in.FamilyPrefix); p != "" && f.name != p {
			continue
		}
		for _, td := range f.revisions {
			if td.status == status {
				arns = append(arns, td.arn)
			}
		}
	}
	if in.Sort == types.SortOrderDesc {
		for i, j := 0, len(arns)-1; i < j; i, j = i+1, j-1 {
			arns[i], arns[j] = arns[j], arns[i]
		}
	}
	page, next, err := paginate(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, ecsInvalid("Invalid token")
	}
	return &ecs.ListTaskDefinitionsOutput{TaskDefinitionArns: append([]string{}, page...), NextToken: next}, nil
}

func sortFamilies(fs []*taskFamily) {
	slices.SortFunc(fs, func(a, b *taskFamily) int { return cmp.Compare(a.name, b.name) })
}

func (s *Sim) listTaskDefinitionFamilies(in *ecs.ListTaskDefinitionFamiliesInput) (*ecs.ListTaskDefinitionFamiliesOutput, error) {
	families := sortedBySeq(s.ecs.families, func(f *taskFamily) uint64 { return f.seq })
	sortFamilies(families)
	var names []string
	for _, f := range families {
		if p := aws.ToString(in.FamilyPrefix); p != "" && !strings.HasPrefix(f.name, p) {
			continue
		}
		active := false
		for _, td := range f.revisions {
			active = active || td.status == types.TaskDefinitionStatusActive
		}
		if in.Status == types.TaskDefinitionFamilyStatusAll || (in.Status == types.TaskDefinitionFamilyStatusInactive) != active {
			names = append(names, f.name)
		}
	}
	page, next, err := paginate(names, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, ecsInvalid("Invalid token")
	}
	return &ecs.ListTaskDefinitionFamiliesOutput{Families: append([]string{}, page...), NextToken: next}, nil
}

// deleteTaskDefinitions deletes INACTIVE revisions. ECS keeps a deleted
// revision in DELETE_IN_PROGRESS while tasks still use it; the simulator
// keeps it so, since its number is never reused.
func (s *Sim) deleteTaskDefinitions(in *ecs.DeleteTaskDefinitionsInput) (*ecs.DeleteTaskDefinitionsOutput, error) {
	out := &ecs.DeleteTaskDefinitionsOutput{TaskDefinitions: []types.TaskDefinition{}, Failures: []types.Failure{}}
	for _, ref := range in.TaskDefinitions {
		td, err := s.findTaskDef(ref)
		if err != nil || !strings.Contains(ref, ":") {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(ref), Reason: aws.String("The specified task definition does not exist.")})
			continue
		}
		if td.status == types.TaskDefinitionStatusActive {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(td.arn), Reason: aws.String("The specified task definition is still in ACTIVE status. Please deregister the target and try again.")})
			continue
		}
		td.status = types.TaskDefinitionStatusDeleteInProgress
		o := s.taskDefOut(td)
		o.DeleteRequestedAt = aws.Time(s.clock.now)
		out.TaskDefinitions = append(out.TaskDefinitions, *o)
	}
	return out, nil
}
