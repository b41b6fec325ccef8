package events

import (
	"regexp"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// ECS detail types.
const (
	DetailTypeECSDeploymentStateChange        = "ECS Deployment State Change"
	DetailTypeECSTaskStateChange              = "ECS Task State Change"
	DetailTypeECSContainerInstanceStateChange = "ECS Container Instance State Change"
	DetailTypeECSServiceAction                = "ECS Service Action"
)

// ECS event types (detail.eventType) of deployment and service action events.
const (
	ECSEventInfo  = "INFO"
	ECSEventWarn  = "WARN"
	ECSEventError = "ERROR"
)

// Service deployment event names (detail.eventName).
const (
	DeploymentInProgress = "SERVICE_DEPLOYMENT_IN_PROGRESS"
	DeploymentCompleted  = "SERVICE_DEPLOYMENT_COMPLETED"
	DeploymentFailed     = "SERVICE_DEPLOYMENT_FAILED"
)

// Service action event names (detail.eventName) the simulator emits.
const (
	ServiceSteadyState          = "SERVICE_STEADY_STATE"
	ServiceTaskPlacementFailure = "SERVICE_TASK_PLACEMENT_FAILURE"
	ServiceTaskStartImpaired    = "SERVICE_TASK_START_IMPAIRED"
)

var (
	deploymentIDRe = regexp.MustCompile(`^ecs-svc/\d+$`)
	ecsServiceArn  = "arn:aws:ecs:"
)

// DeploymentStateChange is the detail of an "ECS Deployment State Change"
// event (aws.ecs): a rolling deployment started (also a rollback, told apart
// by its reason), completed, or failed by the circuit breaker or a deployment
// alarm. The event's resources name the service. AWS's current events carry
// the cluster's ARN, which the page's 2020 examples do not show.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
type DeploymentStateChange struct {
	EventType    string `json:"eventType"`
	EventName    string `json:"eventName"`
	ClusterArn   string `json:"clusterArn,omitempty"`
	DeploymentID string `json:"deploymentId"`
	UpdatedAt    string `json:"updatedAt"`
	Reason       string `json:"reason"`
}

// EventSource is aws.ecs.
func (DeploymentStateChange) EventSource() string { return SourceECS }

// EventDetailType is "ECS Deployment State Change".
func (DeploymentStateChange) EventDetailType() string { return DetailTypeECSDeploymentStateChange }

func (d DeploymentStateChange) problems(resources []string) []string {
	var c checker
	c.oneOf("eventType", d.EventType, ECSEventInfo, ECSEventError)
	c.oneOf("eventName", d.EventName, DeploymentInProgress, DeploymentCompleted, DeploymentFailed)
	c.matches("deploymentId", d.DeploymentID, deploymentIDRe)
	c.timestamp("updatedAt", d.UpdatedAt)
	if d.ClusterArn != "" {
		c.matches("clusterArn", d.ClusterArn, arnRe)
	}
	c.resource(resources, ecsServiceArn)
	return c
}

// ParseDeploymentStateChange parses an "ECS Deployment State Change" event.
func ParseDeploymentStateChange(raw []byte) (Event[DeploymentStateChange], error) {
	return Parse[DeploymentStateChange](raw)
}

// ServiceAction is the detail of an "ECS Service Action" event (aws.ecs): a
// service reached a steady state, could not place a task, or cannot start
// tasks consistently. The event's resources name the service.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html
type ServiceAction struct {
	EventType            string   `json:"eventType"`
	EventName            string   `json:"eventName"`
	ClusterArn           string   `json:"clusterArn"`
	CapacityProviderArns []string `json:"capacityProviderArns,omitempty"`
	Reason               string   `json:"reason,omitempty"`
	CreatedAt            string   `json:"createdAt"`
}

// EventSource is aws.ecs.
func (ServiceAction) EventSource() string { return SourceECS }

// EventDetailType is "ECS Service Action".
func (ServiceAction) EventDetailType() string { return DetailTypeECSServiceAction }

func (d ServiceAction) problems(resources []string) []string {
	var c checker
	c.oneOf("eventType", d.EventType, ECSEventInfo, ECSEventWarn, ECSEventError)
	c.required("eventName", d.EventName)
	c.matches("clusterArn", d.ClusterArn, arnRe)
	c.timestamp("createdAt", d.CreatedAt)
	c.resource(resources, ecsServiceArn)
	return c
}

// ParseServiceAction parses an "ECS Service Action" event.
func ParseServiceAction(raw []byte) (Event[ServiceAction], error) {
	return Parse[ServiceAction](raw)
}

// TaskStateChange is the detail of an "ECS Task State Change" event
// (aws.ecs), in the documented field order. Tasks on EC2 also carry their
// container instance, who started them and, once stopping, why; Fargate tasks
// carry a platform version.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html
type TaskStateChange struct {
	Attachments          []TaskAttachment `json:"attachments"`
	AvailabilityZone     string           `json:"availabilityZone,omitempty"`
	ClusterArn           string           `json:"clusterArn"`
	ContainerInstanceArn string           `json:"containerInstanceArn,omitempty"`
	Containers           []TaskContainer  `json:"containers"`
	CreatedAt            string           `json:"createdAt"`
	LaunchType           string           `json:"launchType"`
	CPU                  string           `json:"cpu"`
	Memory               string           `json:"memory"`
	DesiredStatus        string           `json:"desiredStatus"`
	Group                string           `json:"group"`
	LastStatus           string           `json:"lastStatus"`
	Overrides            TaskOverrides    `json:"overrides"`
	Connectivity         string           `json:"connectivity,omitempty"`
	ConnectivityAt       string           `json:"connectivityAt,omitempty"`
	PullStartedAt        string           `json:"pullStartedAt,omitempty"`
	StartedAt            string           `json:"startedAt,omitempty"`
	StartedBy            string           `json:"startedBy,omitempty"`
	StoppingAt           string           `json:"stoppingAt,omitempty"`
	StoppedAt            string           `json:"stoppedAt,omitempty"`
	StoppedReason        string           `json:"stoppedReason,omitempty"`
	StopCode             string           `json:"stopCode,omitempty"`
	PullStoppedAt        string           `json:"pullStoppedAt,omitempty"`
	UpdatedAt            string           `json:"updatedAt"`
	TaskArn              string           `json:"taskArn"`
	TaskDefinitionArn    string           `json:"taskDefinitionArn"`
	Version              int64            `json:"version"`
	PlatformVersion      string           `json:"platformVersion,omitempty"`
}

// TaskAttachment is a task's network interface attachment.
type TaskAttachment struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Status  string         `json:"status"`
	Details []KeyValuePair `json:"details"`
}

