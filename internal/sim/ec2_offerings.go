package sim

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func init() {
	handle(ec2ID, "DescribeInstanceTypeOfferings", (*Sim).describeInstanceTypeOfferings)
}

// offeredTypes are the instance types the simulated region offers: a few
// current-generation families that "Amazon EC2 instance types by Region"
// (https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-regions.html)
// lists in US East (N. Virginia), in the sizes a container fleet uses.
// AWS publishes no table of offerings by zone; the simulator offers each
// of these in every zone, and WithdrawOffering takes one out of a zone, as
// a Region's older zones lack some types (see doc.go).
var offeredTypes = func() []string {
	var out []string
	for _, f := range []struct {
		family string
		sizes  []string
	}{
		{"t3", []string{"micro", "small", "medium", "large", "xlarge", "2xlarge"}},
		{"t3a", []string{"micro", "small", "medium", "large", "xlarge", "2xlarge"}},
		{"t4g", []string{"micro", "small", "medium", "large", "xlarge", "2xlarge"}},
		{"m5", []string{"large", "xlarge", "2xlarge", "4xlarge"}},
		{"m6i", []string{"large", "xlarge", "2xlarge", "4xlarge"}},
		{"m7g", []string{"medium", "large", "xlarge", "2xlarge", "4xlarge"}},
		{"c6i", []string{"large", "xlarge", "2xlarge", "4xlarge"}},
		{"c7g", []string{"medium", "large", "xlarge", "2xlarge", "4xlarge"}},
		{"r6i", []string{"large", "xlarge", "2xlarge", "4xlarge"}},
	} {
		for _, size := range f.sizes {
			out = append(out, f.family+"."+size)
		}
	}
	return out
}()

// WithdrawOffering stops offering instanceType in zone: it no longer
// appears in that zone's DescribeInstanceTypeOfferings.
func (s *Sim) WithdrawOffering(instanceType, zone string) error {
	return s.lockedRun(func() error {
		if _, ok := s.zoneByName(zone); !ok {
			return fmt.Errorf("withdrawing %s: no zone %s", instanceType, zone)
		}
		s.ec2.withdrawn[[2]string{instanceType, zone}] = true
		return nil
	})
}

// describeInstanceTypeOfferings follows
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html:
// without a location type it lists the Region's offerings; availability-zone
// and availability-zone-id list one offering per zone; the instance-type
// and location filters take wildcards.
func (s *Sim) describeInstanceTypeOfferings(in *ec2.DescribeInstanceTypeOfferingsInput) (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
	lt := in.LocationType
	if lt == "" {
		lt = types.LocationTypeRegion
	}
	for _, f := range in.Filters {
		if n := aws.ToString(f.Name); n != "instance-type" && n != "location" {
			return nil, invalidParam("The filter '%s' is invalid", n)
		}
	}
	var all []types.InstanceTypeOffering
	for _, it := range offeredTypes {
		switch lt {
		case types.LocationTypeRegion:
			all = append(all, types.InstanceTypeOffering{InstanceType: types.InstanceType(it), LocationType: lt, Location: aws.String(s.region)})
		case types.LocationTypeAvailabilityZone, types.LocationTypeAvailabilityZoneId:
			for _, z := range s.zones {
				if s.ec2.withdrawn[[2]string{it, z.name}] {
					continue
				}
				loc := z.name
				if lt == types.LocationTypeAvailabilityZoneId {
					loc = z.id
				}
				all = append(all, types.InstanceTypeOffering{InstanceType: types.InstanceType(it), LocationType: lt, Location: aws.String(loc)})
			}
		}
	}
	var matched []types.InstanceTypeOffering
	for _, o := range all {
		keep := true
		for _, f := range in.Filters {
			have := string(o.InstanceType)
			if aws.ToString(f.Name) == "location" {
				have = aws.ToString(o.Location)
			}
			keep = keep && anyMatch(f.Values, []string{have})
		}
		if keep {
			matched = append(matched, o)
		}
	}
	page, next, err := listPage(matched, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeInstanceTypeOfferingsOutput{InstanceTypeOfferings: page, NextToken: next}, nil
}
