package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awsclient"
)

// Defaults for Options fields left zero.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

// DefaultStart is where the virtual clock starts unless Options.Start is set.
// A fixed instant keeps event logs byte-identical across runs.
var DefaultStart = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// Options configures a simulator. The zero value is usable.
type Options struct {
	// Seed drives every random choice (IDs, throttling, tie-breaks). The same
	// seed and the same calls give the same event log.
	Seed uint64
	// Region is the simulated region; DefaultRegion when empty.
	Region string
	// AccountID is the simulated account; DefaultAccountID when empty.
	AccountID string
	// Zones is the number of Availability Zones in the region (a, b, c, …);
	// 3 when zero.
	Zones int
	// Start is the virtual clock's initial time; DefaultStart when zero.
	Start time.Time
	// Timings overrides how long simulated transitions take; zero fields keep
	// their defaults.
	Timings Timings
	// Logger receives debug records of simulated transitions; discarded when
	// nil.
	Logger *slog.Logger
}

// Timings are the durations of simulated transitions. The defaults are typical
// of AWS, rounded.
type Timings struct {
	// InstanceBoot is how long an instance stays pending before running.
	InstanceBoot time.Duration
	// InstanceShutdown is how long an instance stays shutting-down.
	InstanceShutdown time.Duration
	// StatusChecks is how long a running instance's status checks report
	// initializing before ok.
	StatusChecks time.Duration
	// TerminatedRetention is how long a terminated instance (or deleted NAT
	// gateway) stays visible to Describe calls.
	TerminatedRetention time.Duration
	// NATGatewayCreate is how long a NAT gateway stays pending.
	NATGatewayCreate time.Duration
	// NATGatewayDelete is how long a NAT gateway stays deleting.
	NATGatewayDelete time.Duration
	// ScalingReaction is how long an Auto Scaling group takes to act on a
	// change of its desired capacity or of an instance's state.
	ScalingReaction time.Duration
	// HealthCheckDetection is how long an Auto Scaling group takes to notice
	// that an instance failed.
	HealthCheckDetection time.Duration
	// LaunchRetry is how long an Auto Scaling group waits before retrying
	// after every zone refused a launch, and between rebalancing attempts.
	LaunchRetry time.Duration
	// Services are the durations of ECS, Elastic Load Balancing and
	// CloudWatch transitions.
	Services ServiceTimings
}

func (t Timings) withDefaults() Timings {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.InstanceBoot, 30*time.Second)
	def(&t.InstanceShutdown, 30*time.Second)
	def(&t.StatusChecks, 2*time.Minute)
	def(&t.TerminatedRetention, time.Hour)
	def(&t.NATGatewayCreate, 90*time.Second)
	def(&t.NATGatewayDelete, 60*time.Second)
	def(&t.ScalingReaction, 10*time.Second)
	def(&t.HealthCheckDetection, 60*time.Second)
	def(&t.LaunchRetry, 5*time.Minute)
	return t
}

// Sim is a simulated AWS region. Its state is guarded by one mutex, moved by
// one virtual clock and observed through one event bus. All methods are safe
// for concurrent use.
type Sim struct {
	mu sync.Mutex

	region, account string
	zones           []zone
	timings         Timings
	log             *slog.Logger
	rng             *rand.Rand
	// grayRng draws gray failures' health check outcomes, apart from rng so
	// that they do not shift resource IDs.
	grayRng *rand.Rand

	clock  clock
	bus    bus
	faults faults
	calls  callLog

	ec2 *ec2State
	asg *asgState
	ssm *ssmState
	ecs *ecsState
	elb *elbState
	cw  *cwState
	aas *aasState
	arc *arcState
	ecr *ecrState

	instanceObservers []func(inst *instance, prevState string)
	observers         observers
}

// New returns a simulator configured by opts.
func New(opts Options) *Sim {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.Zones <= 0 {
		opts.Zones = 3
	}
	if opts.Start.IsZero() {
		opts.Start = DefaultStart
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Sim{
		region:  opts.Region,
		account: opts.AccountID,
		zones:   makeZones(opts.Region, opts.Zones),
		timings: opts.Timings.withDefaults(),
		log:     logger,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		grayRng: rand.New(rand.NewPCG(opts.Seed^0x2545f4914f6cdd1d, opts.Seed+7)),
	}
	s.clock.now = opts.Start.UTC()
	s.faults.init(opts.Seed)
	for _, c := range components {
		c(s)
	}
	return s
}

// components build each simulated service's state and wire its reactions to
// other services. Service files append to it from init, so a new service plugs
// in without editing the core.
var components []func(*Sim)

// Region returns the simulated region.
func (s *Sim) Region() string { return s.region }

// AccountID returns the simulated account ID.
func (s *Sim) AccountID() string { return s.account }

// Zones returns the names of the region's Availability Zones.
func (s *Sim) Zones() []string {
	out := make([]string, len(s.zones))
	for i, z := range s.zones {
		out[i] = z.name
	}
	return out
}

// errEscaped is what a request gets if it ever reaches the network: every
// operation must be answered by the simulator's middleware.
var errEscaped = errors.New("sim: request reached the HTTP client; the simulator middleware is missing")

type noNetwork struct{}

// Do refuses every request.
func (noNetwork) Do(*http.Request) (*http.Response, error) { return nil, errEscaped }

// Config returns SDK configuration whose clients talk to the simulator:
// ec2.NewFromConfig(s.Config()) and the like. Input validation, the standard
// retryer (with the project's attempt budget) and request signing run as they
// do against AWS; the simulator answers after them, as the last Finalize
// middleware, so a middleware a test adds to observe attempts must be
// inserted before it (for example after "Retry").
func (s *Sim) Config() aws.Config {
	return aws.Config{
		Region: s.region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "SIMULATOR", SecretAccessKey: "simulator", Source: "sim"}, nil
		}),
		BaseEndpoint: aws.String("http://sim.invalid"),
		HTTPClient:   noNetwork{},
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = awsclient.MaxAttempts
				o.Backoff = scaledBackoff{sim: s, base: retry.NewExponentialJitterBackoff(retry.DefaultMaxBackoff)}
			})
		},
		APIOptions: []func(*middleware.Stack) error{s.addMiddleware},
	}
}

// ConfigOver returns base with the simulator answering the operations of
// the services it simulates, as in Config, and every other service's
// going where base sends them. The tests and the local environment put it
// over moto's configuration, so that IAM, DynamoDB and CloudWatch Logs,
// which moto reproduces, are moto's, and one configuration serves a
// function that calls both. The retryer is Config's, with backoff on
// simulated time.
func (s *Sim) ConfigOver(base aws.Config) aws.Config {
	cfg := base.Copy()
	sim := s.Config()
	cfg.Region, cfg.Retryer = sim.Region, sim.Retryer
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), s.addOverlay)
	return cfg
}

// lockedRun runs fn under the state lock; every exported mutator goes
// through it so that observers and timers see consistent state.
func (s *Sim) lockedRun(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn()
}

func (s *Sim) arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, s.region, s.account, resource)
}
