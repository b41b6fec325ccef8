// Package workload describes the two containers of the service's task, the
// nginx sidecar (nginx/) and the Python app (service/), as ECS container
// definitions.
//
// The ports, paths, users and timeouts here must agree with the files baked
// into the two images; the tests read those files and check that they do.
package workload

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Container names in the task definition. The ECS service's load balancer
// entry names NginxContainerName and NginxPort.
const (
	NginxContainerName = "nginx"
	AppContainerName   = "app"
)

const (
	// NginxPort is nginx's listener: the task's only entry point, and the
	// port the ALB target group sends traffic to.
	NginxPort int32 = 80
	// AppPort is the app's port. The app listens on loopback only, so it
	// has no port mapping: nginx reaches it on 127.0.0.1 in the task's
	// awsvpc network namespace.
	AppPort int32 = 8000
	// HealthPath is the liveness path. It answers 200 while the app runs,
	// draining included; the container health checks use it.
	HealthPath = "/healthz"
	// ReadyPath is the readiness path. It answers 503 from the moment the
	// app receives SIGTERM; the ALB target group's health check uses it.
	ReadyPath = "/readyz"
)

const (
	// GracefulTimeoutSeconds is gunicorn's graceful_timeout in
	// service/gunicorn.conf.py: how long the app may spend finishing the
	// requests in progress after SIGTERM.
	GracefulTimeoutSeconds int32 = 25
	// StopTimeoutSeconds is each container's stopTimeout. The margin over
	// the grace period lets gunicorn exit by itself before ECS sends SIGKILL.
	StopTimeoutSeconds = GracefulTimeoutSeconds + 5
)

// trustedProxyEnv tells nginx/entrypoint.sh the only range whose
// X-Forwarded-For header nginx believes.
const trustedProxyEnv = "TRUSTED_PROXY_CIDR"

// The users the containers run as: the USER of each image.
const (
	AppUser   = "10001:10001"
	NginxUser = "101:101"
)

const (
	healthCheckIntervalSeconds    int32 = 10
	healthCheckTimeoutSeconds     int32 = 5
	healthCheckRetries            int32 = 3
	healthCheckStartPeriodSeconds int32 = 15
	// How long nginx waits for the app to become HEALTHY before ECS gives
	// up on the task.
	nginxStartTimeoutSeconds int32 = 120

	appMemoryReservationMiB   int32 = 256
	nginxMemoryReservationMiB int32 = 64
	appTmpfsMiB               int32 = 16
	// nginx buffers request bodies of up to client_max_body_size (1 MiB)
	// and large responses here.
	nginxTmpfsMiB int32 = 64
)

// Params are the deployment-specific inputs of the container definitions.
type Params struct {
	// AppImage is the app's image reference; a rollout pins it by digest.
	AppImage string
	// NginxImage is the nginx sidecar's image reference.
	NginxImage string
	// ServiceName is the name the app reports, and the log stream prefix.
	ServiceName string
	// Version is the image tag the app reports.
	Version string
	// LogGroup is the CloudWatch Logs group that both containers write to.
	LogGroup string
	// Region is the Region of LogGroup.
	Region string
	// VPCCIDR is the stack's VPC CIDR. The ALB lives there, so nginx
	// believes X-Forwarded-For from these addresses and from no others.
	VPCCIDR string
}

// Validate reports every missing or malformed field at once.
func (p Params) Validate() error {
	var errs []error
	for _, field := range []struct{ name, value string }{
		{"AppImage", p.AppImage},
		{"NginxImage", p.NginxImage},
		{"ServiceName", p.ServiceName},
		{"Version", p.Version},
		{"LogGroup", p.LogGroup},
		{"Region", p.Region},
		{"VPCCIDR", p.VPCCIDR},
	} {
		if strings.TrimSpace(field.value) == "" {
			errs = append(errs, fmt.Errorf("%s is required", field.name))
		}
	}
	if p.VPCCIDR != "" {
		if prefix, err := netip.ParsePrefix(p.VPCCIDR); err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
			errs = append(errs, fmt.Errorf("VPCCIDR %q is not an IPv4 network", p.VPCCIDR))
		}
	}
	return errors.Join(errs...)
}

// Containers returns the container definitions of the service's task: the
// app, and nginx, which ECS starts only once the app is HEALTHY (and, in
// reverse, stops first). The task must use the awsvpc network mode.
func Containers(p Params) ([]types.ContainerDefinition, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("invalid workload params: %w", err)
	}
	return []types.ContainerDefinition{appContainer(p), nginxContainer(p)}, nil
}

