// Package stack describes the two-AZ ECS-on-EC2 stack that the build
// reconcilers create: its typed specification and validation, the one tag
// scheme every managed resource carries, and the plan of changes a run makes
// or, in a dry run, would make.
package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// Spec is the desired state of one stack. Decode reads it from JSON:
// fields the JSON leaves out take the values of Defaults, and a field it
// sets keeps its value, zero included; Validate reports invalid values.
type Spec struct {
	// Name identifies the stack: it prefixes resource names and is the value
	// of the stack tag.
	Name string `json:"name"`
	// Production marks a production stack: its load balancer has deletion
	// protection, so a teardown stops there until an operator lifts it.
	Production bool    `json:"production,omitempty"`
	Network    Network `json:"network"`
	Compute    Compute `json:"compute"`
	Ingress    Ingress `json:"ingress"`
	Service    Service `json:"service"`
	Roles      Roles   `json:"roles"`

	// given are the fields the decoded JSON set, by path.
	given map[string]bool
}

// Given reports whether the JSON the spec was decoded from set the field
// at path, such as "compute.minSize".
func (s Spec) Given(path string) bool { return s.given[path] }

// Ingress is the load balancer's listeners.
type Ingress struct {
	// CertificateARN is an ACM certificate for HTTPS. When set, the load
	// balancer serves HTTPS on 443 with a current TLS policy and redirects
	// HTTP on 80 to it; when empty it serves plain HTTP on 80.
	CertificateARN string `json:"certificateArn,omitempty"`
	// AccessLogs, when set, has the load balancer write its access logs to
	// an S3 bucket whose policy lets Elastic Load Balancing write to it.
	AccessLogs *AccessLogs `json:"accessLogs,omitempty"`
}

// AccessLogs is where the load balancer writes its access logs.
type AccessLogs struct {
	Bucket string `json:"bucket"`
	// Prefix is the key prefix under the bucket; empty writes at its root.
	Prefix string `json:"prefix,omitempty"`
}

// Network is the VPC and its subnet plan: one public and one private subnet
// per Availability Zone, in zone order.
type Network struct {
	VPCCIDR string `json:"vpcCidr"`
	// AZCount is the number of Availability Zones; 2 by default (or as many
	// as AZs pins), never fewer.
	AZCount int `json:"azCount"`
	// AZs pins the zone names. When empty, the first AZCount available zones
	// of the region are used.
	AZs []string `json:"azs,omitempty"`
	// PublicSubnets and PrivateSubnets are one CIDR per zone, in zone
	// order. Left out, they are derived from VPCCIDR and AZCount
	// (DeriveSubnets).
	PublicSubnets  []string `json:"publicSubnets"`
	PrivateSubnets []string `json:"privateSubnets"`
}

