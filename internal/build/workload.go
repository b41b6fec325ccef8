package build

import (
	"fmt"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/workload"
)

// LogGroup is the default CloudWatch Logs group of a stack's containers.
func LogGroup(spec stack.Spec) string { return "/ecs/" + spec.Name }

// Workload returns the function giving a spec's task containers: the app
// and its nginx sidecar from internal/workload, logging to logGroup (the
// stack's default when empty) in region.
func Workload(region, logGroup string) func(stack.Spec) (service.Workload, error) {
	return func(spec stack.Spec) (service.Workload, error) {
		// The images bake these ports in; a spec cannot move them.
		var problems []string
		if spec.Service.Port != workload.NginxPort {
			problems = append(problems, fmt.Sprintf("service.port is %d but the nginx image listens on %d", spec.Service.Port, workload.NginxPort))
		}
		if spec.Service.AppPort != workload.AppPort {
			problems = append(problems, fmt.Sprintf("service.appPort is %d but the app image listens on %d", spec.Service.AppPort, workload.AppPort))
		}
		if len(problems) > 0 {
			return service.Workload{}, handlererr.Invalid(problems...)
		}
		group := logGroup
		if group == "" {
			group = LogGroup(spec)
		}
		defs, err := workload.Containers(workload.Params{
			AppImage: spec.Image(), NginxImage: spec.NginxImageRef(), ServiceName: spec.Name,
			Version: spec.Service.ImageTag, LogGroup: group, Region: region, VPCCIDR: spec.Network.VPCCIDR,
		})
		if err != nil {
			return service.Workload{}, handlererr.Invalid(err.Error())
		}
		return service.Workload{Containers: defs, LoadBalancedContainer: workload.NginxContainerName}, nil
	}
}
