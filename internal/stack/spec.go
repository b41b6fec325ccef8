// Package stack describes the two-AZ ECS-on-EC2 stack that the build
// reconcilers create: its typed specification and validation, the one tag
// scheme every managed resource carries, and the plan of changes a run makes
// or, in a dry run, would make.
package stack

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// Spec is the desired state of one stack. Zero fields take the values of
// Defaults; explicitly invalid values are reported by Validate.
type Spec struct {
	// Name identifies the stack: it prefixes resource names and is the value
	// of the stack tag.
	Name    string  `json:"name"`
	Network Network `json:"network"`
	Compute Compute `json:"compute"`
	Ingress Ingress `json:"ingress"`
	Service Service `json:"service"`
	Roles   Roles   `json:"roles"`
}

// Ingress is the load balancer's listeners.
type Ingress struct {
	// CertificateARN is an ACM certificate for HTTPS. When set, the load
	// balancer serves HTTPS on 443 with a current TLS policy and redirects
	// HTTP on 80 to it; when empty it serves plain HTTP on 80.
	CertificateARN string `json:"certificateArn,omitempty"`
}

// Network is the VPC and its subnet plan: one public and one private subnet
// per Availability Zone, in zone order.
type Network struct {
	VPCCIDR string `json:"vpcCidr"`
	// AZCount is the number of Availability Zones; 2 by default, never fewer.
	AZCount int `json:"azCount"`
	// AZs pins the zone names. When empty, the first AZCount available zones
	// of the region are used.
	AZs            []string `json:"azs,omitempty"`
	PublicSubnets  []string `json:"publicSubnets"`
	PrivateSubnets []string `json:"privateSubnets"`
}

// Compute is the container-instance fleet.
type Compute struct {
	InstanceType    string `json:"instanceType"`
	MinSize         int32  `json:"minSize"`
	MaxSize         int32  `json:"maxSize"`
	DesiredCapacity int32  `json:"desiredCapacity"`
	RootVolumeGiB   int32  `json:"rootVolumeGiB"`
	// TargetCapacity is the capacity provider's managed-scaling target, in
	// percent of the fleet the tasks should use.
	TargetCapacity int32 `json:"targetCapacity"`
	// LaunchHookTimeout and TerminateHookTimeout are the lifecycle hooks'
	// heartbeat timeouts, in seconds.
	LaunchHookTimeout    int32 `json:"launchHookTimeout"`
	TerminateHookTimeout int32 `json:"terminateHookTimeout"`
}

// Service is the ECS service, its load balancing, alarms and scaling.
type Service struct {
	// ImageRepository and ImageTag are the app's initial image: the first
	// build creates the service with it. Later images are the rollout's.
	ImageRepository string `json:"imageRepository"`
	ImageTag        string `json:"imageTag"`
	// NginxImage is the sidecar's image reference, the image built from
	// nginx/. It is part of the template the build owns.
	NginxImage string `json:"nginxImage"`
	// LogGroup is the containers' CloudWatch Logs group; /ecs/<name> by
	// default.
	LogGroup string `json:"logGroup"`
	// CPU (units) and Memory (MiB) are the task-level sizes.
	CPU    int32 `json:"cpu"`
	Memory int32 `json:"memory"`
	// Port is nginx's container port, the target group's port.
	Port int32 `json:"port"`
	// AppPort is the application's port behind nginx, on localhost.
	AppPort int32 `json:"appPort"`
	// HealthPath is the target group's health check path: the app's
	// readiness path, which fails as soon as a task starts draining.
	HealthPath             string  `json:"healthPath"`
	DesiredCount           int32   `json:"desiredCount"`
	MinCount               int32   `json:"minCount"`
	MaxCount               int32   `json:"maxCount"`
	HealthCheckGracePeriod int32   `json:"healthCheckGracePeriod"`
	CPUTarget              float64 `json:"cpuTarget"`
	MemoryTarget           float64 `json:"memoryTarget"`
	Alarms                 Alarms  `json:"alarms"`
}

