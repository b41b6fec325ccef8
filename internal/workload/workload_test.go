package workload

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

func validParams() Params {
	return Params{
		AppImage:    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + strings.Repeat("a", 64),
		NginxImage:  "123456789012.dkr.ecr.eu-west-1.amazonaws.com/nginx:1.30.4",
		ServiceName: "web",
		Version:     "v1.2.3",
		LogGroup:    "/ecsplane/web",
		Region:      "eu-west-1",
		VPCCIDR:     "10.40.0.0/16",
	}
}

func containersByName(t *testing.T) map[string]types.ContainerDefinition {
	t.Helper()
	defs, err := Containers(validParams())
	if err != nil {
		t.Fatalf("Containers: %v", err)
	}
	byName := make(map[string]types.ContainerDefinition, len(defs))
	for _, def := range defs {
		byName[aws.ToString(def.Name)] = def
	}
	if len(byName) != 2 {
		t.Fatalf("want 2 distinct containers, got %d", len(defs))
	}
	return byName
}

func TestContainers(t *testing.T) {
	byName := containersByName(t)
	p := validParams()
	tests := []struct {
		name        string
		image       string
		user        string
		ports       []int32
		healthCheck []string
		env         map[string]string
	}{
		{
			name:        AppContainerName,
			image:       p.AppImage,
			user:        AppUser,
			ports:       nil,
			healthCheck: []string{"CMD", "python3", "/app/healthcheck.py", "http://127.0.0.1:8000/healthz"},
			env:         map[string]string{"APP_VERSION": "v1.2.3", "SERVICE_NAME": "web", "BIND": "127.0.0.1:8000"},
		},
		{
			name:        NginxContainerName,
			image:       p.NginxImage,
			user:        NginxUser,
			ports:       []int32{80},
			healthCheck: []string{"CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:80/healthz"},
			env:         map[string]string{"TRUSTED_PROXY_CIDR": "10.40.0.0/16"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, ok := byName[tt.name]
			if !ok {
				t.Fatalf("no %s container", tt.name)
			}
			if got := aws.ToString(def.Image); got != tt.image {
				t.Errorf("image = %q, want %q", got, tt.image)
			}
			if !aws.ToBool(def.Essential) {
				t.Error("not essential")
			}
			if !aws.ToBool(def.ReadonlyRootFilesystem) {
				t.Error("root filesystem is writable")
			}
			if got := aws.ToString(def.User); got != tt.user {
				t.Errorf("user = %q, want %q", got, tt.user)
			}
			if uid, _, _ := strings.Cut(aws.ToString(def.User), ":"); uid == "0" || uid == "root" {
				t.Errorf("runs as root: %q", aws.ToString(def.User))
			}
			if aws.ToBool(def.Privileged) {
				t.Error("privileged")
			}
			var ports []int32
			for _, pm := range def.PortMappings {
				ports = append(ports, aws.ToInt32(pm.ContainerPort))
				if pm.Protocol != types.TransportProtocolTcp {
					t.Errorf("port %d protocol = %q, want tcp", aws.ToInt32(pm.ContainerPort), pm.Protocol)
				}
			}
			if !slices.Equal(ports, tt.ports) {
				t.Errorf("ports = %v, want %v", ports, tt.ports)
			}
			if def.HealthCheck == nil || !slices.Equal(def.HealthCheck.Command, tt.healthCheck) {
				t.Errorf("health check = %+v, want command %v", def.HealthCheck, tt.healthCheck)
			}
			if got := aws.ToInt32(def.StopTimeout); got != StopTimeoutSeconds {
				t.Errorf("stopTimeout = %d, want %d", got, StopTimeoutSeconds)
			}
			env := map[string]string{}
			for _, kv := range def.Environment {
				env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
			}
			if !maps.Equal(env, tt.env) {
				t.Errorf("environment = %v, want %v", env, tt.env)
			}
			lp := def.LinuxParameters
			if lp == nil || lp.Capabilities == nil || !slices.Equal(lp.Capabilities.Drop, []string{"ALL"}) || len(lp.Capabilities.Add) > 0 {
				t.Errorf("capabilities = %+v, want all dropped, none added", lp)
			}
			if lp == nil || len(lp.Tmpfs) != 1 || aws.ToString(lp.Tmpfs[0].ContainerPath) != "/tmp" || lp.Tmpfs[0].Size <= 0 {
				t.Errorf("tmpfs = %+v, want one on /tmp", lp)
			} else if !slices.Contains(lp.Tmpfs[0].MountOptions, "noexec") {
				t.Errorf("tmpfs options = %v, want noexec", lp.Tmpfs[0].MountOptions)
			}
			lc := def.LogConfiguration
			if lc == nil || lc.LogDriver != types.LogDriverAwslogs {
				t.Fatalf("log configuration = %+v, want awslogs", lc)
			}
			for key, want := range map[string]string{
				"awslogs-group":         p.LogGroup,
				"awslogs-region":        p.Region,
				"awslogs-stream-prefix": p.ServiceName,
				"mode":                  "non-blocking",
			} {
				if got := lc.Options[key]; got != want {
					t.Errorf("log option %s = %q, want %q", key, got, want)
				}
			}
		})
	}
}

