package sim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

const ssmID = ssm.ServiceID

// ECSAMIParameter is the public SSM parameter holding the recommended
// ECS-optimized Amazon Linux 2023 AMI ID.
const ECSAMIParameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"

func init() {
	registerService(service{id: ssmID, throttleCode: "ThrottlingException", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) { s.ssm = newSSMState(s) })
	handle(ssmID, "GetParameter", (*Sim).getParameter)
	handle(ssmID, "GetParameters", (*Sim).getParameters)
	handle(ssmID, "GetParametersByPath", (*Sim).getParametersByPath)
}

// ssmState holds the public parameters the simulator publishes.
type ssmState struct {
	params map[string]string
}

// amiRelease is the AMI release the simulated parameters describe.
const amiRelease = "2023.0.20241217"

func newSSMState(s *Sim) *ssmState {
	st := &ssmState{params: map[string]string{}}
	for _, arch := range []string{"", "arm64"} {
		prefix := "/aws/service/ecs/optimized-ami/amazon-linux-2023/"
		machine := "x86_64"
		if arch != "" {
			prefix += arch + "/"
			machine = arch
		}
		ami := ecsAMI(s.region, machine)
		name := fmt.Sprintf("al2023-ami-ecs-hvm-%s-kernel-6.1-%s", amiRelease, machine)
		meta, _ := json.Marshal(struct {
			ECSAgentVersion   string `json:"ecs_agent_version"`
			ECSRuntimeVersion string `json:"ecs_runtime_version"`
			ImageID           string `json:"image_id"`
			ImageName         string `json:"image_name"`
			ImageVersion      string `json:"image_version"`
			OS                string `json:"os"`
			SchemaVersion     int    `json:"schema_version"`
			SourceImageName   string `json:"source_image_name"`
		}{"1.89.2", "Docker version 25.0.6", ami, name, amiRelease, "Amazon Linux 2023", 1, fmt.Sprintf("al2023-ami-minimal-%s-kernel-6.1-%s", amiRelease, machine)})
		st.params[prefix+"recommended"] = string(meta)
		st.params[prefix+"recommended/image_id"] = ami
		st.params[prefix+"recommended/image_name"] = name
	}
	return st
}

// ecsAMI derives a stable, well-formed AMI ID for a region and architecture.
func ecsAMI(region, machine string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(region + "/" + machine))
	return fmt.Sprintf("ami-0%016x", h.Sum64())
}

// ECSOptimizedAMI returns the AMI ID that ECSAMIParameter resolves to.
func (s *Sim) ECSOptimizedAMI() string { return ecsAMI(s.region, "x86_64") }

func (s *Sim) parameterOut(name string) types.Parameter {
	dataType := "text"
	if strings.HasSuffix(name, "/image_id") {
		dataType = "aws:ec2:image"
	}
	return types.Parameter{
		Name: aws.String(name), Value: aws.String(s.ssm.params[name]), Type: types.ParameterTypeString, DataType: aws.String(dataType),
		Version: 1, LastModifiedDate: aws.Time(time.Date(2024, time.December, 17, 0, 0, 0, 0, time.UTC)),
		ARN: aws.String(fmt.Sprintf("arn:aws:ssm:%s::parameter%s", s.region, name)),
	}
}

func (s *Sim) getParameter(in *ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
	name := aws.ToString(in.Name)
	if _, ok := s.ssm.params[name]; !ok {
		return nil, &types.ParameterNotFound{}
	}
	p := s.parameterOut(name)
	return &ssm.GetParameterOutput{Parameter: &p}, nil
}

func (s *Sim) getParameters(in *ssm.GetParametersInput) (*ssm.GetParametersOutput, error) {
	out := &ssm.GetParametersOutput{Parameters: []types.Parameter{}, InvalidParameters: []string{}}
	for _, name := range in.Names {
		if _, ok := s.ssm.params[name]; ok {
			out.Parameters = append(out.Parameters, s.parameterOut(name))
		} else {
			out.InvalidParameters = append(out.InvalidParameters, name)
		}
	}
	return out, nil
}

func (s *Sim) getParametersByPath(in *ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error) {
	path := strings.TrimSuffix(aws.ToString(in.Path), "/") + "/"
	var names []string
	for name := range s.ssm.params {
		rest, ok := strings.CutPrefix(name, path)
		if !ok || (!aws.ToBool(in.Recursive) && strings.Contains(rest, "/")) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	page, next, err := paginate(names, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, &types.InvalidNextToken{Message: aws.String("The specified token is not valid.")}
	}
	out := &ssm.GetParametersByPathOutput{NextToken: next, Parameters: []types.Parameter{}}
	for _, name := range page {
		out.Parameters = append(out.Parameters, s.parameterOut(name))
	}
	return out, nil
}
