package sim

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"
)

// ARC zonal shift: customer-initiated zonal shifts of the managed resources
// the simulator has, Application Load Balancers with zonal shift enabled and
// Auto Scaling groups whose impairment policy enables it.
//
// https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html
// https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_UpdateZonalShift.html
// https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_CancelZonalShift.html
// https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ListZonalShifts.html
// https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_GetManagedResource.html
// https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.resource-types.html

const arcID = arc.ServiceID

// maxShiftExpiry is the longest a zonal shift may be set to last, when it
// starts and at each update: "You can set a zonal shift to be active
// initially for up to three days (72 hours)."
const maxShiftExpiry = 72 * time.Hour

// shiftRetention is how long an ended zonal shift stays listed. AWS gives
// no figure; the simulator keeps ended shifts for a day.
const shiftRetention = 24 * time.Hour

// expiresInRe is ExpiresIn's documented form: a whole number of minutes
// (m) or hours (h), "with no space".
var expiresInRe = regexp.MustCompile(`^([1-9][0-9]*)(m|h)$`)

func init() {
	registerService(service{id: arcID, throttleCode: "ThrottlingException", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) { s.arc = &arcState{shifts: map[string]*zonalShift{}} })
	handle(arcID, "StartZonalShift", (*Sim).startZonalShift)
	handle(arcID, "UpdateZonalShift", (*Sim).updateZonalShift)
	handle(arcID, "CancelZonalShift", (*Sim).cancelZonalShift)
	handle(arcID, "ListZonalShifts", (*Sim).listZonalShifts)
	handle(arcID, "GetManagedResource", (*Sim).getManagedResource)
}

// arcState is the simulated ARC zonal shift service.
type arcState struct {
	seq    uint64
	shifts map[string]*zonalShift
}

// zonalShift is one customer-initiated zonal shift.
type zonalShift struct {
	seq      uint64
	id       string
	resource string
	// awayFrom is the zone's ID (use1-az1), as the API names it; zone is
	// its name in this account.
	awayFrom, zone string
	comment        string
	start, expiry  time.Time
	ended          time.Time
	status         types.ZonalShiftStatus
	timer          *timer
}

// managedResource is a resource ARC can shift: a load balancer or a group.
type managedResource struct {
	arn, name string
	zones     []string
	// apply moves the resource's traffic or capacity away from a zone, or
	// back.
	apply func(zone string, away bool)
}

// managedResource finds a resource registered with zonal shift: an
// Application Load Balancer that is active with its
// zonal_shift.config.enabled attribute true, or an Auto Scaling group whose
// AvailabilityZoneImpairmentPolicy has ZonalShiftEnabled.
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-zonal-shift.html
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html
func (s *Sim) managedResource(arn string) (*managedResource, error) {
	if !strings.HasPrefix(arn, "arn:") {
		return nil, &types.ValidationException{Message: aws.String("Invalid resource identifier " + arn), Reason: types.ValidationExceptionReasonInvalidResourceIdentifier}
	}
	if lb, ok := s.elb.lbs[arn]; ok && lb.attrs["zonal_shift.config.enabled"] == "true" && lb.state == "active" {
		return &managedResource{arn: lb.arn, name: lb.name, zones: s.lbZones(lb), apply: func(zone string, away bool) {
			if away {
				lb.shiftedOff[zone] = true
			} else {
				delete(lb.shiftedOff, zone)
			}
		}}, nil
	}
	for _, g := range s.asg.groups {
		if g.arn == arn && g.zonalShift && !g.deleting {
			return &managedResource{arn: g.arn, name: g.name, zones: s.groupZones(g), apply: func(zone string, away bool) { s.asgShift(g, zone, away) }}, nil
		}
	}
	return nil, &types.ResourceNotFoundException{Message: aws.String("The managed resource " + arn + " was not found")}
}

// parseExpiresIn reads an ExpiresIn value: at least a minute, at most 72
// hours.
func parseExpiresIn(v string) (time.Duration, error) {
	m := expiresInRe.FindStringSubmatch(v)
	invalid := &types.ValidationException{Message: aws.String("expiresIn " + v + " must be a whole number of minutes (m) or hours (h) up to 72 hours"), Reason: types.ValidationExceptionReasonInvalidExpiresIn}
	if m == nil {
		return 0, invalid
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, invalid
	}
	d := time.Duration(n) * time.Minute
	if m[2] == "h" {
		d = time.Duration(n) * time.Hour
	}
	if d > maxShiftExpiry {
		return 0, invalid
	}
	return d, nil
}

