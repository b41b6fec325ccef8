package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// LogsAPI is the subset of the CloudWatch Logs client the layer uses for
// the containers' log group.
type LogsAPI interface {
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	ListTagsForResource(ctx context.Context, in *cloudwatchlogs.ListTagsForResourceInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.ListTagsForResourceOutput, error)
	CreateLogGroup(ctx context.Context, in *cloudwatchlogs.CreateLogGroupInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error)
	PutRetentionPolicy(ctx context.Context, in *cloudwatchlogs.PutRetentionPolicyInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error)
	DeleteRetentionPolicy(ctx context.Context, in *cloudwatchlogs.DeleteRetentionPolicyInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteRetentionPolicyOutput, error)
	TagResource(ctx context.Context, in *cloudwatchlogs.TagResourceInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.TagResourceOutput, error)
	DeleteLogGroup(ctx context.Context, in *cloudwatchlogs.DeleteLogGroupInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error)
}

var _ LogsAPI = (*cloudwatchlogs.Client)(nil)

// LogGroup is the log group's component.
const LogGroup = "log-group"

// TagRetain is the log group's tag saying whether a teardown keeps it. The
// build writes the spec's choice on the group itself, since a teardown
// reads nothing of the spec but the stack's name.
const TagRetain = "ecsplane:retain"

// logGroupTags are the log group's tags: the stack's and the retain choice.
func logGroupTags(spec stack.Spec) map[string]string {
	tags := stack.TagMap(spec.Tags(LogGroup))
	tags[TagRetain] = strconv.FormatBool(spec.Service.RetainLogGroup)
	return tags
}

// findLogGroup returns the log group named name, its tags and whether it
// exists.
func findLogGroup(ctx context.Context, api LogsAPI, name string) (logstypes.LogGroup, map[string]string, bool, error) {
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(api, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return logstypes.LogGroup{}, nil, false, fmt.Errorf("describing log group %s: %w", name, err)
		}
		for _, g := range page.LogGroups {
			if aws.ToString(g.LogGroupName) != name {
				continue
			}
			tags, err := api.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(logGroupARN(g))})
			if err != nil {
				return g, nil, true, fmt.Errorf("listing the tags of log group %s: %w", name, err)
			}
			return g, tags.Tags, true, nil
		}
	}
	return logstypes.LogGroup{}, nil, false, nil
}

// logGroupARN is the group's ARN without the ":*" DescribeLogGroups puts
// at the end of Arn, as tagging wants it.
func logGroupARN(g logstypes.LogGroup) string {
	if a := aws.ToString(g.LogGroupArn); a != "" {
		return a
	}
	return strings.TrimSuffix(aws.ToString(g.Arn), ":*")
}

func retention(days int32) string {
	if days == 0 {
		return "events kept forever"
	}
	return fmt.Sprintf("retention %d days", days)
}

// reconcileLogGroup creates the containers' log group with the spec's
// retention and the stack's tags, or repairs them. A group of that name
// with no stack tag (one an earlier template made) is adopted; one tagged
// for another stack is refused.
func reconcileLogGroup(ctx context.Context, api LogsAPI, run *stack.Run) error {
	spec := run.Spec
	name := spec.Service.LogGroup
	days := spec.Service.LogRetentionDays
	g, tags, ok, err := findLogGroup(ctx, api, name)
	if err != nil {
		return err
	}
	if !ok {
		_, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "logs:log-group", LogGroup, name, retention(days)), func(ctx context.Context) (string, error) {
			if _, err := api.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name), Tags: logGroupTags(spec)}); err != nil {
				return name, err
			}
			if days == 0 {
				return name, nil
			}
			return name, setRetention(ctx, api, name, days)
		})
		return err
	}
	if other := tags[stack.TagStack]; other != "" && other != spec.Name {
		return &handlererr.ConflictError{Msg: fmt.Sprintf("log group %s is tagged for stack %q", name, other)}
	}
	want := logGroupTags(spec)
	var drift []string
	for _, k := range stack.SortedKeys(want) {
		if tags[k] != want[k] {
			drift = append(drift, k+"="+want[k])
		}
	}
	if len(drift) > 0 {
		arn := logGroupARN(g)
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "logs:log-group", LogGroup, name, "tags "+strings.Join(drift, " ")), func(ctx context.Context) (string, error) {
			_, err := api.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: aws.String(arn), Tags: want})
			return name, err
		}); err != nil {
			return err
		}
	}
	if have := aws.ToInt32(g.RetentionInDays); have != days {
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "logs:log-group", LogGroup, name, fmt.Sprintf("%s, want %s", retention(have), retention(days))), func(ctx context.Context) (string, error) {
			return name, setRetention(ctx, api, name, days)
		}); err != nil {
			return err
		}
	}
	return nil
}

// setRetention sets the group's retention; 0 removes it, so events are
// kept forever.
func setRetention(ctx context.Context, api LogsAPI, name string, days int32) error {
	if days == 0 {
		_, err := api.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String(name)})
		return err
	}
	_, err := api.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(name), RetentionInDays: aws.Int32(days)})
	return err
}

// destroyLogGroup deletes the containers' log group unless the build
// tagged it to be retained, and only when it carries the stack's tags. A
// teardown knows nothing of the spec but the stack's name, so the group is
// the one the family's task definitions log to (their awslogs-group), or
// /ecs/<name> once none is left.
func destroyLogGroup(ctx context.Context, api LogsAPI, ecsAPI ECSAPI, run *stack.Run) error {
	name, err := loggedTo(ctx, ecsAPI, run.Spec)
	if err != nil {
		return err
	}
	_, tags, ok, err := findLogGroup(ctx, api, name)
	if err != nil || !ok || !run.Spec.Owned(tags) || tags[TagRetain] == "true" {
		return err
	}
	return run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "logs:log-group", LogGroup, name, ""), func(ctx context.Context) error {
		_, err := api.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(name)})
		return err
	})
}

// loggedTo is the log group the latest revision of the stack's family logs
// to, or the default one when there is none.
func loggedTo(ctx context.Context, api ECSAPI, spec stack.Spec) (string, error) {
	list, err := api.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(Family(spec)), Sort: ecstypes.SortOrderDesc, MaxResults: aws.Int32(10)})
	if err != nil {
		return "", fmt.Errorf("listing task definitions of %s: %w", spec.Name, err)
	}
	for _, arn := range list.TaskDefinitionArns {
		if family(arn) != Family(spec) {
			continue
		}
		td, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
		if err != nil {
			return "", fmt.Errorf("describing task definition %s: %w", arn, err)
		}
		for _, c := range td.TaskDefinition.ContainerDefinitions {
			if lc := c.LogConfiguration; lc != nil && lc.Options["awslogs-group"] != "" {
				return lc.Options["awslogs-group"], nil
			}
		}
	}
	return spec.WithDefaults().Service.LogGroup, nil
}