// Compute is the container-instance fleet.
type Compute struct {
	InstanceType string `json:"instanceType"`
	// MinSize may be 0: the capacity provider's managed scaling then keeps
	// as many instances as the tasks need.
	MinSize         int32 `json:"minSize"`
	MaxSize         int32 `json:"maxSize"`
	DesiredCapacity int32 `json:"desiredCapacity"`
	RootVolumeGiB   int32 `json:"rootVolumeGiB"`
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
	// LogGroup is the containers' CloudWatch Logs group, which the build
	// creates and owns; /ecs/<name> by default.
	LogGroup string `json:"logGroup"`
	// LogRetentionDays is how long the log group keeps events, one of the
	// values CloudWatch Logs accepts; 0 keeps them forever.
	LogRetentionDays int32 `json:"logRetentionDays"`
	// RetainLogGroup keeps the log group when the stack is destroyed.
	RetainLogGroup bool `json:"retainLogGroup,omitempty"`
	// CPU (units) and Memory (MiB) are the task-level sizes.
	CPU    int32 `json:"cpu"`
	Memory int32 `json:"memory"`
	// Port is nginx's container port, the target group's port.
	Port int32 `json:"port"`
	// AppPort is the application's port behind nginx, on localhost.
	AppPort int32 `json:"appPort"`
	// HealthPath is the target group's health check path: the app's
	// readiness path, which fails as soon as a task starts draining.
	HealthPath   string `json:"healthPath"`
	DesiredCount int32  `json:"desiredCount"`
	MinCount     int32  `json:"minCount"`
	MaxCount     int32  `json:"maxCount"`
	// HealthCheckGracePeriod is in seconds; 0 lets the load balancer's
	// health checks count from a task's start.
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

// DefaultVPCCIDR is the VPC's default network.
const DefaultVPCCIDR = "10.40.0.0/16"

// Defaults returns the default specification of a stack called name.
func Defaults(name string) Spec {
	s := Spec{
		Name: name,
		Network: Network{
			VPCCIDR: DefaultVPCCIDR,
			AZCount: MinAZs,
		},
		Compute: Compute{
			InstanceType: "t3.medium", MinSize: 2, MaxSize: 6, DesiredCapacity: 2,
			RootVolumeGiB: 30, TargetCapacity: 100,
			LaunchHookTimeout: 300, TerminateHookTimeout: 900,
		},
		Service: Service{
			ImageTag: "latest", LogRetentionDays: 30,
			CPU: 512, Memory: 1024, Port: 80, AppPort: 8000,
			HealthPath: "/readyz", DesiredCount: 2, MinCount: 2, MaxCount: 8,
			HealthCheckGracePeriod: 60, CPUTarget: 60, MemoryTarget: 70,
			Alarms: Alarms{CPUHigh: 85, MemoryHigh: 85, Target5xx: 10, UnhealthyHosts: 1, EvaluationPeriods: 3},
		},
	}
	s.Network.PublicSubnets, s.Network.PrivateSubnets, _ = DeriveSubnets(DefaultVPCCIDR, MinAZs)
	return s.WithDefaults()
}

// WithDefaults fills what derives from the stack's name and is still
// empty: the log group, /ecs/<name>.
func (s Spec) WithDefaults() Spec {
	if s.Service.LogGroup == "" && s.Name != "" {
		s.Service.LogGroup = "/ecs/" + s.Name
	}
	return s
}

// DeriveSubnets plans n public and n private subnets inside the VPC
// network vpcCIDR. A VPC of /20 or larger is cut into sixteen blocks:
// the first holds the public subnets, a sixteenth of it each, and the
// next n are the private subnets, where the tasks' network interfaces
// take their addresses (10.40.0.0/16 gives 10.40.0.0/24, 10.40.1.0/24,
// 10.40.16.0/20 and 10.40.32.0/20). A smaller VPC is cut into 2n equal
// subnets, the public ones first. No subnet is smaller than /28, the
// least AWS allows.
func DeriveSubnets(vpcCIDR string, n int) (public, private []string, err error) {
	vpc, err := netip.ParsePrefix(vpcCIDR)
	if err != nil || !vpc.Addr().Is4() || vpc != vpc.Masked() {
		return nil, nil, fmt.Errorf("%q is not an IPv4 network in CIDR notation", vpcCIDR)
	}
	if n < 1 {
		return nil, nil, fmt.Errorf("no subnets to derive for %d zones", n)
	}
	bits := vpc.Bits()
	if bits <= 20 && n < 16 {
		for i := range n {
			public = append(public, subnet(vpc, bits+8, i).String())
			private = append(private, subnet(vpc, bits+4, i+1).String())
		}
		return public, private, nil
	}
	size := bits + bitsFor(2*n)
	if size > 28 {
		return nil, nil, fmt.Errorf("%s is too small for %d subnets of at least /28", vpcCIDR, 2*n)
	}
	for i := range n {
		public = append(public, subnet(vpc, size, i).String())
		private = append(private, subnet(vpc, size, n+i).String())
	}
	return public, private, nil
}

// subnet is the i-th network of length bits inside vpc.
func subnet(vpc netip.Prefix, bits, i int) netip.Prefix {
	a := vpc.Addr().As4()
	base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v := base + uint32(i)<<(32-bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
}

// bitsFor is the number of bits that count n things.
func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

// Decode reads a JSON spec strictly: a key that names no field, exactly as
// the field is spelt (encoding/json alone would match "vpcCIDR" to
// vpcCidr), is an error naming it, and every such problem is reported at
// once. Fields the JSON leaves out take their defaults, so a field it sets
// keeps its value even when that is zero (a minSize of 0 stays 0); the
// zone count follows pinned zones, and the subnets follow the VPC CIDR
// and the zone count, and WithDefaults derives the log group from the
// name. An empty input is the default spec without a name.
func Decode(raw []byte) (Spec, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = []byte("{}")
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return Spec{}, handlererr.Invalid("stack spec is not valid JSON: " + err.Error())
	}
	if dec.More() {
		return Spec{}, handlererr.Invalid("stack spec is not one JSON object: data follows it")
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return Spec{}, handlererr.Invalid(fmt.Sprintf("stack spec must be a JSON object, not %s", jsonKind(tree)))
	}
	var p problems
	set := map[string]bool{}
	checkKeys("", obj, reflect.TypeFor[Spec](), set, &p)
	if len(p) > 0 {
		return Spec{}, handlererr.Invalid(p...)
	}
	name, _ := obj["name"].(string)
	s := Defaults(name)
	s.given = set
	// What derives from other fields is derived once they are read.
	s.Network.PublicSubnets, s.Network.PrivateSubnets, s.Service.LogGroup = nil, nil, ""
	if err := json.Unmarshal(raw, &s); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Spec{}, handlererr.Invalid(fmt.Sprintf("%s is a JSON %s; want %s", te.Field, te.Value, goKind(te.Type)))
		}
		return Spec{}, handlererr.Invalid("stack spec is not valid: " + err.Error())
	}
	n := &s.Network
	if len(n.AZs) > 0 && !set["network.azCount"] {
		n.AZCount = len(n.AZs)
	}
	if n.PublicSubnets == nil || n.PrivateSubnets == nil {
		public, private, err := DeriveSubnets(n.VPCCIDR, n.AZCount)
		if err != nil {
			return Spec{}, handlererr.Invalid(fmt.Sprintf("network: cannot derive the subnets: %v; give network.publicSubnets and network.privateSubnets", err))
		}
		if n.PublicSubnets == nil {
			n.PublicSubnets = public
		}
		if n.PrivateSubnets == nil {
			n.PrivateSubnets = private
		}
	}
	return s, nil
}