func TestNginxStartsOnlyOnceTheAppIsHealthy(t *testing.T) {
	byName := containersByName(t)
	nginx, app := byName[NginxContainerName], byName[AppContainerName]

	want := []types.ContainerDependency{{ContainerName: aws.String(AppContainerName), Condition: types.ContainerConditionHealthy}}
	if len(nginx.DependsOn) != 1 || aws.ToString(nginx.DependsOn[0].ContainerName) != AppContainerName ||
		nginx.DependsOn[0].Condition != types.ContainerConditionHealthy {
		t.Errorf("nginx dependsOn = %+v, want %+v", nginx.DependsOn, want)
	}
	if aws.ToInt32(nginx.StartTimeout) <= 0 {
		t.Error("nginx has no startTimeout: a never-healthy app would hold the task forever")
	}
	if app.HealthCheck == nil {
		t.Error("the app has no health check, so HEALTHY can never be reached")
	}
	if len(app.DependsOn) != 0 {
		t.Errorf("app dependsOn = %+v, want none", app.DependsOn)
	}
}

func TestNginxMayBindItsPortUnprivileged(t *testing.T) {
	byName := containersByName(t)
	var got []types.SystemControl
	for _, def := range byName {
		got = append(got, def.SystemControls...)
	}
	if len(got) != 1 || aws.ToString(got[0].Namespace) != "net.ipv4.ip_unprivileged_port_start" {
		t.Fatalf("system controls = %+v, want exactly one ip_unprivileged_port_start", got)
	}
	if start, err := strconv.Atoi(aws.ToString(got[0].Value)); err != nil || int32(start) > NginxPort {
		t.Errorf("ip_unprivileged_port_start = %q, want at most %d", aws.ToString(got[0].Value), NginxPort)
	}
}

func TestStopTimeoutCoversTheGracePeriod(t *testing.T) {
	margin := StopTimeoutSeconds - GracefulTimeoutSeconds
	if margin < 2 {
		t.Errorf("stopTimeout %d leaves %ds after gunicorn's grace period %d; want at least 2s", StopTimeoutSeconds, margin, GracefulTimeoutSeconds)
	}
	// ECS caps stopTimeout at 120 s.
	if StopTimeoutSeconds > 120 {
		t.Errorf("stopTimeout %d exceeds ECS's 120 s maximum", StopTimeoutSeconds)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Params)
		missing []string // substrings the error must contain
	}{
		{name: "valid", mutate: func(*Params) {}},
		{name: "no app image", mutate: func(p *Params) { p.AppImage = "" }, missing: []string{"AppImage is required"}},
		{name: "blank nginx image", mutate: func(p *Params) { p.NginxImage = "  " }, missing: []string{"NginxImage is required"}},
		{name: "no service name", mutate: func(p *Params) { p.ServiceName = "" }, missing: []string{"ServiceName is required"}},
		{name: "no version", mutate: func(p *Params) { p.Version = "" }, missing: []string{"Version is required"}},
		{name: "no log group", mutate: func(p *Params) { p.LogGroup = "" }, missing: []string{"LogGroup is required"}},
		{name: "no region", mutate: func(p *Params) { p.Region = "" }, missing: []string{"Region is required"}},
		{name: "no VPC CIDR", mutate: func(p *Params) { p.VPCCIDR = "" }, missing: []string{"VPCCIDR is required"}},
		{name: "VPC CIDR with host bits", mutate: func(p *Params) { p.VPCCIDR = "10.40.0.1/16" }, missing: []string{"not an IPv4 network"}},
		{name: "VPC CIDR is IPv6", mutate: func(p *Params) { p.VPCCIDR = "fd00::/56" }, missing: []string{"not an IPv4 network"}},
		{name: "VPC CIDR is an address", mutate: func(p *Params) { p.VPCCIDR = "10.40.0.0" }, missing: []string{"not an IPv4 network"}},
		{
			name:   "everything missing is reported at once",
			mutate: func(p *Params) { *p = Params{} },
			missing: []string{
				"AppImage is required", "NginxImage is required", "ServiceName is required",
				"Version is required", "LogGroup is required", "Region is required", "VPCCIDR is required",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validParams()
			tt.mutate(&p)
			err := p.Validate()
			if len(tt.missing) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			for _, want := range tt.missing {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not report %q", err, want)
				}
			}
			if defs, cerr := Containers(p); cerr == nil || defs != nil {
				t.Errorf("Containers = %v, %v; want nil and an error", defs, cerr)
			}
		})
	}
}

