package sim_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// offerings lists the offerings that match, through the SDK's paginator,
// as "type@location".
func offerings(t *testing.T, c *ec2.Client, lt types.LocationType, filters ...types.Filter) []string {
	t.Helper()
	var out []string
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(c, &ec2.DescribeInstanceTypeOfferingsInput{LocationType: lt, Filters: filters, MaxResults: aws.Int32(5)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.InstanceTypeOfferings {
			if o.LocationType != lt && lt != "" {
				t.Errorf("offering %+v of location type %s, want %s", o, o.LocationType, lt)
			}
			out = append(out, string(o.InstanceType)+"@"+aws.ToString(o.Location))
		}
	}
	slices.Sort(out)
	return out
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

// TestInstanceTypeOfferings follows the API reference of
// DescribeInstanceTypeOfferings: the Region's offerings by default, one per
// zone by name or ID, filters on instance-type (with wildcards, as the EC2
// User Guide's example 'Name=instance-type,Values=trn1*' uses them) and
// location, and a type withdrawn from a zone missing from that zone only.
func TestInstanceTypeOfferings(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	c := ec2.NewFromConfig(s.Config())
	if got := offerings(t, c, "", filter("instance-type", "t3.medium")); !slices.Equal(got, []string{"t3.medium@us-east-1"}) {
		t.Errorf("region offerings of t3.medium = %v", got)
	}
	if got := offerings(t, c, types.LocationTypeAvailabilityZone, filter("instance-type", "t3.medium")); !slices.Equal(got, []string{"t3.medium@us-east-1a", "t3.medium@us-east-1b", "t3.medium@us-east-1c"}) {
		t.Errorf("zone offerings of t3.medium = %v", got)
	}
	if got := offerings(t, c, types.LocationTypeAvailabilityZoneId, filter("instance-type", "t3.medium"), filter("location", "use1-az2")); !slices.Equal(got, []string{"t3.medium@use1-az2"}) {
		t.Errorf("offerings by zone ID = %v", got)
	}
	want := []string{"t4g.2xlarge@us-east-1b", "t4g.large@us-east-1b", "t4g.medium@us-east-1b", "t4g.micro@us-east-1b", "t4g.small@us-east-1b", "t4g.xlarge@us-east-1b"}
	if got := offerings(t, c, types.LocationTypeAvailabilityZone, filter("instance-type", "t4g*"), filter("location", "us-east-1b")); !slices.Equal(got, want) {
		t.Errorf("t4g* in us-east-1b = %v, want %v", got, want)
	}
	if got := offerings(t, c, types.LocationTypeAvailabilityZone, filter("instance-type", "t3.mega")); len(got) != 0 {
		t.Errorf("a type that does not exist is offered: %v", got)
	}

	if err := s.WithdrawOffering("m7g.large", "us-east-1c"); err != nil {
		t.Fatal(err)
	}
	if got := offerings(t, c, types.LocationTypeAvailabilityZone, filter("instance-type", "m7g.large")); !slices.Equal(got, []string{"m7g.large@us-east-1a", "m7g.large@us-east-1b"}) {
		t.Errorf("m7g.large after its withdrawal from us-east-1c = %v", got)
	}
	if got := offerings(t, c, types.LocationTypeRegion, filter("instance-type", "m7g.large")); len(got) != 1 {
		t.Errorf("the Region no longer offers m7g.large: %v", got)
	}
	if err := s.WithdrawOffering("m7g.large", "us-east-1z"); err == nil {
		t.Error("withdrew a type from a zone that does not exist")
	}
	_, err := c.DescribeInstanceTypeOfferings(context.Background(), &ec2.DescribeInstanceTypeOfferingsInput{Filters: []types.Filter{filter("vcpus", "2")}})
	if errCode(err) != "InvalidParameterValue" {
		t.Errorf("an unknown filter gave %v, want InvalidParameterValue", err)
	}
}
