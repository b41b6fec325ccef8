package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const ecsID = ecs.ServiceID

// ServiceTimings are the durations of ECS, Elastic Load Balancing and
// CloudWatch transitions. Zero fields keep their defaults.
type ServiceTimings struct {
	// AgentRegistration is how long after its EC2 instance is running a
	// container instance registers with its cluster.
	AgentRegistration time.Duration
	// AgentDisconnect is how long after its host fails a container instance's
	// agent shows as disconnected.
	AgentDisconnect time.Duration
	// TaskProvisioning is how long an awsvpc task spends attaching its
	// network interface (PROVISIONING).
	TaskProvisioning time.Duration
	// ImagePull is how long a task spends pulling its images (PENDING).
	ImagePull time.Duration
	// TaskStop is how long a task's containers take to exit after being told
	// to stop (STOPPING).
	TaskStop time.Duration
	// TaskDeprovisioning is how long an awsvpc task spends detaching its
	// network interface (DEPROVISIONING).
	TaskDeprovisioning time.Duration
	// BadImageExit is how long a task running a bad image that exits stays
	// RUNNING before its essential container exits.
	BadImageExit time.Duration
	// HealthReaction is how long the service scheduler takes to act on a
	// target that turned unhealthy.
	HealthReaction time.Duration
	// SchedulerRetry is how long the service scheduler waits before trying
	// again to place tasks that found no capacity.
	SchedulerRetry time.Duration
	// LoadBalancerProvisioning is how long a new load balancer stays
	// provisioning.
	LoadBalancerProvisioning time.Duration
}

func (t ServiceTimings) withDefaults() ServiceTimings {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.AgentRegistration, 20*time.Second)
	def(&t.AgentDisconnect, 30*time.Second)
	def(&t.TaskProvisioning, 5*time.Second)
	def(&t.ImagePull, 10*time.Second)
	def(&t.TaskStop, 2*time.Second)
	def(&t.TaskDeprovisioning, 5*time.Second)
	def(&t.BadImageExit, 5*time.Second)
	def(&t.HealthReaction, 10*time.Second)
	def(&t.SchedulerRetry, 30*time.Second)
	def(&t.LoadBalancerProvisioning, 2*time.Minute)
	return t
}

func init() {
	registerService(service{id: ecsID, throttleCode: "ThrottlingException", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) {
		s.timings.Services = s.timings.Services.withDefaults()
		s.ecs = &ecsState{
			clusters: map[string]*ecsCluster{}, providers: map[string]*capacityProvider{},
			families: map[string]*taskFamily{}, instances: map[string]*containerInstance{},
			tasks: map[string]*ecsTask{}, imageFaults: map[string]ImageFault{},
		}
		s.instanceObservers = append(s.instanceObservers, s.ecsOnInstance)
	})
}

// ecsState is the simulated ECS service.
type ecsState struct {
	seq         uint64
	clusters    map[string]*ecsCluster
	providers   map[string]*capacityProvider
	families    map[string]*taskFamily
	instances   map[string]*containerInstance // by ARN
	tasks       map[string]*ecsTask           // by ARN
	imageFaults map[string]ImageFault
}

func (st *ecsState) next() uint64 {
	st.seq++
	return st.seq
}

// ecsCluster is a simulated cluster.
type ecsCluster struct {
	seq             uint64
	name, arn       string
	status          string
	providers       []string
	defaultStrategy []types.CapacityProviderStrategyItem
	settings        []types.ClusterSetting
	tags            []types.Tag
	services        map[string]*ecsService
}

// capacityProvider is a simulated Auto Scaling group capacity provider.
type capacityProvider struct {
	seq                uint64
	name, arn          string
	asgArn             string
	managedScaling     bool
	targetCapacity     int32
	minStep, maxStep   int32
	warmup             int32
	terminationProtect bool
	managedDraining    bool
	cluster            string
	tags               []types.Tag
	lowSince           int // consecutive evaluations that asked for less capacity
}

// hex32 returns 32 hex digits from the seeded generator, the shape of task
// and container instance IDs.
func (s *Sim) hex32() string {
	return strings.ReplaceAll(s.newUUID(), "-", "")
}

func (s *Sim) ecsArn(resource string) string { return s.arn("ecs", resource) }

// ecsInvalid is ECS's bad-input error.
func ecsInvalid(format string, args ...any) error {
	return &types.InvalidParameterException{Message: aws.String(fmt.Sprintf(format, args...))}
}

// ecsClient is ECS's generic refusal.
func ecsClient(format string, args ...any) error {
	return &types.ClientException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func clusterNotFound() error {
	return &types.ClusterNotFoundException{Message: aws.String("Cluster not found.")}
}

// clusterName reduces a cluster name or ARN to its name; empty is the
// default cluster, as ECS has it.
func clusterName(ref *string) string {
	v := aws.ToString(ref)
	if v == "" {
		return "default"
	}
	if i := strings.LastIndex(v, ":cluster/"); i >= 0 {
		return v[i+len(":cluster/"):]
	}
	return v
}

// findCluster returns an ACTIVE cluster named by name or ARN.
func (s *Sim) findCluster(ref *string) (*ecsCluster, error) {
	c, ok := s.ecs.clusters[clusterName(ref)]
	if !ok || c.status != "ACTIVE" {
		return nil, clusterNotFound()
	}
	return c, nil
}

func sortedBySeq[T any](m map[string]T, seq func(T) uint64) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(seq(a), seq(b)) })
	return out
}

func (c *ecsCluster) sortedServices() []*ecsService {
	return sortedBySeq(c.services, func(v *ecsService) uint64 { return v.seq })
}

func (st *ecsState) sortedInstances() []*containerInstance {
	return sortedBySeq(st.instances, func(v *containerInstance) uint64 { return v.seq })
}

func (st *ecsState) sortedTasks() []*ecsTask {
	return sortedBySeq(st.tasks, func(v *ecsTask) uint64 { return v.seq })
}

// ecsTime formats a time as ECS's events do: ISO 8601 with milliseconds.
func ecsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// lastSegment returns what follows the last slash of an ARN.
func lastSegment(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func ecsTags(in []types.Tag) []types.Tag {
	if len(in) == 0 {
		return nil
	}
	return append([]types.Tag(nil), in...)
}