func (s *Sim) startZonalShift(in *arc.StartZonalShiftInput) (*arc.StartZonalShiftOutput, error) {
	res, err := s.managedResource(aws.ToString(in.ResourceIdentifier))
	if err != nil {
		return nil, err
	}
	d, err := parseExpiresIn(aws.ToString(in.ExpiresIn))
	if err != nil {
		return nil, err
	}
	if len(aws.ToString(in.Comment)) > 128 {
		return nil, &types.ValidationException{Message: aws.String("comment is longer than 128 characters")}
	}
	awayFrom := aws.ToString(in.AwayFrom)
	z, ok := s.zoneByID(awayFrom)
	if !ok {
		return nil, &types.ValidationException{Message: aws.String("awayFrom " + awayFrom + " is not an Availability Zone ID of " + s.region), Reason: types.ValidationExceptionReasonInvalidAz}
	}
	if !containsString(res.zones, z.name) {
		return nil, &types.ValidationException{Message: aws.String(fmt.Sprintf("the resource %s is not in Availability Zone %s", res.arn, awayFrom)), Reason: types.ValidationExceptionReasonUnsupportedAz}
	}
	// "You can start a zonal shift for a specific load balancer only for a
	// single Availability Zone."
	for _, zs := range s.arc.shifts {
		if zs.resource != res.arn || zs.status != types.ZonalShiftStatusActive {
			continue
		}
		reason := types.ConflictExceptionReasonSimultaneousZonalShiftsConflict
		if zs.awayFrom == awayFrom {
			reason = types.ConflictExceptionReasonZonalShiftAlreadyExists
		}
		return nil, &types.ConflictException{Message: aws.String("a zonal shift is already active for " + res.arn), Reason: reason, ZonalShiftId: aws.String(zs.id)}
	}
	s.arc.seq++
	zs := &zonalShift{
		seq: s.arc.seq, id: s.newUUID(), resource: res.arn, awayFrom: awayFrom, zone: z.name, comment: aws.ToString(in.Comment),
		start: s.clock.now, status: types.ZonalShiftStatusActive,
	}
	s.arc.shifts[zs.id] = zs
	s.setShiftExpiry(zs, d)
	res.apply(z.name, true)
	s.log.Debug("sim_zonal_shift_started", "resource", res.arn, "zone", z.name, "expiry", zs.expiry)
	o := zs.out()
	return &arc.StartZonalShiftOutput{AwayFrom: o.AwayFrom, Comment: o.Comment, ExpiryTime: o.ExpiryTime, ResourceIdentifier: o.ResourceIdentifier, StartTime: o.StartTime, Status: o.Status, ZonalShiftId: o.ZonalShiftId}, nil
}

// setShiftExpiry (re)sets when a shift expires: d from now.
func (s *Sim) setShiftExpiry(zs *zonalShift, d time.Duration) {
	zs.timer.stop()
	zs.expiry = s.clock.now.Add(d)
	zs.timer = s.after(d, func() { s.endShift(zs, types.ZonalShiftStatusExpired) })
}

// endShift ends an active shift: the resource's traffic or capacity may
// return to the zone.
func (s *Sim) endShift(zs *zonalShift, status types.ZonalShiftStatus) {
	if zs.status != types.ZonalShiftStatusActive {
		return
	}
	zs.timer.stop()
	zs.status, zs.ended = status, s.clock.now
	if res, err := s.managedResource(zs.resource); err == nil {
		res.apply(zs.zone, false)
	} else {
		s.unshiftGone(zs)
	}
	s.log.Debug("sim_zonal_shift_ended", "resource", zs.resource, "zone", zs.zone, "status", status)
	s.after(shiftRetention, func() {
		if s.arc.shifts[zs.id] == zs {
			delete(s.arc.shifts, zs.id)
		}
	})
}

// unshiftGone clears a shift's mark from a resource that is no longer a
// managed resource (its zonal shift support was turned off meanwhile).
func (s *Sim) unshiftGone(zs *zonalShift) {
	if lb, ok := s.elb.lbs[zs.resource]; ok {
		delete(lb.shiftedOff, zs.zone)
	}
	for _, g := range s.asg.groups {
		if g.arn == zs.resource {
			s.asgShift(g, zs.zone, false)
		}
	}
}

func (s *Sim) findShift(id string) (*zonalShift, error) {
	zs, ok := s.arc.shifts[id]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("The zonal shift " + id + " was not found")}
	}
	return zs, nil
}

func (s *Sim) updateZonalShift(in *arc.UpdateZonalShiftInput) (*arc.UpdateZonalShiftOutput, error) {
	zs, err := s.findShift(aws.ToString(in.ZonalShiftId))
	if err != nil {
		return nil, err
	}
	if in.Comment == nil && in.ExpiresIn == nil {
		return nil, &types.ValidationException{Message: aws.String("an update needs a comment or an expiresIn"), Reason: types.ValidationExceptionReasonMissingValue}
	}
	if zs.status != types.ZonalShiftStatusActive {
		return nil, &types.ConflictException{Message: aws.String("the zonal shift is " + string(zs.status)), Reason: types.ConflictExceptionReasonZonalShiftStatusNotActive, ZonalShiftId: aws.String(zs.id)}
	}
	if in.ExpiresIn != nil {
		d, err := parseExpiresIn(*in.ExpiresIn)
		if err != nil {
			return nil, err
		}
		s.setShiftExpiry(zs, d)
	}
	if in.Comment != nil {
		zs.comment = *in.Comment
	}
	o := zs.out()
	return &arc.UpdateZonalShiftOutput{AwayFrom: o.AwayFrom, Comment: o.Comment, ExpiryTime: o.ExpiryTime, ResourceIdentifier: o.ResourceIdentifier, StartTime: o.StartTime, Status: o.Status, ZonalShiftId: o.ZonalShiftId}, nil
}

