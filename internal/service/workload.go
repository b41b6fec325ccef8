package service

import (
	"fmt"
	"strings"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/workload"
)

// Workload is what runs in the task, apart from which image the app runs:
// the template's containers.
type Workload struct {
	// Containers returns the task's container definitions with the app
	// running appImage.
	Containers func(appImage string) ([]ecstypes.ContainerDefinition, error)
	// AppContainer is the container that runs the app's image.
	AppContainer string
	// LoadBalancedContainer is the container the target group sends to, on
	// the spec's service port.
	LoadBalancedContainer string
}

// NewWorkload returns the spec's workload: the app and its nginx sidecar
// from internal/workload, logging to the spec's log group in region.
func NewWorkload(spec stack.Spec, region string) (Workload, error) {
	if err := ValidateWorkload(spec); err != nil {
		return Workload{}, err
	}
	return Workload{
		Containers: func(appImage string) ([]ecstypes.ContainerDefinition, error) {
			defs, err := workload.Containers(workload.Params{
				AppImage: appImage, NginxImage: spec.Service.NginxImage, ServiceName: spec.Name, Version: ImageVersion(appImage),
				LogGroup: spec.Service.LogGroup, Region: region, VPCCIDR: spec.Network.VPCCIDR,
			})
			if err != nil {
				return nil, handlererr.Invalid(err.Error())
			}
			return defs, nil
		},
		AppContainer: workload.AppContainerName, LoadBalancedContainer: workload.NginxContainerName,
	}, nil
}

// ValidateWorkload checks what the images decide and a spec cannot move:
// the ports nginx and the app listen on.
func ValidateWorkload(spec stack.Spec) error {
	var problems []string
	if spec.Service.Port != workload.NginxPort {
		problems = append(problems, fmt.Sprintf("service.port is %d but the nginx image listens on %d", spec.Service.Port, workload.NginxPort))
	}
	if spec.Service.AppPort != workload.AppPort {
		problems = append(problems, fmt.Sprintf("service.appPort is %d but the app image listens on %d", spec.Service.AppPort, workload.AppPort))
	}
	if len(problems) > 0 {
		return handlererr.Invalid(problems...)
	}
	return nil
}

// ImageVersion is the version the app reports for an image reference: its
// tag, or its digest shortened to 12 hex digits when it is pinned by
// digest.
func ImageVersion(image string) string {
	if _, digest, ok := strings.Cut(image, "@"); ok {
		algo, hex, _ := strings.Cut(digest, ":")
		return algo + ":" + hex[:min(12, len(hex))]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return "latest"
}

// ImageDigest returns the digest an image reference is pinned to, or "".
func ImageDigest(image string) string {
	_, digest, _ := strings.Cut(image, "@")
	return digest
}

// imageTag returns the tag of an image reference by tag, or "".
func imageTag(image string) string {
	if strings.Contains(image, "@") {
		return ""
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return ""
}