// okTransport answers every request with an empty JSON object, so that a
// call succeeds once the SDK's own input validation has passed.
type okTransport struct{ calls int }

func (o *okTransport) Do(req *http.Request) (*http.Response, error) {
	o.calls++
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": []string{"application/x-amz-json-1.1"}},
		Body:       io.NopCloser(strings.NewReader("{}")),
		Request:    req,
	}, nil
}

func TestTheSDKAcceptsTheDefinitions(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func([]types.ContainerDefinition)
		invalid bool
	}{
		{name: "as built", mutate: func([]types.ContainerDefinition) {}},
		{
			// Shows that the SDK really validates the nested definitions.
			name:    "a dependency without a condition",
			mutate:  func(defs []types.ContainerDefinition) { defs[1].DependsOn[0].Condition = "" },
			invalid: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defs, err := Containers(validParams())
			if err != nil {
				t.Fatalf("Containers: %v", err)
			}
			tt.mutate(defs)
			transport := &okTransport{}
			client := ecs.New(ecs.Options{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}, HTTPClient: transport})
			_, err = client.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
				Family:                  aws.String("web"),
				NetworkMode:             types.NetworkModeAwsvpc,
				RequiresCompatibilities: []types.Compatibility{types.CompatibilityEc2},
				ContainerDefinitions:    defs,
			})
			var invalid smithy.InvalidParamsError
			switch {
			case tt.invalid && !errors.As(err, &invalid):
				t.Fatalf("RegisterTaskDefinition error = %v, want invalid params", err)
			case !tt.invalid && err != nil:
				t.Fatalf("RegisterTaskDefinition: %v", err)
			case tt.invalid == (transport.calls > 0):
				t.Errorf("%d requests sent; want one only for valid input", transport.calls)
			}
		})
	}
}

// TestServiceFilesAgree checks the constants against the files that the two
// images are built from.
func TestServiceFilesAgree(t *testing.T) {
	tests := []struct {
		file    string
		pattern string
		want    string
	}{
		{"service/gunicorn.conf.py", `(?m)^graceful_timeout = (\d+)$`, strconv.Itoa(int(GracefulTimeoutSeconds))},
		{"service/app.py", `(?m)^HEALTH_PATH = "([^"]+)"$`, HealthPath},
		{"service/app.py", `(?m)^READY_PATH = "([^"]+)"$`, ReadyPath},
		{"service/healthcheck.py", `(?m)^DEFAULT_URL = "([^"]+)"$`, localURL(AppPort, HealthPath)},
		// The last USER is the one the container runs as.
		{"service/Dockerfile", `(?s)^.*\nUSER (\S+)\n`, AppUser},
		{"service/Dockerfile", `(?m)^EXPOSE (\d+)$`, strconv.Itoa(int(AppPort))},
		{"nginx/Dockerfile", `(?s)^.*\nUSER (\S+)\n`, NginxUser},
		{"nginx/Dockerfile", `(?m)^EXPOSE (\d+)$`, strconv.Itoa(int(NginxPort))},
		{"nginx/nginx.conf", `listen (\d+) default_server;`, strconv.Itoa(int(NginxPort))},
		{"nginx/nginx.conf", `server 127\.0\.0\.1:(\d+);`, strconv.Itoa(int(AppPort))},
		{"nginx/nginx.conf", `location = (/healthz) \{`, HealthPath},
		{"nginx/nginx.conf", `location = (/readyz) \{`, ReadyPath},
		{"nginx/entrypoint.sh", `cidr="\$\{(\w+):-\}"`, trustedProxyEnv},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.want, func(t *testing.T) {
			if got := uniqueMatch(t, tt.file, tt.pattern); got != tt.want {
				t.Errorf("%s has %q, want %q", tt.file, got, tt.want)
			}
		})
	}
}

func TestNginxGivesUpBeforeTheGracePeriodEnds(t *testing.T) {
	// A request nginx is still waiting for when the app drains must be able
	// to finish within the grace period.
	readTimeout, err := strconv.Atoi(uniqueMatch(t, "nginx/nginx.conf", `(?m)^\s*proxy_read_timeout (\d+)s;$`))
	if err != nil {
		t.Fatal(err)
	}
	if int32(readTimeout) >= GracefulTimeoutSeconds {
		t.Errorf("proxy_read_timeout %ds is not below the grace period %ds", readTimeout, GracefulTimeoutSeconds)
	}
}

func uniqueMatch(t *testing.T, file, pattern string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	matches := regexp.MustCompile(pattern).FindAllStringSubmatch(string(text), -1)
	if len(matches) != 1 {
		t.Fatalf("%s: want one match of %s, got %d", file, pattern, len(matches))
	}
	return matches[0][1]
}