// checkKeys reports every key of obj, at path, that names no field of the
// struct type t exactly, and records in set the paths of those that do.
func checkKeys(path string, obj map[string]any, t reflect.Type, set map[string]bool, p *problems) {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		fields[name] = f.Type
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		at := key
		if path != "" {
			at = path + "." + key
		}
		ft, ok := fields[key]
		if !ok {
			msg := fmt.Sprintf("unknown field %q", at)
			for name := range fields {
				if strings.EqualFold(name, key) {
					msg += fmt.Sprintf(": did you mean %q?", strings.TrimSuffix(at, key)+name)
				}
			}
			p.add("%s", msg)
			continue
		}
		set[at] = true
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if child, ok := obj[key].(map[string]any); ok && ft.Kind() == reflect.Struct {
			checkKeys(at, child, ft, set, p)
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	}
	return "an object"
}

// Parse decodes a JSON spec strictly, with its defaults, and validates it.
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
	bucketPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// LogRetentionDays are the retention periods CloudWatch Logs accepts
// (PutRetentionPolicy's retentionInDays), with 0 for none: events are kept
// forever.
var LogRetentionDays = []int32{0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

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
	if l := s.Ingress.AccessLogs; l != nil {
		if !bucketPattern.MatchString(l.Bucket) {
			p.add("ingress.accessLogs.bucket %q is not an S3 bucket name", l.Bucket)
		}
		// Elastic Load Balancing refuses a prefix containing AWSLogs.
		if strings.HasPrefix(l.Prefix, "/") || strings.HasSuffix(l.Prefix, "/") || strings.Contains(l.Prefix, "AWSLogs") {
			p.add("ingress.accessLogs.prefix %q must not start or end with / nor contain AWSLogs", l.Prefix)
		}
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
	if c.MinSize < 0 {
		p.add("compute.minSize %d is negative", c.MinSize)
	}
	if c.MinSize > c.MaxSize {
		p.add("compute.minSize %d is greater than compute.maxSize %d", c.MinSize, c.MaxSize)
	}
	if c.DesiredCapacity < c.MinSize || c.DesiredCapacity > c.MaxSize {
		p.add("compute.desiredCapacity %d is outside [minSize %d, maxSize %d]", c.DesiredCapacity, c.MinSize, c.MaxSize)
	}
	// The build starts with an instance in every zone and waits for them;
	// afterwards managed scaling may go down to minSize.
	if c.DesiredCapacity < int32(s.Network.AZCount) {
		p.add("compute.desiredCapacity %d is below azCount %d; the build starts an instance in every zone", c.DesiredCapacity, s.Network.AZCount)
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
	if !slices.Contains(LogRetentionDays, v.LogRetentionDays) {
		p.add("service.logRetentionDays %d is not one CloudWatch Logs accepts: 0 (forever) or %s", v.LogRetentionDays, strings.Trim(fmt.Sprint(LogRetentionDays[1:]), "[]"))
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