// Alarms are the thresholds of the service's CloudWatch alarms.
type Alarms struct {
	// CPUHigh and MemoryHigh are average utilisation percentages.
	CPUHigh    float64 `json:"cpuHigh"`
	MemoryHigh float64 `json:"memoryHigh"`
	// Target5xx is the count of 5xx responses per minute, from the targets
	// or from the load balancer, that raises the 5xx alarms.
	Target5xx float64 `json:"target5xx"`
	// UnhealthyHosts is the count of unhealthy targets.
	UnhealthyHosts float64 `json:"unhealthyHosts"`
	// EvaluationPeriods is the number of one-minute periods an alarm needs.
	EvaluationPeriods int32 `json:"evaluationPeriods"`
}

// Roles are the IAM roles the template declares. The control plane passes
// them by ARN and never creates IAM.
type Roles struct {
	InstanceProfileARN string `json:"instanceProfileArn"`
	ExecutionRoleARN   string `json:"executionRoleArn"`
	TaskRoleARN        string `json:"taskRoleArn"`
}

// MinAZs is the least number of Availability Zones a stack may span.
const MinAZs = 2

// Defaults returns the default specification of a stack called name.
func Defaults(name string) Spec {
	return Spec{
		Name: name,
		Network: Network{
			VPCCIDR:        "10.40.0.0/16",
			AZCount:        MinAZs,
			PublicSubnets:  []string{"10.40.0.0/24", "10.40.1.0/24"},
			PrivateSubnets: []string{"10.40.16.0/20", "10.40.32.0/20"},
		},
		Compute: Compute{
			InstanceType: "t3.medium", MinSize: 2, MaxSize: 6, DesiredCapacity: 2,
			RootVolumeGiB: 30, TargetCapacity: 100,
			LaunchHookTimeout: 300, TerminateHookTimeout: 900,
		},
		Service: Service{
			ImageTag: "latest", LogGroup: "/ecs/" + name,
			CPU: 512, Memory: 1024, Port: 80, AppPort: 8000,
			HealthPath: "/readyz", DesiredCount: 2, MinCount: 2, MaxCount: 8,
			HealthCheckGracePeriod: 60, CPUTarget: 60, MemoryTarget: 70,
			Alarms: Alarms{CPUHigh: 85, MemoryHigh: 85, Target5xx: 10, UnhealthyHosts: 1, EvaluationPeriods: 3},
		},
	}
}

// WithDefaults returns s with every zero field set from Defaults(s.Name).
func (s Spec) WithDefaults() Spec {
	d := Defaults(s.Name)
	n := &s.Network
	str(&n.VPCCIDR, d.Network.VPCCIDR)
	num(&n.AZCount, d.Network.AZCount)
	if n.PublicSubnets == nil {
		n.PublicSubnets = d.Network.PublicSubnets
	}
	if n.PrivateSubnets == nil {
		n.PrivateSubnets = d.Network.PrivateSubnets
	}
	c := &s.Compute
	str(&c.InstanceType, d.Compute.InstanceType)
	num(&c.MinSize, d.Compute.MinSize)
	num(&c.MaxSize, d.Compute.MaxSize)
	num(&c.DesiredCapacity, d.Compute.DesiredCapacity)
	num(&c.RootVolumeGiB, d.Compute.RootVolumeGiB)
	num(&c.TargetCapacity, d.Compute.TargetCapacity)
	num(&c.LaunchHookTimeout, d.Compute.LaunchHookTimeout)
	num(&c.TerminateHookTimeout, d.Compute.TerminateHookTimeout)
	v, dv := &s.Service, d.Service
	str(&v.ImageTag, dv.ImageTag)
	str(&v.LogGroup, dv.LogGroup)
	num(&v.CPU, dv.CPU)
	num(&v.Memory, dv.Memory)
	num(&v.Port, dv.Port)
	num(&v.AppPort, dv.AppPort)
	str(&v.HealthPath, dv.HealthPath)
	num(&v.DesiredCount, dv.DesiredCount)
	num(&v.MinCount, dv.MinCount)
	num(&v.MaxCount, dv.MaxCount)
	num(&v.HealthCheckGracePeriod, dv.HealthCheckGracePeriod)
	num(&v.CPUTarget, dv.CPUTarget)
	num(&v.MemoryTarget, dv.MemoryTarget)
	num(&v.Alarms.CPUHigh, dv.Alarms.CPUHigh)
	num(&v.Alarms.MemoryHigh, dv.Alarms.MemoryHigh)
	num(&v.Alarms.Target5xx, dv.Alarms.Target5xx)
	num(&v.Alarms.UnhealthyHosts, dv.Alarms.UnhealthyHosts)
	num(&v.Alarms.EvaluationPeriods, dv.Alarms.EvaluationPeriods)
	return s
}

