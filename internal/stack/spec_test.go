package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

func valid() Spec {
	s := Defaults("web")
	s.Service.ImageRepository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
	s.Service.NginxImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web-nginx:1"
	s.Roles = Roles{
		InstanceProfileARN: "arn:aws:iam::123456789012:instance-profile/web",
		ExecutionRoleARN:   "arn:aws:iam::123456789012:role/web-exec",
		TaskRoleARN:        "arn:aws:iam::123456789012:role/web-task",
	}
	return s
}

// complete gives a decoded spec the fields the control plane's
// configuration fills in.
func complete(s Spec) Spec {
	v := valid()
	s.Service.ImageRepository, s.Service.NginxImage, s.Roles = v.Service.ImageRepository, v.Service.NginxImage, v.Roles
	return s.WithDefaults()
}

func TestDefaultsAreValid(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatal(err)
	}
	if Defaults("x").Network.AZCount != 2 {
		t.Fatal("the default AZ count is not 2")
	}
}

func TestValidateReportsEachProblem(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   string
	}{
		{"one AZ", func(s *Spec) { s.Network.AZCount = 1 }, "at least 2 Availability Zones"},
		{"overlapping subnets", func(s *Spec) { s.Network.PrivateSubnets[1] = "10.40.1.0/25" }, "overlaps network.publicSubnets[1]"},
		{"subnet outside VPC", func(s *Spec) { s.Network.PublicSubnets[0] = "10.99.0.0/24" }, "not inside the VPC"},
		{"bad VPC CIDR", func(s *Spec) { s.Network.VPCCIDR = "10.40.0.1/16" }, "not an IPv4 network"},
		{"VPC too large", func(s *Spec) { s.Network.VPCCIDR = "10.0.0.0/8" }, "between /16 and /28"},
		{"subnet count", func(s *Spec) { s.Network.PublicSubnets = s.Network.PublicSubnets[:1] }, "has 1 subnets"},
		{"duplicate AZ", func(s *Spec) { s.Network.AZs = []string{"us-east-1a", "us-east-1a"} }, "listed twice"},
		{"instance type", func(s *Spec) { s.Compute.InstanceType = "large" }, "not an instance type"},
		{"min above max", func(s *Spec) { s.Compute.MinSize, s.Compute.MaxSize = 5, 3 }, "minSize 5 is greater than compute.maxSize 3"},
		{"service count below zones", func(s *Spec) { s.Service.MinCount, s.Service.DesiredCount = 1, 1 }, "every zone needs a task"},
		{"same ports", func(s *Spec) { s.Service.AppPort = 80 }, "share the task's network namespace"},
		{"health path", func(s *Spec) { s.Service.HealthPath = "healthz" }, "absolute path"},
		{"no image", func(s *Spec) { s.Service.ImageRepository = "" }, "imageRepository is required"},
		{"no nginx image", func(s *Spec) { s.Service.NginxImage = "" }, "nginxImage is required"},
		{"log group", func(s *Spec) { s.Service.LogGroup = "logs here" }, "service.logGroup"},
		{"certificate", func(s *Spec) { s.Ingress.CertificateARN = "arn:aws:iam::123456789012:server-certificate/web" }, "not an ACM certificate ARN"},
		{"target above alarm", func(s *Spec) { s.Service.CPUTarget = 90 }, "scaling never acts"},
		{"role", func(s *Spec) { s.Roles.TaskRoleARN = "task" }, "roles.taskRoleArn"},
		{"desired below zones", func(s *Spec) { s.Compute.MinSize, s.Compute.DesiredCapacity = 0, 1 }, "the build starts an instance in every zone"},
		{"retention", func(s *Spec) { s.Service.LogRetentionDays = 10 }, "service.logRetentionDays 10 is not one CloudWatch Logs accepts"},
		{"access log bucket", func(s *Spec) { s.Ingress.AccessLogs = &AccessLogs{Bucket: "Logs_Bucket"} }, "ingress.accessLogs.bucket"},
		{"access log prefix", func(s *Spec) { s.Ingress.AccessLogs = &AccessLogs{Bucket: "logs", Prefix: "x/AWSLogs"} }, "must not start or end with / nor contain AWSLogs"},
		{"name", func(s *Spec) { s.Name = "Web_1" }, `name "Web_1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			s.Network.PublicSubnets = append([]string(nil), s.Network.PublicSubnets...)
			s.Network.PrivateSubnets = append([]string(nil), s.Network.PrivateSubnets...)
			tt.mutate(&s)
			err := s.Validate()
			var inv *handlererr.InvalidInputError
			if !errors.As(err, &inv) {
				t.Fatalf("Validate = %v, want an InvalidInputError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want a problem containing %q", err, tt.want)
			}
		})
	}
}

func TestValidateListsEveryProblemAtOnce(t *testing.T) {
	s := valid()
	s.Network.AZCount = 1
	s.Compute.MinSize, s.Compute.MaxSize = 9, 3
	s.Service.HealthPath = "x"
	err := s.Validate()
	var inv *handlererr.InvalidInputError
	if !errors.As(err, &inv) || len(inv.Problems) < 4 {
		t.Fatalf("Validate = %v, want at least 4 problems", err)
	}
}

func TestParseIsStrictAndDefaults(t *testing.T) {
	if _, err := Parse([]byte(`{"name":"web","netwrk":{}}`)); err == nil || !strings.Contains(err.Error(), "netwrk") {
		t.Fatalf("Parse accepted an unknown field: %v", err)
	}
	raw, _ := json.Marshal(valid())
	s, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.Compute.InstanceType != "t3.medium" || s.Network.AZCount != 2 {
		t.Fatalf("defaults not applied: %+v", s.Compute)
	}
	z, err := Decode([]byte(`{"name": "web"}`))
	if err != nil {
		t.Fatal(err)
	}
	if z = z.WithDefaults(); z.Service.Port != 80 || z.Service.AppPort != 8000 || len(z.Network.PrivateSubnets) != 2 || z.Service.LogGroup != "/ecs/web" {
		t.Fatalf("defaults left fields unset: %+v", z.Service)
	}
}

// TestDecodeRejectsKeysNotSpeltAsFields: encoding/json matches keys to
// fields ignoring case, so "vpcCIDR" would silently set vpcCidr; every
// key that is not a field exactly is reported, with its path, at once.
func TestDecodeRejectsKeysNotSpeltAsFields(t *testing.T) {
	_, err := Decode([]byte(`{"name": "web", "network": {"vpcCIDR": "10.1.0.0/16", "zones": 3},
		"Compute": {"minSize": 1}, "service": {"alarms": {"cpuhigh": 90}}}`))
	var inv *handlererr.InvalidInputError
	if !errors.As(err, &inv) {
		t.Fatalf("Decode = %v, want an InvalidInputError", err)
	}
	want := []string{
		`unknown field "Compute": did you mean "compute"?`,
		`unknown field "network.vpcCIDR": did you mean "network.vpcCidr"?`,
		`unknown field "network.zones"`,
		`unknown field "service.alarms.cpuhigh": did you mean "service.alarms.cpuHigh"?`,
	}
	if !slices.Equal(inv.Problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(inv.Problems, "\n"), strings.Join(want, "\n"))
	}
	for _, raw := range []string{`[1]`, `"web"`, `{"name": "web"} {}`, `{"compute": {"minSize": "2"}}`} {
		if _, err := Decode([]byte(raw)); !errors.As(err, &inv) {
			t.Errorf("Decode(%s) = %v, want an InvalidInputError", raw, err)
		}
	}
	if _, err := Decode([]byte(`{"compute": {"minSize": "2"}}`)); err == nil || !strings.Contains(err.Error(), "compute.minSize is a JSON string; want an integer") {
		t.Errorf("type error = %v", err)
	}
}

// TestDecodeKeepsAGivenZero: a field the JSON sets keeps its value, zero
// included; only a field it leaves out takes its default.
func TestDecodeKeepsAGivenZero(t *testing.T) {
	s, err := Decode([]byte(`{"name": "web", "compute": {"minSize": 0}, "service": {"healthCheckGracePeriod": 0, "logRetentionDays": 0}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Compute.MinSize != 0 || s.Service.HealthCheckGracePeriod != 0 || s.Service.LogRetentionDays != 0 {
		t.Errorf("given zeros became %d, %d, %d", s.Compute.MinSize, s.Service.HealthCheckGracePeriod, s.Service.LogRetentionDays)
	}
	if !s.Given("compute.minSize") || s.Given("compute.maxSize") {
		t.Errorf("Given(minSize) = %t, Given(maxSize) = %t", s.Given("compute.minSize"), s.Given("compute.maxSize"))
	}
	if s.Compute.MaxSize != 6 || s.Service.DesiredCount != 2 {
		t.Errorf("fields left out lost their defaults: %+v", s.Compute)
	}
	if err := complete(s).Validate(); err != nil {
		t.Errorf("a minimum of 0 instances is valid: %v", err)
	}
	// A zero where zero means nothing is reported, not replaced.
	s, err = Decode([]byte(`{"name": "web", "compute": {"rootVolumeGiB": 0}, "service": {"cpu": 0}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := complete(s).Validate(); err == nil || !strings.Contains(err.Error(), "compute.rootVolumeGiB 0") || !strings.Contains(err.Error(), "service.cpu 0") {
		t.Errorf("explicit zeros validated as %v", err)
	}
}

// TestDerivedSubnetsFollowTheVPC: subnets left out are planned inside the
// VPC the spec gives, one public and one private per zone.
func TestDerivedSubnetsFollowTheVPC(t *testing.T) {
	tests := []struct {
		vpc              string
		zones            int
		public, private  []string
		wantErrSubstring string
	}{
		{DefaultVPCCIDR, 2, []string{"10.40.0.0/24", "10.40.1.0/24"}, []string{"10.40.16.0/20", "10.40.32.0/20"}, ""},
		{"172.16.0.0/16", 3, []string{"172.16.0.0/24", "172.16.1.0/24", "172.16.2.0/24"}, []string{"172.16.16.0/20", "172.16.32.0/20", "172.16.48.0/20"}, ""},
		{"10.8.0.0/20", 2, []string{"10.8.0.0/28", "10.8.0.16/28"}, []string{"10.8.1.0/24", "10.8.2.0/24"}, ""},
		{"192.168.4.0/24", 2, []string{"192.168.4.0/26", "192.168.4.64/26"}, []string{"192.168.4.128/26", "192.168.4.192/26"}, ""},
		{"192.168.4.0/26", 2, []string{"192.168.4.0/28", "192.168.4.16/28"}, []string{"192.168.4.32/28", "192.168.4.48/28"}, ""},
		{"192.168.4.0/27", 2, nil, nil, "too small"},
	}
	for _, tt := range tests {
		raw := fmt.Sprintf(`{"name": "web", "network": {"vpcCidr": %q, "azCount": %d}}`, tt.vpc, tt.zones)
		s, err := Decode([]byte(raw))
		if tt.wantErrSubstring != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstring) {
				t.Errorf("%s: Decode = %v, want %q", tt.vpc, err, tt.wantErrSubstring)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.vpc, err)
		}
		if !slices.Equal(s.Network.PublicSubnets, tt.public) || !slices.Equal(s.Network.PrivateSubnets, tt.private) {
			t.Errorf("%s over %d zones: public %v private %v, want %v %v", tt.vpc, tt.zones, s.Network.PublicSubnets, s.Network.PrivateSubnets, tt.public, tt.private)
		}
		v := complete(s)
		v.Compute.DesiredCapacity, v.Compute.MinSize, v.Service.MinCount, v.Service.DesiredCount = 3, 3, 3, 3
		if err := v.Validate(); err != nil {
			t.Errorf("%s: the derived subnets do not validate: %v", tt.vpc, err)
		}
	}
	// Given subnets are kept; pinned zones set the zone count.
	s, err := Decode([]byte(`{"network": {"azs": ["us-east-1a", "us-east-1b", "us-east-1c"], "publicSubnets": ["10.40.0.0/24", "10.40.1.0/24", "10.40.2.0/24"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Network.AZCount != 3 || s.Network.PublicSubnets[2] != "10.40.2.0/24" || len(s.Network.PrivateSubnets) != 3 {
		t.Errorf("network = %+v", s.Network)
	}
}

// TestIdentifyReadsOnlyTheName: a teardown runs with whatever spec names
// the stack; nothing else in it is read, so nothing else can block it.
func TestIdentifyReadsOnlyTheName(t *testing.T) {
	s, err := Identify([]byte(`{"name": "web", "compute": {"minSize": -4}, "unknown": true}`))
	if err != nil || s.Name != "web" {
		t.Fatalf("Identify = %+v, %v", s, err)
	}
	for _, raw := range []string{``, `{}`, `{"name": "Web_1"}`, `[1]`} {
		var inv *handlererr.InvalidInputError
		if _, err := Identify([]byte(raw)); !errors.As(err, &inv) {
			t.Errorf("Identify(%s) = %v, want an InvalidInputError", raw, err)
		}
	}
}

func TestHTTPSFollowsTheCertificate(t *testing.T) {
	s := valid()
	if s.HTTPS() {
		t.Fatal("a spec without a certificate serves HTTPS")
	}
	s.Ingress.CertificateARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
	if !s.HTTPS() || s.Validate() != nil {
		t.Fatalf("with a certificate: HTTPS %t, %v", s.HTTPS(), s.Validate())
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name":"web","network":{"azCount":2}}`))
	f.Add([]byte(`{"service":{"cpu":"x"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Parse(raw)
		if err != nil {
			var inv *handlererr.InvalidInputError
			if !errors.As(err, &inv) {
				t.Fatalf("Parse returned %T, want InvalidInputError", err)
			}
			return
		}
		if s.Network.AZCount < MinAZs {
			t.Fatalf("a valid spec has %d zones", s.Network.AZCount)
		}
	})
}

func TestArm64(t *testing.T) {
	for typ, want := range map[string]bool{"t3.medium": false, "m7g.large": true, "c6gn.xlarge": true, "g4dn.xlarge": false, "t4g.small": true} {
		s := valid()
		s.Compute.InstanceType = typ
		if s.Arm64() != want {
			t.Errorf("%s: arm64 = %t", typ, !want)
		}
	}
}

func TestRunRecordsAndDryRunDoesNotApply(t *testing.T) {
	ctx := context.Background()
	applied := 0
	fn := func(context.Context) (string, error) { applied++; return "id-1", nil }
	dry := NewRun(valid(), true, "t", nil)
	id, err := dry.Do(ctx, Change{Action: Create, Layer: "network", Resource: "ec2:vpc", Name: "vpc"}, fn)
	if err != nil || applied != 0 || id != PendingPrefix+"vpc" || !Pending(id) {
		t.Fatalf("dry run: id %q err %v applied %d", id, err, applied)
	}
	wet := NewRun(valid(), false, "t", nil)
	if id, err = wet.Do(ctx, Change{Action: Create, Layer: "network", Resource: "ec2:vpc", Name: "vpc"}, fn); err != nil || id != "id-1" || applied != 1 {
		t.Fatalf("apply: id %q err %v applied %d", id, err, applied)
	}
	p := wet.Plan()
	if p.String() != "+ create network ec2:vpc vpc (id-1)\nstack web: 1 to create, 0 to update, 0 to delete\n" {
		t.Errorf("plan text:\n%s", p)
	}
	if (Plan{Stack: "web"}).String() != "stack web: no changes\n" {
		t.Errorf("empty plan text: %q", Plan{Stack: "web"}.String())
	}
	again := NewRun(valid(), false, "t", nil)
	if wet.ClientToken("nat-1") != again.ClientToken("nat-1") || wet.ClientToken("nat-1") == wet.ClientToken("nat-2") ||
		wet.ClientToken("nat-1") == NewRun(valid(), false, "other", nil).ClientToken("nat-1") || len(wet.ClientToken("x")) != 32 {
		t.Error("client tokens are not deterministic per component")
	}
	_, err = wet.Do(ctx, Change{Action: Delete, Resource: "ec2:vpc", Name: "vpc"}, func(context.Context) (string, error) { return "", errors.New("boom") })
	if err == nil || !strings.Contains(err.Error(), "deleting ec2:vpc vpc: boom") {
		t.Errorf("error = %v", err)
	}
}

func TestTags(t *testing.T) {
	m := TagMap(valid().Tags("vpc"))
	if m[TagStack] != "web" || m[TagComponent] != "vpc" || m[TagManagedBy] != ManagedBy || m[TagName] != "web-vpc" {
		t.Fatalf("tags = %v", m)
	}
	if !valid().Owned(m) || valid().Owned(map[string]string{TagStack: "web"}) {
		t.Fatal("Owned disagrees with the tag scheme")
	}
}

func FuzzIdentify(f *testing.F) {
	f.Add([]byte(`{"name":"web"}`))
	f.Add([]byte(`{"name":"web","compute":{"minSize":"x"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Identify(raw)
		if err != nil {
			var inv *handlererr.InvalidInputError
			if !errors.As(err, &inv) {
				t.Fatalf("Identify returned %T, want InvalidInputError", err)
			}
			return
		}
		if !namePattern.MatchString(s.Name) || s.Network.AZCount != 0 {
			t.Fatalf("Identify(%q) = %+v: a stack name and nothing else", raw, s)
		}
	})
}
