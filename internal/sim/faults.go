package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// faults holds the injected faults. Its generator is separate from the
// resource generator so that how often a test polls, and how often the SDK
// retries, never changes the IDs of the resources it creates.
type faults struct {
	rng         *rand.Rand
	throttle    map[opKey]float64
	failures    []*failure
	consistency map[string]time.Duration
	zonesDown   map[string]bool
	degraded    map[string]ZoneDegradation
}

// failure is an injected error waiting for its attempt.
type failure struct {
	key           opKey
	remaining     int
	code, message string
}

func (f *faults) init(seed uint64) {
	f.rng = rand.New(rand.NewPCG(seed^0x5bd1e995, seed+1))
	f.throttle = map[opKey]float64{}
	f.consistency = map[string]time.Duration{}
	f.zonesDown = map[string]bool{}
	f.degraded = map[string]ZoneDegradation{}
}

func (f *faults) requestID() string {
	hi, lo := f.rng.Uint64(), f.rng.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// before returns the injected error for this attempt, if any.
func (f *faults) before(s *Sim, svc, op string) error {
	for i, fl := range f.failures {
		if fl.key.service != svc || (fl.key.operation != "" && fl.key.operation != op) {
			continue
		}
		fl.remaining--
		if fl.remaining > 0 {
			continue
		}
		f.failures = append(f.failures[:i:i], f.failures[i+1:]...)
		return apiError(fl.code, "%s", fl.message)
	}
	rate, ok := f.throttle[opKey{svc, op}]
	if !ok {
		rate = f.throttle[opKey{svc, ""}]
	}
	if rate > 0 && f.rng.Float64() < rate {
		spec := services[svc]
		code, msg := spec.throttleCode, spec.throttleMessage
		if code == "" {
			code, msg = "ThrottlingException", "Rate exceeded"
		}
		return apiError(code, "%s", msg)
	}
	return nil
}

// Throttle makes a fraction rate (0 to 1) of the attempts at service's
// operation fail with the service's throttling error (RequestLimitExceeded for
// EC2, Throttling for Auto Scaling, ThrottlingException for SSM). An empty
// operation applies to all of the service's operations without their own
// rate. A rate of 0 removes the fault.
func (s *Sim) Throttle(service, operation string, rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := opKey{service, operation}
	if rate <= 0 {
		delete(s.faults.throttle, k)
		return
	}
	s.faults.throttle[k] = min(rate, 1)
}

// FailCall makes the nth attempt from now (1 is the next) at service's
// operation fail with the API error code and message. An empty operation
// matches any operation of the service. Server-side codes such as
// InternalError are retried by the SDK, as they are against AWS.
func (s *Sim) FailCall(service, operation string, n int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failures = append(s.faults.failures, &failure{key: opKey{service, operation}, remaining: max(n, 1), code: code, message: message})
}

// SetConsistencyDelay makes resources of service that were created less than
// d ago invisible to its Describe calls and unknown to calls that name them,
// as AWS's eventual consistency sometimes does. Zero restores immediate
// consistency.
func (s *Sim) SetConsistencyDelay(service string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.faults.consistency, service)
		return
	}
	s.faults.consistency[service] = d
}

// hidden reports whether a resource of service created at created is still
// inside its injected consistency window.
func (s *Sim) hidden(service string, created time.Time) bool {
	d := s.faults.consistency[service]
	return d > 0 && s.clock.now.Before(created.Add(d))
}

// CrashInstance makes an instance's host fail: the instance stays in the
// running state but its system status check turns impaired and it stops
// serving, until it is terminated. An Auto Scaling group notices and replaces
// it.
func (s *Sim) CrashInstance(id string) error {
	return s.lockedRun(func() error {
		inst, ok := s.ec2.instances[id]
		if !ok || inst.state == stateTerminated {
			return fmt.Errorf("crashing instance %s: %w", id, notFoundEC2("InvalidInstanceID.NotFound", "instance", id))
		}
		s.impair(inst, impairedByCrash)
		return nil
	})
}

// FailZone starts an outage of the named Availability Zone: its instances
// fail as in CrashInstance and launches there fail with
// InsufficientInstanceCapacity until RecoverZone.
func (s *Sim) FailZone(name string) error {
	return s.lockedRun(func() error {
		if _, ok := s.zoneByName(name); !ok {
			return fmt.Errorf("failing zone %s: %w", name, invalidParam("Invalid availability zone: [%s]", name))
		}
		s.faults.zonesDown[name] = true
		for _, inst := range s.ec2.sortedInstances() {
			if inst.az == name && (inst.state == statePending || inst.state == stateRunning) {
				s.impair(inst, impairedByZone)
			}
		}
		return nil
	})
}

// RecoverZone ends an outage started by FailZone. Instances that failed only
// because of the outage serve again; launches in the zone succeed.
func (s *Sim) RecoverZone(name string) error {
	return s.lockedRun(func() error {
		if _, ok := s.zoneByName(name); !ok {
			return fmt.Errorf("recovering zone %s: %w", name, invalidParam("Invalid availability zone: [%s]", name))
		}
		delete(s.faults.zonesDown, name)
		for _, inst := range s.ec2.sortedInstances() {
			if inst.az == name && inst.impairedBy == impairedByZone {
				s.restore(inst)
			}
		}
		return nil
	})
}

// zoneDown reports whether the zone is in an injected outage.
func (s *Sim) zoneDown(name string) bool { return s.faults.zonesDown[name] }

// ZoneDegradation is a gray failure of a zone: its instances pass their EC2
// status checks, so Auto Scaling keeps them, but what runs there answers
// badly.
type ZoneDegradation struct {
	// Failures is the fraction (0 to 1) of load balancer health checks and
	// requests to the zone's targets that time out. Each health check draws
	// from the simulator's seeded generator; requests fail in proportion.
	Failures float64
	// Latency is added to every response from the zone's targets. A health
	// check whose timeout it reaches times out.
	Latency time.Duration
}

// DegradeZone starts a gray failure of the named zone, or changes it; the
// zero ZoneDegradation ends it. Instances keep passing their status checks:
// only health checks, requests and response times show the failure.
func (s *Sim) DegradeZone(name string, d ZoneDegradation) error {
	return s.lockedRun(func() error {
		if _, ok := s.zoneByName(name); !ok {
			return fmt.Errorf("degrading zone %s: %w", name, invalidParam("Invalid availability zone: [%s]", name))
		}
		if d.Failures < 0 || d.Failures > 1 || d.Latency < 0 {
			return fmt.Errorf("degrading zone %s: failures %v must be between 0 and 1 and latency %s not negative", name, d.Failures, d.Latency)
		}
		if d == (ZoneDegradation{}) {
			delete(s.faults.degraded, name)
			return nil
		}
		s.faults.degraded[name] = d
		return nil
	})
}
