package events

// Auto Scaling and EC2 detail types.
const (
	DetailTypeLaunchLifecycleAction    = "EC2 Instance-launch Lifecycle Action"
	DetailTypeTerminateLifecycleAction = "EC2 Instance-terminate Lifecycle Action"
	DetailTypeLaunchSuccessful         = "EC2 Instance Launch Successful"
	DetailTypeLaunchUnsuccessful       = "EC2 Instance Launch Unsuccessful"
	DetailTypeTerminateSuccessful      = "EC2 Instance Terminate Successful"
	DetailTypeInstanceStateChange      = "EC2 Instance State-change Notification"
)

// Lifecycle transitions, as hooks and events name them.
const (
	TransitionLaunching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	TransitionTerminating = "autoscaling:EC2_INSTANCE_TERMINATING"
)

// LifecycleAction is the detail of an "EC2 Instance-launch Lifecycle Action"
// or "EC2 Instance-terminate Lifecycle Action" event (aws.autoscaling): an
// instance waits on a lifecycle hook until the action is completed or the
// hook times out. Its transition decides its detail type.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/automating-ec2-auto-scaling-with-eventbridge.html
type LifecycleAction struct {
	LifecycleActionToken string `json:"LifecycleActionToken"`
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	LifecycleHookName    string `json:"LifecycleHookName"`
	EC2InstanceID        string `json:"EC2InstanceId"`
	LifecycleTransition  string `json:"LifecycleTransition"`
	NotificationMetadata string `json:"NotificationMetadata,omitempty"`
	Origin               string `json:"Origin"`
	Destination          string `json:"Destination"`
}

// EventSource is aws.autoscaling.
func (LifecycleAction) EventSource() string { return SourceAutoScaling }

// EventDetailType follows the transition: launch or terminate.
func (d LifecycleAction) EventDetailType() string {
	if d.LifecycleTransition == TransitionTerminating {
		return DetailTypeTerminateLifecycleAction
	}
	return DetailTypeLaunchLifecycleAction
}

func (d LifecycleAction) problems([]string) []string {
	var c checker
	c.required("LifecycleActionToken", d.LifecycleActionToken, "AutoScalingGroupName", d.AutoScalingGroupName,
		"LifecycleHookName", d.LifecycleHookName, "EC2InstanceId", d.EC2InstanceID)
	c.oneOf("LifecycleTransition", d.LifecycleTransition, TransitionLaunching, TransitionTerminating)
	return c
}

// ParseLifecycleAction parses a launch or terminate lifecycle action event.
func ParseLifecycleAction(raw []byte) (Event[LifecycleAction], error) {
	return Parse[LifecycleAction](raw)
}

// ScalingActivity is what the "EC2 Instance Launch Successful", "EC2
// Instance Launch Unsuccessful" and "EC2 Instance Terminate Successful"
// details (aws.autoscaling) share: one scaling activity's outcome. A launch
// that failed for lack of capacity names no instance.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/automating-ec2-auto-scaling-with-eventbridge.html
type ScalingActivity struct {
	StatusCode           string          `json:"StatusCode"`
	Description          string          `json:"Description,omitempty"`
	AutoScalingGroupName string          `json:"AutoScalingGroupName"`
	ActivityID           string          `json:"ActivityId"`
	Details              ActivityDetails `json:"Details"`
	RequestID            string          `json:"RequestId"`
	StatusMessage        string          `json:"StatusMessage"`
	EndTime              string          `json:"EndTime"`
	EC2InstanceID        string          `json:"EC2InstanceId"`
	StartTime            string          `json:"StartTime"`
	Cause                string          `json:"Cause"`
	Origin               string          `json:"Origin"`
	Destination          string          `json:"Destination"`
}

// ActivityDetails are where an activity launched or terminated.
type ActivityDetails struct {
	SubnetID         string `json:"Subnet ID,omitempty"`
	AvailabilityZone string `json:"Availability Zone,omitempty"`
}

func (d ScalingActivity) problems([]string) []string {
	var c checker
	c.required("AutoScalingGroupName", d.AutoScalingGroupName, "ActivityId", d.ActivityID, "StatusCode", d.StatusCode)
	return c
}

// EventSource is aws.autoscaling.
func (ScalingActivity) EventSource() string { return SourceAutoScaling }

// InstanceLaunchSuccessful is the detail of an "EC2 Instance Launch
// Successful" event.
type InstanceLaunchSuccessful struct{ ScalingActivity }

// EventDetailType is "EC2 Instance Launch Successful".
func (InstanceLaunchSuccessful) EventDetailType() string { return DetailTypeLaunchSuccessful }

// InstanceLaunchUnsuccessful is the detail of an "EC2 Instance Launch
// Unsuccessful" event.
type InstanceLaunchUnsuccessful struct{ ScalingActivity }

// EventDetailType is "EC2 Instance Launch Unsuccessful".
func (InstanceLaunchUnsuccessful) EventDetailType() string { return DetailTypeLaunchUnsuccessful }

// InstanceTerminateSuccessful is the detail of an "EC2 Instance Terminate
// Successful" event.
type InstanceTerminateSuccessful struct{ ScalingActivity }

// EventDetailType is "EC2 Instance Terminate Successful".
func (InstanceTerminateSuccessful) EventDetailType() string { return DetailTypeTerminateSuccessful }

// InstanceStateChange is the detail of an "EC2 Instance State-change
// Notification" event (aws.ec2).
//
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
type InstanceStateChange struct {
	InstanceID string `json:"instance-id"`
	State      string `json:"state"`
}

// EventSource is aws.ec2.
func (InstanceStateChange) EventSource() string { return SourceEC2 }

// EventDetailType is "EC2 Instance State-change Notification".
func (InstanceStateChange) EventDetailType() string { return DetailTypeInstanceStateChange }

func (d InstanceStateChange) problems([]string) []string {
	var c checker
	c.required("instance-id", d.InstanceID)
	c.oneOf("state", d.State, "pending", "running", "stopping", "stopped", "shutting-down", "terminated")
	return c
}
