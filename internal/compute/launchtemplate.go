package compute

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// UserData is the instance's boot script: it joins the cluster, and
// keeps awsvpc tasks from the instance's metadata service and so from the
// instance role's credentials (ECS_AWSVPC_BLOCK_IMDS,
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-agent-config.html).
func UserData(spec stack.Spec) string {
	return "#!/bin/bash\n" +
		"cat >> /etc/ecs/ecs.config <<'CONFIG'\n" +
		"ECS_CLUSTER=" + ClusterName(spec) + "\n" +
		"ECS_AWSVPC_BLOCK_IMDS=true\n" +
		"ECS_ENABLE_TASK_IAM_ROLE=true\n" +
		"ECS_ENABLE_CONTAINER_METADATA=true\n" +
		"ECS_CONTAINER_STOP_TIMEOUT=60s\n" +
		"CONFIG\n"
}

// LaunchTemplateData is the desired launch template content.
func LaunchTemplateData(spec stack.Spec, imageID, instanceSG string) *ec2types.RequestLaunchTemplateData {
	instanceTags := stack.EC2Tags(spec.Tags("instance"))
	return &ec2types.RequestLaunchTemplateData{
		ImageId:            aws.String(imageID),
		InstanceType:       ec2types.InstanceType(spec.Compute.InstanceType),
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: aws.String(spec.Roles.InstanceProfileARN)},
		SecurityGroupIds:   []string{instanceSG},
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpEndpoint: ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
			HttpTokens:   ec2types.LaunchTemplateHttpTokensStateRequired,
			// awsvpc tasks never use the instance's metadata; one hop keeps
			// containers from reaching the instance role.
			HttpPutResponseHopLimit: aws.Int32(1),
		},
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{
			DeviceName: aws.String("/dev/xvda"),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{
				VolumeSize: aws.Int32(spec.Compute.RootVolumeGiB), VolumeType: ec2types.VolumeTypeGp3,
				Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true),
			},
		}},
		Monitoring: &ec2types.LaunchTemplatesMonitoringRequest{Enabled: aws.Bool(true)},
		UserData:   aws.String(base64.StdEncoding.EncodeToString([]byte(UserData(spec)))),
		TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: instanceTags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: instanceTags},
		},
	}
}

// templateDrift lists what differs between the desired data and a version.
func templateDrift(want *ec2types.RequestLaunchTemplateData, got *ec2types.ResponseLaunchTemplateData) []string {
	if got == nil {
		return []string{"no default version"}
	}
	var d []string
	diff := func(field, w, g string) {
		if w != g {
			d = append(d, fmt.Sprintf("%s %q, want %q", field, g, w))
		}
	}
	diff("image", aws.ToString(want.ImageId), aws.ToString(got.ImageId))
	diff("instance type", string(want.InstanceType), string(got.InstanceType))
	var profile string
	if got.IamInstanceProfile != nil {
		profile = aws.ToString(got.IamInstanceProfile.Arn)
	}
	diff("instance profile", aws.ToString(want.IamInstanceProfile.Arn), profile)
	diff("security groups", strings.Join(want.SecurityGroupIds, ","), strings.Join(got.SecurityGroupIds, ","))
	var tokens, endpoint string
	var hops int32
	if m := got.MetadataOptions; m != nil {
		tokens, endpoint, hops = string(m.HttpTokens), string(m.HttpEndpoint), aws.ToInt32(m.HttpPutResponseHopLimit)
	}
	diff("http tokens", string(want.MetadataOptions.HttpTokens), tokens)
	diff("metadata endpoint", string(want.MetadataOptions.HttpEndpoint), endpoint)
	diff("hop limit", fmt.Sprint(aws.ToInt32(want.MetadataOptions.HttpPutResponseHopLimit)), fmt.Sprint(hops))
	var root string
	for _, b := range got.BlockDeviceMappings {
		if aws.ToString(b.DeviceName) == "/dev/xvda" && b.Ebs != nil {
			root = fmt.Sprintf("%d GiB %s encrypted=%t", aws.ToInt32(b.Ebs.VolumeSize), b.Ebs.VolumeType, aws.ToBool(b.Ebs.Encrypted))
		}
	}
	wb := want.BlockDeviceMappings[0].Ebs
	diff("root volume", fmt.Sprintf("%d GiB %s encrypted=%t", aws.ToInt32(wb.VolumeSize), wb.VolumeType, aws.ToBool(wb.Encrypted)), root)
	if aws.ToString(want.UserData) != aws.ToString(got.UserData) {
		d = append(d, "user data")
	}
	return d
}

func reconcileLaunchTemplate(ctx context.Context, api EC2API, run *stack.Run, inv *inventory, data *ec2types.RequestLaunchTemplateData) (string, error) {
	spec := run.Spec
	found, ok := inv.templates[LaunchTemplate]
	if !ok {
		return run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:launch-template", LaunchTemplate, "", fmt.Sprintf("%s %s, IMDSv2 required, encrypted root", data.InstanceType, aws.ToString(data.ImageId))),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
					LaunchTemplateName: aws.String(spec.ResourceName(LaunchTemplate)),
					LaunchTemplateData: data,
					ClientToken:        aws.String(run.ClientToken(LaunchTemplate)),
					TagSpecifications:  spec.EC2TagSpecifications(ec2types.ResourceTypeLaunchTemplate, LaunchTemplate),
				})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.LaunchTemplate.LaunchTemplateId), nil
			})
	}
	id := aws.ToString(found.LaunchTemplateId)
	versions, err := api.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: []string{"$Default"}})
	if err != nil {
		return "", fmt.Errorf("describing the default version of %s: %w", id, err)
	}
	var got *ec2types.ResponseLaunchTemplateData
	if len(versions.LaunchTemplateVersions) > 0 {
		got = versions.LaunchTemplateVersions[0].LaunchTemplateData
	}
	drift := templateDrift(data, got)
	if len(drift) == 0 {
		return id, nil
	}
	return run.Do(ctx, stack.NewChange(Layer, stack.Update, "ec2:launch-template", LaunchTemplate, id, "new default version: "+strings.Join(drift, "; ")),
		func(ctx context.Context) (string, error) {
			v, err := api.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
				LaunchTemplateId: aws.String(id), LaunchTemplateData: data,
				ClientToken: aws.String(run.ClientToken(LaunchTemplate + "-" + strings.Join(drift, ";"))),
			})
			if err != nil {
				return id, err
			}
			_, err = api.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
				LaunchTemplateId: aws.String(id), DefaultVersion: aws.String(fmt.Sprint(aws.ToInt64(v.LaunchTemplateVersion.VersionNumber))),
			})
			return id, err
		})
}