func str(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func num[T int | int32 | float64](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}

// Decode decodes a JSON spec strictly: an unknown field is an error, so a
// misspelt setting is not silently replaced by its default. An empty input
// is the empty spec.
func Decode(raw []byte) (Spec, error) {
	var s Spec
	if len(strings.TrimSpace(string(raw))) == 0 || string(raw) == "null" {
		return s, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, handlererr.Invalid("stack spec is not valid JSON: " + err.Error())
	}
	return s, nil
}

// Parse decodes a JSON spec strictly, applies defaults and validates it.
func Parse(raw []byte) (Spec, error) {
	s, err := Decode(raw)
	if err != nil {
		return Spec{}, err
	}
	s = s.WithDefaults()
	return s, s.Validate()
}

var (
	namePattern     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,26}[a-z0-9]$`)
	instancePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[a-z0-9]+$`)
	azPattern       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$`)
	tagPattern      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imagePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?(/[a-z0-9._-]+)*$`)
	imageRefPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._:/-]*(@sha256:[0-9a-f]{64})?$`)
	rolePattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
	profilePattern  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/[A-Za-z0-9+=,.@_/-]+$`)
	certPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$`)
	logGroupPattern = regexp.MustCompile(`^[A-Za-z0-9_./#-]{1,512}$`)
)