// KeyValuePair is one attachment detail.
type KeyValuePair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TaskContainer is one of a task's containers.
type TaskContainer struct {
	ContainerArn      string                 `json:"containerArn"`
	LastStatus        string                 `json:"lastStatus"`
	Name              string                 `json:"name"`
	Image             string                 `json:"image"`
	ImageDigest       string                 `json:"imageDigest,omitempty"`
	RuntimeID         string                 `json:"runtimeId,omitempty"`
	TaskArn           string                 `json:"taskArn"`
	NetworkInterfaces []TaskNetworkInterface `json:"networkInterfaces"`
	CPU               string                 `json:"cpu"`
	ExitCode          *int32                 `json:"exitCode,omitempty"`
	Reason            string                 `json:"reason,omitempty"`
}

// TaskNetworkInterface is a container's network interface.
type TaskNetworkInterface struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIpv4Address string `json:"privateIpv4Address"`
}

// TaskOverrides are a task's container overrides.
type TaskOverrides struct {
	ContainerOverrides []ContainerOverride `json:"containerOverrides"`
}

// ContainerOverride names an overridden container.
type ContainerOverride struct {
	Name string `json:"name"`
}

// EventSource is aws.ecs.
func (TaskStateChange) EventSource() string { return SourceECS }

// EventDetailType is "ECS Task State Change".
func (TaskStateChange) EventDetailType() string { return DetailTypeECSTaskStateChange }

func (d TaskStateChange) problems([]string) []string {
	var c checker
	c.matches("taskArn", d.TaskArn, arnRe)
	c.matches("clusterArn", d.ClusterArn, arnRe)
	c.matches("taskDefinitionArn", d.TaskDefinitionArn, arnRe)
	c.required("lastStatus", d.LastStatus, "desiredStatus", d.DesiredStatus)
	if d.Version < 1 {
		c = append(c, "version must be positive")
	}
	return c
}

// ParseTaskStateChange parses an "ECS Task State Change" event.
func ParseTaskStateChange(raw []byte) (Event[TaskStateChange], error) {
	return Parse[TaskStateChange](raw)
}

// ContainerInstanceStateChange is the detail of an "ECS Container Instance
// State Change" event (aws.ecs): aws-lambda-go's
// ECSContainerInstanceEventDetailType. Like the documented example it names
// the instance's attributes without their values.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_container_instance_events.html
type ContainerInstanceStateChange lambdaevents.ECSContainerInstanceEventDetailType

// EventSource is aws.ecs.
func (ContainerInstanceStateChange) EventSource() string { return SourceECS }

// EventDetailType is "ECS Container Instance State Change".
func (ContainerInstanceStateChange) EventDetailType() string {
	return DetailTypeECSContainerInstanceStateChange
}

func (d ContainerInstanceStateChange) problems([]string) []string {
	var c checker
	c.matches("containerInstanceArn", d.ContainerInstanceARN, arnRe)
	c.matches("clusterArn", d.ClusterARN, arnRe)
	c.required("ec2InstanceId", d.EC2InstanceID)
	c.oneOf("status", d.Status, "ACTIVE", "DRAINING", "INACTIVE", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED")
	return c
}

// ParseContainerInstanceStateChange parses an "ECS Container Instance State
// Change" event.
func ParseContainerInstanceStateChange(raw []byte) (Event[ContainerInstanceStateChange], error) {
	return Parse[ContainerInstanceStateChange](raw)
}
