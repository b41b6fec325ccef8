package service

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// templateImage stands for the app's image while the template is hashed;
// the hash input then blanks it, so the hash never moves with the image.
const templateImage = "template"

// TaskDefinitionInput is the one constructor of the service's task
// definition:
// every field from the spec and the workload (the template, which the build
// owns), with the app running appImage (which the rollout owns). Each
// revision is tagged with its template's hash and, when appImage is pinned
// by digest, that digest.
func TaskDefinitionInput(spec stack.Spec, w Workload, appImage string) (*ecs.RegisterTaskDefinitionInput, error) {
	in, err := taskDefinition(spec, w, appImage)
	if err != nil {
		return nil, err
	}
	hash, err := TemplateHash(spec, w)
	if err != nil {
		return nil, err
	}
	tags := append(spec.Tags(TaskDefinition), stack.Tag{Key: stack.TagTemplateHash, Value: hash})
	if d := ImageDigest(appImage); d != "" {
		tags = append(tags, stack.Tag{Key: stack.TagImageDigest, Value: d})
	}
	in.Tags = stack.ECSTags(tags)
	return in, nil
}

func taskDefinition(spec stack.Spec, w Workload, appImage string) (*ecs.RegisterTaskDefinitionInput, error) {
	defs, err := w.Containers(appImage)
	if err != nil {
		return nil, err
	}
	return &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(Family(spec)),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityEc2},
		Cpu:                     aws.String(strconv.Itoa(int(spec.Service.CPU))),
		Memory:                  aws.String(strconv.Itoa(int(spec.Service.Memory))),
		ExecutionRoleArn:        aws.String(spec.Roles.ExecutionRoleARN),
		TaskRoleArn:             aws.String(spec.Roles.TaskRoleARN),
		ContainerDefinitions:    defs,
	}, nil
}

// TemplateHash is the digest of the task definition's template: the
// revision the spec and workload give, with the app's image blanked.
func TemplateHash(spec stack.Spec, w Workload) (string, error) {
	in, err := taskDefinition(spec, w, templateImage)
	if err != nil {
		return "", err
	}
	for i := range in.ContainerDefinitions {
		if aws.ToString(in.ContainerDefinitions[i].Name) == w.AppContainer {
			in.ContainerDefinitions[i].Image = nil
		}
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("hashing the task definition of %s: %w", spec.Name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// Family is the task definition family: the stack's name.
func Family(spec stack.Spec) string { return spec.Name }

// Revision is a registered task definition as the build reads it: its
// template hash and the image its app runs.
type Revision struct {
	ARN          string
	TemplateHash string
	AppImage     string
	Definition   *ecstypes.TaskDefinition
}

// revisionOf reads the template hash tag and the app's image.
func revisionOf(td *ecstypes.TaskDefinition, tags []ecstypes.Tag, appContainer string) Revision {
	r := Revision{ARN: aws.ToString(td.TaskDefinitionArn), TemplateHash: stack.ECSTagMap(tags)[stack.TagTemplateHash], Definition: td}
	for _, c := range td.ContainerDefinitions {
		if aws.ToString(c.Name) == appContainer {
			r.AppImage = aws.ToString(c.Image)
		}
	}
	return r
}

// templateDrift says, for a plan, what of the template differs between a
// revision and the one wanted: the sizes and roles by name, the rest as the
// template hash.
func templateDrift(have Revision, want *ecs.RegisterTaskDefinitionInput, hash string) []string {
	var d []string
	diff := func(field, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s %s, want %s", field, g, w))
		}
	}
	if td := have.Definition; td != nil {
		diff("cpu", aws.ToString(td.Cpu), aws.ToString(want.Cpu))
		diff("memory", aws.ToString(td.Memory), aws.ToString(want.Memory))
		diff("execution role", aws.ToString(td.ExecutionRoleArn), aws.ToString(want.ExecutionRoleArn))
		diff("task role", aws.ToString(td.TaskRoleArn), aws.ToString(want.TaskRoleArn))
		diff("containers", strconv.Itoa(len(td.ContainerDefinitions)), strconv.Itoa(len(want.ContainerDefinitions)))
	}
	if len(d) == 0 {
		d = append(d, fmt.Sprintf("template %s, want %s", dashed(have.TemplateHash), hash))
	}
	return d
}

func dashed(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
