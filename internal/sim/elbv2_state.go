package sim

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

const elbID = elb.ServiceID

func init() {
	registerService(service{id: elbID, throttleCode: "Throttling", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) {
		s.elb = &elbState{
			lbs: map[string]*loadBalancer{}, targetGroups: map[string]*targetGroup{}, listeners: map[string]*listener{},
			tags: map[string][]types.Tag{},
		}
	})
}

// elbState is the simulated Elastic Load Balancing (v2) service.
type elbState struct {
	seq          uint64
	lbs          map[string]*loadBalancer
	targetGroups map[string]*targetGroup
	listeners    map[string]*listener
	tags         map[string][]types.Tag
}

func (st *elbState) next() uint64 {
	st.seq++
	return st.seq
}

// loadBalancer is a simulated Application Load Balancer.
type loadBalancer struct {
	seq        uint64
	arn, name  string
	dns        string
	scheme     types.LoadBalancerSchemeEnum
	vpcID      string
	subnets    []string
	sgs        []string
	ipType     types.IpAddressType
	state      types.LoadBalancerStateEnum
	created    time.Time
	attrs      map[string]string
	shiftedOff map[string]bool // zones traffic is shifted away from
	rps        float64
}

// targetGroup is a simulated target group.
type targetGroup struct {
	seq        uint64
	arn, name  string
	protocol   types.ProtocolEnum
	port       int32
	vpcID      string
	targetType types.TargetTypeEnum
	hc         healthCheck
	attrs      map[string]string
	targets    map[string]*target
	created    time.Time
	// requests are what each target received in the last reported minute.
	requests map[string]float64
}

// healthCheck is a target group's health check configuration.
type healthCheck struct {
	enabled            bool
	protocol           types.ProtocolEnum
	port, path         string
	interval, timeout  int32
	healthy, unhealthy int32
	matcher            string
}

// target is a registered target and its health.
type target struct {
	seq        uint64
	id         string
	port       int32
	az         string
	state      types.TargetHealthStateEnum
	reason     types.TargetHealthReasonEnum
	desc       string
	successes  int32
	failures   int32
	registered time.Time
	drainUntil time.Time
	check      *timer
}

func targetKey(id string, port int32) string { return fmt.Sprintf("%s:%d", id, port) }

// listener is a simulated listener.
type listener struct {
	seq      uint64
	arn      string
	lbArn    string
	port     int32
	protocol types.ProtocolEnum
	actions  []types.Action
	certs    []types.Certificate
	ssl      string
}

func (s *Sim) elbArn(resource string) string {
	return s.arn("elasticloadbalancing", resource)
}

func (s *Sim) hex16() string { return s.hex32()[:16] }

// elbValidation is the Elastic Load Balancing generic bad-input error.
func elbValidation(format string, args ...any) error {
	return apiError("ValidationError", format, args...)
}

// forwardTargets returns the target groups an action forwards to, with
// their weights.
func forwardTargets(a types.Action) map[string]int32 {
	out := map[string]int32{}
	if a.Type != types.ActionTypeEnumForward {
		return out
	}
	if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
		for _, tg := range a.ForwardConfig.TargetGroups {
			w := int32(1)
			if tg.Weight != nil {
				w = *tg.Weight
			}
			out[aws.ToString(tg.TargetGroupArn)] += w
		}
		return out
	}
	if a.TargetGroupArn != nil {
		out[*a.TargetGroupArn] = 1
	}
	return out
}

// tgLoadBalancers returns the load balancers whose listeners forward to the group.
func (s *Sim) tgLoadBalancers(tg *targetGroup) []string {
	var out []string
	for _, l := range sortedBySeq(s.elb.listeners, func(l *listener) uint64 { return l.seq }) {
		for _, a := range l.actions {
			if _, ok := forwardTargets(a)[tg.arn]; ok && !containsString(out, l.lbArn) {
				out = append(out, l.lbArn)
			}
		}
	}
	return out
}

// lbZones returns the zones of a load balancer's subnets.
func (s *Sim) lbZones(lb *loadBalancer) []string {
	var out []string
	for _, id := range lb.subnets {
		if sn, ok := s.ec2.subnets[id]; ok {
			out = append(out, sn.zone.name)
		}
	}
	return out
}

// zoneOfIP returns the zone of the VPC subnet holding ip.
func (s *Sim) zoneOfIP(vpcID string, ip netip.Addr) (string, bool) {
	for _, sn := range s.ec2.subnets {
		if sn.vpcID == vpcID && sn.cidr.Contains(ip) {
			return sn.zone.name, true
		}
	}
	return "", false
}

func (s *Sim) lbDNS(name string, scheme types.LoadBalancerSchemeEnum) string {
	digits := strings.Builder{}
	for range 10 {
		digits.WriteByte(byte('0' + s.rng.IntN(10)))
	}
	prefix := ""
	if scheme == types.LoadBalancerSchemeEnumInternal {
		prefix = "internal-"
	}
	return fmt.Sprintf("%s%s-%s.%s.elb.amazonaws.com", prefix, name, digits.String(), s.region)
}