func (s *Sim) cancelZonalShift(in *arc.CancelZonalShiftInput) (*arc.CancelZonalShiftOutput, error) {
	zs, err := s.findShift(aws.ToString(in.ZonalShiftId))
	if err != nil {
		return nil, err
	}
	if zs.status != types.ZonalShiftStatusActive {
		return nil, &types.ConflictException{Message: aws.String("the zonal shift is " + string(zs.status)), Reason: types.ConflictExceptionReasonZonalShiftStatusNotActive, ZonalShiftId: aws.String(zs.id)}
	}
	s.endShift(zs, types.ZonalShiftStatusCanceled)
	o := zs.out()
	return &arc.CancelZonalShiftOutput{AwayFrom: o.AwayFrom, Comment: o.Comment, ExpiryTime: o.ExpiryTime, ResourceIdentifier: o.ResourceIdentifier, StartTime: o.StartTime, Status: o.Status, ZonalShiftId: o.ZonalShiftId}, nil
}

// out is the shift as the API reports it. An ended shift reports the time
// it ended as its expiry.
func (zs *zonalShift) out() types.ZonalShiftSummary {
	expiry := zs.expiry
	if !zs.ended.IsZero() {
		expiry = zs.ended
	}
	return types.ZonalShiftSummary{
		AwayFrom: aws.String(zs.awayFrom), Comment: aws.String(zs.comment), ExpiryTime: aws.Time(expiry), ResourceIdentifier: aws.String(zs.resource),
		StartTime: aws.Time(zs.start), Status: zs.status, ZonalShiftId: aws.String(zs.id), ShiftType: types.ShiftTypeZonalShift,
	}
}

func (s *Sim) listZonalShifts(in *arc.ListZonalShiftsInput) (*arc.ListZonalShiftsOutput, error) {
	if n := aws.ToInt32(in.MaxResults); in.MaxResults != nil && (n < 1 || n > 100) {
		return nil, &types.ValidationException{Message: aws.String("maxResults must be between 1 and 100"), Reason: types.ValidationExceptionReasonMissingValue}
	}
	var items []types.ZonalShiftSummary
	for _, zs := range sortedBySeq(s.arc.shifts, func(zs *zonalShift) uint64 { return zs.seq }) {
		if (in.ResourceIdentifier != nil && zs.resource != *in.ResourceIdentifier) || (in.Status != "" && zs.status != in.Status) {
			continue
		}
		items = append(items, zs.out())
	}
	page, next, err := listPage(items, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, &types.ValidationException{Message: aws.String("Invalid nextToken"), Reason: types.ValidationExceptionReasonInvalidToken}
	}
	return &arc.ListZonalShiftsOutput{Items: page, NextToken: next}, nil
}

func (s *Sim) getManagedResource(in *arc.GetManagedResourceInput) (*arc.GetManagedResourceOutput, error) {
	res, err := s.managedResource(aws.ToString(in.ResourceIdentifier))
	if err != nil {
		return nil, err
	}
	out := &arc.GetManagedResourceOutput{
		Arn: aws.String(res.arn), Name: aws.String(res.name), AppliedWeights: map[string]float32{},
		ZonalShifts: []types.ZonalShiftInResource{}, Autoshifts: []types.AutoshiftInResource{}, ZonalAutoshiftStatus: types.ZonalAutoshiftStatusDisabled,
	}
	for _, name := range res.zones {
		if z, ok := s.zoneByName(name); ok {
			out.AppliedWeights[z.id] = 1
		}
	}
	for _, zs := range sortedBySeq(s.arc.shifts, func(zs *zonalShift) uint64 { return zs.seq }) {
		if zs.resource != res.arn || zs.status != types.ZonalShiftStatusActive {
			continue
		}
		out.AppliedWeights[zs.awayFrom] = 0
		out.ZonalShifts = append(out.ZonalShifts, types.ZonalShiftInResource{
			AppliedStatus: types.AppliedStatusApplied, AwayFrom: aws.String(zs.awayFrom), Comment: aws.String(zs.comment), ExpiryTime: aws.Time(zs.expiry),
			ResourceIdentifier: aws.String(zs.resource), StartTime: aws.Time(zs.start), ZonalShiftId: aws.String(zs.id), ShiftType: types.ShiftTypeZonalShift,
		})
	}
	return out, nil
}

// ZoneID returns the ID of the named zone (us-east-1a → use1-az1), as ARC
// and the Auto Scaling instance descriptions name zones.
func (s *Sim) ZoneID(name string) string {
	if z, ok := s.zoneByName(name); ok {
		return z.id
	}
	return ""
}

// ZonalShifts returns the zones a resource (a load balancer or a group) is
// shifted away from by an active zonal shift, sorted.
func (s *Sim) ZonalShifts(resource string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, zs := range sortedBySeq(s.arc.shifts, func(zs *zonalShift) uint64 { return zs.seq }) {
		if zs.resource == resource && zs.status == types.ZonalShiftStatusActive {
			out = append(out, zs.zone)
		}
	}
	return out
}