func appContainer(p Params) types.ContainerDefinition {
	return types.ContainerDefinition{
		Name:                   aws.String(AppContainerName),
		Image:                  aws.String(p.AppImage),
		Essential:              aws.Bool(true),
		User:                   aws.String(AppUser),
		ReadonlyRootFilesystem: aws.Bool(true),
		Environment: []types.KeyValuePair{
			envVar("APP_VERSION", p.Version),
			envVar("BIND", fmt.Sprintf("127.0.0.1:%d", AppPort)),
			envVar("SERVICE_NAME", p.ServiceName),
		},
		// The slim Python image has no curl.
		HealthCheck:       healthCheck("python3", "/app/healthcheck.py", localURL(AppPort, HealthPath)),
		StopTimeout:       aws.Int32(StopTimeoutSeconds),
		MemoryReservation: aws.Int32(appMemoryReservationMiB),
		// gunicorn's worker heartbeat files go to /tmp.
		LinuxParameters:  hardened(appTmpfsMiB),
		LogConfiguration: awslogs(p),
	}
}

func nginxContainer(p Params) types.ContainerDefinition {
	return types.ContainerDefinition{
		Name:                   aws.String(NginxContainerName),
		Image:                  aws.String(p.NginxImage),
		Essential:              aws.Bool(true),
		User:                   aws.String(NginxUser),
		ReadonlyRootFilesystem: aws.Bool(true),
		PortMappings: []types.PortMapping{{
			ContainerPort: aws.Int32(NginxPort),
			Protocol:      types.TransportProtocolTcp,
		}},
		DependsOn: []types.ContainerDependency{{
			ContainerName: aws.String(AppContainerName),
			Condition:     types.ContainerConditionHealthy,
		}},
		StartTimeout: aws.Int32(nginxStartTimeoutSeconds),
		Environment:  []types.KeyValuePair{envVar(trustedProxyEnv, p.VPCCIDR)},
		// Lets uid 101 bind port 80 without any capability. In awsvpc mode
		// the setting applies to the whole task, so only this container sets it.
		SystemControls: []types.SystemControl{{
			Namespace: aws.String("net.ipv4.ip_unprivileged_port_start"),
			Value:     aws.String(strconv.Itoa(int(NginxPort))),
		}},
		HealthCheck:       healthCheck("curl", "-fsS", "-o", "/dev/null", localURL(NginxPort, HealthPath)),
		StopTimeout:       aws.Int32(StopTimeoutSeconds),
		MemoryReservation: aws.Int32(nginxMemoryReservationMiB),
		// nginx's pid file and temp directories go to /tmp.
		LinuxParameters:  hardened(nginxTmpfsMiB),
		LogConfiguration: awslogs(p),
	}
}

func envVar(name, value string) types.KeyValuePair {
	return types.KeyValuePair{Name: aws.String(name), Value: aws.String(value)}
}

func localURL(port int32, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
}

func healthCheck(command ...string) *types.HealthCheck {
	return &types.HealthCheck{
		Command:     append([]string{"CMD"}, command...),
		Interval:    aws.Int32(healthCheckIntervalSeconds),
		Timeout:     aws.Int32(healthCheckTimeoutSeconds),
		Retries:     aws.Int32(healthCheckRetries),
		StartPeriod: aws.Int32(healthCheckStartPeriodSeconds),
	}
}

// hardened drops every capability and gives the read-only container a
// small writable /tmp.
func hardened(tmpfsMiB int32) *types.LinuxParameters {
	return &types.LinuxParameters{
		Capabilities: &types.KernelCapabilities{Drop: []string{"ALL"}},
		Tmpfs: []types.Tmpfs{{
			ContainerPath: aws.String("/tmp"),
			Size:          tmpfsMiB,
			MountOptions:  []string{"rw", "noexec", "nosuid", "nodev"},
		}},
	}
}

// awslogs names each stream <ServiceName>/<container>/<task ID>.
func awslogs(p Params) *types.LogConfiguration {
	return &types.LogConfiguration{
		LogDriver: types.LogDriverAwslogs,
		Options: map[string]string{
			"awslogs-group":         p.LogGroup,
			"awslogs-region":        p.Region,
			"awslogs-stream-prefix": p.ServiceName,
			// A slow CloudWatch Logs must not block writes to stdout and so
			// stall requests; the buffer absorbs bursts.
			"mode":            "non-blocking",
			"max-buffer-size": "25m",
		},
	}
}
