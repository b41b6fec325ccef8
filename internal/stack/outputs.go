package stack

import (
	"fmt"
	"strings"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// Outputs are what the layers built so far report, in build order. The
// state machines carry them from step to step, and each layer reads the
// earlier layers' outputs it needs from here.
type Outputs struct {
	Network  *NetworkOutput  `json:"network,omitempty"`
	Security *SecurityOutput `json:"security,omitempty"`
	Compute  *ComputeOutput  `json:"compute,omitempty"`
	Ingress  *IngressOutput  `json:"ingress,omitempty"`
	Service  *ServiceOutput  `json:"service,omitempty"`
}

// NetworkOutput is the network layer's IDs, by zone in zone order.
type NetworkOutput struct {
	VPCID                string   `json:"vpcId"`
	VPCCIDR              string   `json:"vpcCidr"`
	AZs                  []string `json:"azs"`
	PublicSubnetIDs      []string `json:"publicSubnetIds"`
	PrivateSubnetIDs     []string `json:"privateSubnetIds"`
	InternetGatewayID    string   `json:"internetGatewayId"`
	NATGatewayIDs        []string `json:"natGatewayIds"`
	PublicRouteTableID   string   `json:"publicRouteTableId"`
	PrivateRouteTableIDs []string `json:"privateRouteTableIds"`
}

// SecurityOutput is the security groups' IDs.
type SecurityOutput struct {
	ALBSecurityGroupID      string `json:"albSecurityGroupId"`
	TaskSecurityGroupID     string `json:"taskSecurityGroupId"`
	InstanceSecurityGroupID string `json:"instanceSecurityGroupId"`
}

// ComputeOutput is the fleet's names and IDs.
type ComputeOutput struct {
	ClusterName          string `json:"clusterName"`
	ClusterARN           string `json:"clusterArn"`
	CapacityProviderName string `json:"capacityProviderName"`
	AutoScalingGroupName string `json:"autoScalingGroupName"`
	LaunchTemplateID     string `json:"launchTemplateId"`
	ImageID              string `json:"imageId"`
}

// IngressOutput is the load balancer's ARNs and DNS name.
type IngressOutput struct {
	LoadBalancerARN string `json:"loadBalancerArn"`
	DNSName         string `json:"dnsName"`
	TargetGroupARN  string `json:"targetGroupArn"`
	// ListenerARN is the HTTP listener's: it forwards to the target group,
	// or redirects to HTTPS when the stack has a certificate.
	ListenerARN string `json:"listenerArn"`
	// HTTPSListenerARN is set when the stack has a certificate.
	HTTPSListenerARN string `json:"httpsListenerArn,omitempty"`
}

// ServiceOutput is the ECS service's names, and the deployment the build
// started, if it started one.
type ServiceOutput struct {
	ClusterName       string   `json:"clusterName"`
	ServiceName       string   `json:"serviceName"`
	ServiceARN        string   `json:"serviceArn"`
	TaskDefinitionARN string   `json:"taskDefinitionArn"`
	AlarmNames        []string `json:"alarmNames"`
	// Deployment is the deployment this run started through the shared
	// deployment path, whose verdict is still to be recorded.
	Deployment *Deployment `json:"deployment,omitempty"`
}

// Deployment identifies a deployment in flight: its ledger record, the
// ECS deployment that carries it, and the service lease it holds.
type Deployment struct {
	// Service is the ledger's name of the service, the lease's key.
	Service string `json:"service"`
	// ID is the ledger deployment record's ID.
	ID string `json:"id"`
	// ECSDeploymentID is the ECS deployment that UpdateService or
	// CreateService started.
	ECSDeploymentID string `json:"ecsDeploymentId"`
	// TaskDefinition is the revision rolled out, Previous the one the
	// service ran before (empty when the deployment created the service).
	TaskDefinition string `json:"taskDefinition"`
	Previous       string `json:"previous,omitempty"`
	LeaseOwner     string `json:"leaseOwner"`
	LeaseToken     int64  `json:"leaseToken"`
}

// Missing is the error of a step run without the earlier layers' outputs
// it needs, a state machine wired in the wrong order.
func Missing(step string, layers ...string) error {
	return handlererr.Invalid(fmt.Sprintf("%s needs the outputs of the %s layers first", step, strings.Join(layers, ", ")))
}

// Status is the outcome of one readiness check.
type Status struct {
	Ready bool `json:"ready"`
	// Detail says what is still missing, or what is there.
	Detail string `json:"detail"`
	// Why, while the check waits, says what it waits for and why that
	// might not happen, from what the check saw, for a wait that lasts.
	Why string `json:"why,omitempty"`
}

// NotYet is a check's answer while it waits.
func NotYet(format string, args ...any) Status {
	return Status{Detail: fmt.Sprintf(format, args...)}
}

// Because adds the explanation of a wait to a status.
func (s Status) Because(format string, args ...any) Status {
	s.Why = fmt.Sprintf(format, args...)
	return s
}

// PerZone reports the zones with no count and renders the counts in zone
// order, for checks that want something in every zone.
func PerZone(azs []string, counts map[string]int) (missing []string, summary string) {
	var parts []string
	for _, az := range azs {
		parts = append(parts, fmt.Sprintf("%s=%d", az, counts[az]))
		if counts[az] == 0 {
			missing = append(missing, az)
		}
	}
	return missing, strings.Join(parts, " ")
}
