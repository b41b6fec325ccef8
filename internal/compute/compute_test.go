package compute

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// response mirrors what DescribeLaunchTemplateVersions returns for data.
func response(d *ec2types.RequestLaunchTemplateData) *ec2types.ResponseLaunchTemplateData {
	ebs := d.BlockDeviceMappings[0].Ebs
	return &ec2types.ResponseLaunchTemplateData{
		ImageId: d.ImageId, InstanceType: d.InstanceType, UserData: d.UserData, SecurityGroupIds: d.SecurityGroupIds,
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecification{Arn: d.IamInstanceProfile.Arn},
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptions{HttpTokens: d.MetadataOptions.HttpTokens,
			HttpEndpoint: d.MetadataOptions.HttpEndpoint, HttpPutResponseHopLimit: d.MetadataOptions.HttpPutResponseHopLimit},
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"),
			Ebs: &ec2types.LaunchTemplateEbsBlockDevice{VolumeSize: ebs.VolumeSize, VolumeType: ebs.VolumeType, Encrypted: ebs.Encrypted}}},
	}
}

func TestTemplateDrift(t *testing.T) {
	spec := stack.Defaults("web")
	want := LaunchTemplateData(spec, "ami-1", "sg-1")
	if d := templateDrift(want, response(want)); len(d) != 0 {
		t.Fatalf("identical data drifted: %v", d)
	}
	got := response(want)
	got.MetadataOptions.HttpTokens = ec2types.LaunchTemplateHttpTokensStateOptional
	got.ImageId = aws.String("ami-0")
	got.BlockDeviceMappings[0].Ebs.Encrypted = aws.Bool(false)
	d := strings.Join(templateDrift(want, got), "; ")
	for _, s := range []string{`image "ami-0", want "ami-1"`, `http tokens "optional", want "required"`, "encrypted=false"} {
		if !strings.Contains(d, s) {
			t.Errorf("drift %q lacks %q", d, s)
		}
	}
}

func TestLaunchTemplateData(t *testing.T) {
	spec := stack.Defaults("web")
	spec.Roles.InstanceProfileARN = "arn:aws:iam::123456789012:instance-profile/web"
	d := LaunchTemplateData(spec, "ami-1", "sg-1")
	ud, err := base64.StdEncoding.DecodeString(aws.ToString(d.UserData))
	if err != nil || !strings.Contains(string(ud), "ECS_CLUSTER=web\n") {
		t.Errorf("user data %q (%v) does not join cluster web", ud, err)
	}
	if d.MetadataOptions.HttpTokens != ec2types.LaunchTemplateHttpTokensStateRequired || !aws.ToBool(d.BlockDeviceMappings[0].Ebs.Encrypted) {
		t.Error("IMDSv2 or root encryption missing")
	}
	if !strings.Contains(AMIParameter(true), "/arm64/") || strings.Contains(AMIParameter(false), "arm64") {
		t.Error("AMI parameter does not follow the architecture")
	}
}

func TestHooks(t *testing.T) {
	h := Hooks(stack.Defaults("web"))
	if len(h) != 2 || aws.ToString(h[0].DefaultResult) != "ABANDON" || aws.ToString(h[1].DefaultResult) != "CONTINUE" ||
		aws.ToString(h[1].LifecycleTransition) != "autoscaling:EC2_INSTANCE_TERMINATING" {
		t.Fatalf("hooks %+v", h)
	}
}

func TestUnwantedHooksAndResources(t *testing.T) {
	spec := stack.Defaults("web")
	have := map[string]bool{HookName(spec, LaunchHook): true, HookName(spec, TerminateHook): true, "web-drain-hook": true}
	if got := unwantedHooks(spec, have); len(got) != 1 || got[0] != "web-drain-hook" {
		t.Fatalf("unwanted hooks %v, want only the one the spec does not name", got)
	}
	inv := &inventory{
		templates: map[string]ec2types.LaunchTemplate{LaunchTemplate: {}, "lt-old": {LaunchTemplateId: aws.String("lt-0")}},
		groups:    map[string]astypes.AutoScalingGroup{GroupName(spec): {}, "web-asg-old": {}},
	}
	u := inv.unwanted(spec)
	if len(u.templates) != 1 || aws.ToString(u.templates["lt-old"].LaunchTemplateId) != "lt-0" || len(u.groups) != 1 {
		t.Fatalf("unwanted %+v, want the old template and the old group", u)
	}
}

// TestGroupWhySaysWhatTheWaitDependsOn: the explanation of a group without
// an InService instance in every zone follows where its instances are.
func TestGroupWhySaysWhatTheWaitDependsOn(t *testing.T) {
	inst := func(zone string, state astypes.LifecycleState) astypes.Instance {
		return astypes.Instance{AvailabilityZone: aws.String(zone), LifecycleState: state}
	}
	tests := []struct {
		instances []astypes.Instance
		want      string
	}{
		{[]astypes.Instance{inst("us-east-1a", astypes.LifecycleStateInService), inst("us-east-1a", astypes.LifecycleStateInService)},
			"all 2 InService instances are in [us-east-1a] and none is in [us-east-1b]"},
		{[]astypes.Instance{inst("us-east-1a", astypes.LifecycleStateInService), inst("us-east-1b", astypes.LifecycleStatePendingWait)},
			"1 instances wait on the launch lifecycle hook"},
		{nil, "the group has launched no instance yet"},
		{[]astypes.Instance{inst("us-east-1b", astypes.LifecycleStatePending)}, "instances are launching in [us-east-1a us-east-1b]"},
	}
	for _, tt := range tests {
		counts, waiting := map[string]int{}, 0
		for _, i := range tt.instances {
			switch i.LifecycleState {
			case astypes.LifecycleStateInService:
				counts[aws.ToString(i.AvailabilityZone)]++
			case astypes.LifecycleStatePendingWait:
				waiting++
			}
		}
		missing, _ := stack.PerZone([]string{"us-east-1a", "us-east-1b"}, counts)
		if got := groupWhy(tt.instances, counts, missing, waiting); !strings.Contains(got, tt.want) {
			t.Errorf("groupWhy(%v) = %q, want %q", tt.instances, got, tt.want)
		}
	}
}