// Validate checks the whole spec without calling AWS and reports every
// problem at once as a handlererr.InvalidInputError.
func (s Spec) Validate() error {
	var p problems
	if !namePattern.MatchString(s.Name) {
		p.add("name %q must be 2 to 28 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen", s.Name)
	}
	s.validateNetwork(&p)
	s.validateCompute(&p)
	s.validateService(&p)
	if c := s.Ingress.CertificateARN; c != "" && !certPattern.MatchString(c) {
		p.add("ingress.certificateArn %q is not an ACM certificate ARN", c)
	}
	if !profilePattern.MatchString(s.Roles.InstanceProfileARN) {
		p.add("roles.instanceProfileArn %q is not an instance profile ARN", s.Roles.InstanceProfileARN)
	}
	if !rolePattern.MatchString(s.Roles.ExecutionRoleARN) {
		p.add("roles.executionRoleArn %q is not a role ARN", s.Roles.ExecutionRoleARN)
	}
	if !rolePattern.MatchString(s.Roles.TaskRoleARN) {
		p.add("roles.taskRoleArn %q is not a role ARN", s.Roles.TaskRoleARN)
	}
	if len(p) > 0 {
		return handlererr.Invalid(p...)
	}
	return nil
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (s Spec) validateNetwork(p *problems) {
	n := s.Network
	vpc, err := netip.ParsePrefix(n.VPCCIDR)
	switch {
	case err != nil || !vpc.Addr().Is4() || vpc != vpc.Masked():
		p.add("network.vpcCidr %q is not an IPv4 network in CIDR notation", n.VPCCIDR)
		vpc = netip.Prefix{}
	case vpc.Bits() < 16 || vpc.Bits() > 28:
		p.add("network.vpcCidr %q must have a prefix length between /16 and /28", n.VPCCIDR)
	}
	if n.AZCount < MinAZs {
		p.add("network.azCount is %d; a stack spans at least %d Availability Zones", n.AZCount, MinAZs)
	}
	if len(n.AZs) > 0 {
		if len(n.AZs) != n.AZCount {
			p.add("network.azs lists %d zones but azCount is %d", len(n.AZs), n.AZCount)
		}
		seen := map[string]bool{}
		for _, az := range n.AZs {
			if !azPattern.MatchString(az) {
				p.add("network.azs: %q is not an Availability Zone name", az)
			}
			if seen[az] {
				p.add("network.azs: %q is listed twice", az)
			}
			seen[az] = true
		}
	}
	type subnet struct {
		field  string
		prefix netip.Prefix
	}
	var all []subnet
	for _, group := range []struct {
		field string
		cidrs []string
	}{{"network.publicSubnets", n.PublicSubnets}, {"network.privateSubnets", n.PrivateSubnets}} {
		if len(group.cidrs) != n.AZCount {
			p.add("%s has %d subnets; want one per Availability Zone (%d)", group.field, len(group.cidrs), n.AZCount)
		}
		for i, c := range group.cidrs {
			field := fmt.Sprintf("%s[%d]", group.field, i)
			sn, err := netip.ParsePrefix(c)
			if err != nil || !sn.Addr().Is4() || sn != sn.Masked() {
				p.add("%s %q is not an IPv4 network in CIDR notation", field, c)
				continue
			}
			if sn.Bits() > 28 {
				p.add("%s %q is smaller than /28, the least AWS allows", field, c)
			}
			if vpc.IsValid() && (sn.Bits() < vpc.Bits() || !vpc.Contains(sn.Addr())) {
				p.add("%s %q is not inside the VPC %s", field, c, n.VPCCIDR)
			}
			for _, o := range all {
				if o.prefix.Overlaps(sn) {
					p.add("%s %q overlaps %s %s", field, c, o.field, o.prefix)
				}
			}
			all = append(all, subnet{field, sn})
		}
	}
}

func (s Spec) validateCompute(p *problems) {
	c := s.Compute
	if !instancePattern.MatchString(c.InstanceType) {
		p.add("compute.instanceType %q is not an instance type such as t3.medium", c.InstanceType)
	}
	if c.MinSize < int32(s.Network.AZCount) {
		p.add("compute.minSize %d is below azCount %d; every zone needs an instance", c.MinSize, s.Network.AZCount)
	}
	if c.MinSize > c.MaxSize {
		p.add("compute.minSize %d is greater than compute.maxSize %d", c.MinSize, c.MaxSize)
	}
	if c.DesiredCapacity < c.MinSize || c.DesiredCapacity > c.MaxSize {
		p.add("compute.desiredCapacity %d is outside [minSize %d, maxSize %d]", c.DesiredCapacity, c.MinSize, c.MaxSize)
	}
	if c.RootVolumeGiB < 30 || c.RootVolumeGiB > 16384 {
		p.add("compute.rootVolumeGiB %d must be between 30 (the ECS-optimized AMI's snapshot) and 16384", c.RootVolumeGiB)
	}
	if c.TargetCapacity < 1 || c.TargetCapacity > 100 {
		p.add("compute.targetCapacity %d must be between 1 and 100", c.TargetCapacity)
	}
	for _, h := range []struct {
		field string
		v     int32
	}{{"compute.launchHookTimeout", c.LaunchHookTimeout}, {"compute.terminateHookTimeout", c.TerminateHookTimeout}} {
		if h.v < 30 || h.v > 7200 {
			p.add("%s %d must be between 30 and 7200 seconds", h.field, h.v)
		}
	}
}

func (s Spec) validateService(p *problems) {
	v := s.Service
	if v.ImageRepository == "" {
		p.add("service.imageRepository is required")
	} else if !imagePattern.MatchString(v.ImageRepository) {
		p.add("service.imageRepository %q is not an image repository", v.ImageRepository)
	}
	if !tagPattern.MatchString(v.ImageTag) {
		p.add("service.imageTag %q is not an image tag", v.ImageTag)
	}
	switch {
	case v.NginxImage == "":
		p.add("service.nginxImage is required: the image built from nginx/")
	case !imageRefPattern.MatchString(v.NginxImage):
		p.add("service.nginxImage %q is not an image reference", v.NginxImage)
	}
	if !logGroupPattern.MatchString(v.LogGroup) {
		p.add("service.logGroup %q is not a log group name", v.LogGroup)
	}
	if v.CPU < 128 || v.CPU > 16384 {
		p.add("service.cpu %d must be between 128 and 16384 units", v.CPU)
	}
	if v.Memory < 128 || v.Memory > 122880 {
		p.add("service.memory %d must be between 128 and 122880 MiB", v.Memory)
	}
	for _, port := range []struct {
		field string
		v     int32
	}{{"service.port", v.Port}, {"service.appPort", v.AppPort}} {
		if port.v < 1 || port.v > 65535 {
			p.add("%s %d is not a TCP port", port.field, port.v)
		}
	}
	if v.Port == v.AppPort {
		p.add("service.port and service.appPort are both %d; nginx and the app share the task's network namespace", v.Port)
	}
	if !strings.HasPrefix(v.HealthPath, "/") || len(v.HealthPath) > 1024 {
		p.add("service.healthPath %q must be an absolute path", v.HealthPath)
	}
	if v.MinCount < int32(s.Network.AZCount) {
		p.add("service.minCount %d is below azCount %d; every zone needs a task", v.MinCount, s.Network.AZCount)
	}
	if v.MinCount > v.MaxCount {
		p.add("service.minCount %d is greater than service.maxCount %d", v.MinCount, v.MaxCount)
	}
	if v.DesiredCount < v.MinCount || v.DesiredCount > v.MaxCount {
		p.add("service.desiredCount %d is outside [minCount %d, maxCount %d]", v.DesiredCount, v.MinCount, v.MaxCount)
	}
	if v.HealthCheckGracePeriod < 0 {
		p.add("service.healthCheckGracePeriod %d is negative", v.HealthCheckGracePeriod)
	}
	for _, pct := range []struct {
		field string
		v     float64
	}{
		{"service.cpuTarget", v.CPUTarget}, {"service.memoryTarget", v.MemoryTarget},
		{"service.alarms.cpuHigh", v.Alarms.CPUHigh}, {"service.alarms.memoryHigh", v.Alarms.MemoryHigh},
	} {
		if pct.v <= 0 || pct.v > 100 {
			p.add("%s %g must be a percentage in (0, 100]", pct.field, pct.v)
		}
	}
	if v.CPUTarget >= v.Alarms.CPUHigh {
		p.add("service.cpuTarget %g must be below service.alarms.cpuHigh %g, or scaling never acts before the alarm", v.CPUTarget, v.Alarms.CPUHigh)
	}
	if v.Alarms.Target5xx <= 0 {
		p.add("service.alarms.target5xx %g must be positive", v.Alarms.Target5xx)
	}
	if v.Alarms.UnhealthyHosts <= 0 {
		p.add("service.alarms.unhealthyHosts %g must be positive", v.Alarms.UnhealthyHosts)
	}
	if v.Alarms.EvaluationPeriods < 1 || v.Alarms.EvaluationPeriods > 60 {
		p.add("service.alarms.evaluationPeriods %d must be between 1 and 60", v.Alarms.EvaluationPeriods)
	}
}

// Image is the app's initial image reference, the one the first build
// creates the service with.
func (s Spec) Image() string { return s.Service.ImageRepository + ":" + s.Service.ImageTag }

// HTTPS reports whether the load balancer serves HTTPS.
func (s Spec) HTTPS() bool { return s.Ingress.CertificateARN != "" }

// Identify reads the name of the stack a spec describes and nothing else,
// for the teardown, which must run whatever else the spec says: an
// unrelated invalid field never blocks it.
func Identify(raw []byte) (Spec, error) {
	var id struct {
		Name string `json:"name"`
	}
	if len(strings.TrimSpace(string(raw))) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &id); err != nil {
			return Spec{}, handlererr.Invalid("stack spec is not valid JSON: " + err.Error())
		}
	}
	if !namePattern.MatchString(id.Name) {
		return Spec{}, handlererr.Invalid(fmt.Sprintf("name %q does not identify a stack", id.Name))
	}
	return Spec{Name: id.Name}, nil
}

// Arm64 reports whether the instance type is a Graviton type, whose AMI is
// the arm64 variant.
func (s Spec) Arm64() bool {
	family, _, _ := strings.Cut(s.Compute.InstanceType, ".")
	i := strings.IndexAny(family, "0123456789")
	return i >= 0 && strings.Contains(family[i:], "g")
}
