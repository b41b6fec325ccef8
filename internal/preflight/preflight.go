// Package preflight checks, before a build makes its first change, what
// the stack depends on but the build does not create: the region and its
// Availability Zones, the instance type's offering in each zone the build
// uses, the IAM roles and instance profile the template declares (present,
// and assumable by the service that uses them), the image repositories and
// the images the build starts from, and the ledger table the run records
// to. Every check only reads. Every problem found is reported at once, as
// a handlererr.InvalidInputError, so a build that would fail late (after
// dozens of changes) fails before the first.
//
// Some things cannot be checked from where the checks run: an image in
// another registry or region, or a read the caller's permissions do not
// allow. Those are listed in the Report as skipped, never as passed.
package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// EC2API reads the region's zones and instance type offerings.
type EC2API interface {
	DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeInstanceTypeOfferings(ctx context.Context, in *ec2.DescribeInstanceTypeOfferingsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
}

// IAMAPI reads the roles and the instance profile.
type IAMAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	GetInstanceProfile(ctx context.Context, in *iam.GetInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
}

// ECRAPI reads the image repositories and their images.
type ECRAPI interface {
	DescribeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// DynamoDBAPI reads the ledger table.
type DynamoDBAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var (
	_ EC2API      = (*ec2.Client)(nil)
	_ IAMAPI      = (*iam.Client)(nil)
	_ ECRAPI      = (*ecr.Client)(nil)
	_ DynamoDBAPI = (*dynamodb.Client)(nil)
)

// Clients are the checks' clients and the region they read.
type Clients struct {
	EC2      EC2API
	IAM      IAMAPI
	ECR      ECRAPI
	DynamoDB DynamoDBAPI
	Region   string
}

// NewClients builds the checks' clients from one configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{EC2: ec2.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg), ECR: ecr.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg), Region: cfg.Region}
}

// Input is what the checks look at.
type Input struct {
	Spec stack.Spec
	// Zones are the zones the build uses: the network layer's choice, as
	// its dry run reports it.
	Zones []string
	// CreatesService says the build creates the service, from the spec's
	// initial image, which must then exist.
	CreatesService bool
	// Table is the ledger table the run records to; empty for a run that
	// records nothing.
	Table string
}

// Report is what the checks found beyond the problems: what they checked
// and what they could not.
type Report struct {
	Checked []string `json:"checked"`
	Skipped []string `json:"skipped,omitempty"`
}

type checker struct {
	c        Clients
	problems []string
	report   Report
	// noRegion is set when the region does not exist, and so no other
	// service can be asked either.
	noRegion bool
}

func (k *checker) problem(format string, args ...any) {
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
}

// skip records a check that could not run: a read the caller may not make
// is skipped, anything else but not-found is the checks' own failure.
func (k *checker) skip(what string, err error) error {
	if awserr.IsAccessDenied(err) {
		k.report.Skipped = append(k.report.Skipped, fmt.Sprintf("%s: %s", what, awserr.Code(err)))
		return nil
	}
	return fmt.Errorf("checking %s: %w", what, err)
}

// Check runs every check. It returns the report and, when it found
// problems, an InvalidInputError listing each; a read that failed for
// another reason than a missing resource or a denied permission is
// returned as an error.
func Check(ctx context.Context, c Clients, in Input) (Report, error) {
	k := &checker{c: c}
	steps := []func(context.Context, Input) error{k.zones, k.roles, k.images, k.table}
	for _, step := range steps {
		if err := step(ctx, in); err != nil {
			return k.report, err
		}
		if k.noRegion {
			break
		}
	}
	if len(k.problems) > 0 {
		return k.report, handlererr.Invalid(k.problems...)
	}
	return k.report, nil
}

// zones checks that the region answers, that every zone the build uses
// exists and is available, and that each offers the instance type.
func (k *checker) zones(ctx context.Context, in Input) error {
	out, err := k.c.EC2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		k.problem("region %q does not exist: its EC2 endpoint %s has no address", k.c.Region, dns.Name)
		k.noRegion = true
		return nil
	case err != nil:
		return k.skip("the region's Availability Zones", err)
	}
	available := map[string]bool{}
	var names []string
	for _, z := range out.AvailabilityZones {
		name := aws.ToString(z.ZoneName)
		names = append(names, name)
		available[name] = z.State == ec2types.AvailabilityZoneStateAvailable
	}
	slices.Sort(names)
	var usable []string
	for _, z := range in.Zones {
		ok, exists := available[z]
		switch {
		case !exists:
			k.problem("Availability Zone %s does not exist in %s (its zones: %s)", z, k.c.Region, strings.Join(names, ", "))
		case !ok:
			k.problem("Availability Zone %s is not available", z)
		default:
			usable = append(usable, z)
		}
	}
	n := 0
	for _, ok := range available {
		if ok {
			n++
		}
	}
	if want := in.Spec.Network.AZCount; n < want {
		k.problem("%s has %d available Availability Zones; the stack spans %d", k.c.Region, n, want)
	}
	k.report.Checked = append(k.report.Checked, "Availability Zones "+strings.Join(in.Zones, ", "))
	if len(usable) == 0 {
		return nil
	}
	typ := in.Spec.Compute.InstanceType
	offered := map[string]bool{}
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(k.c.EC2, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters: []ec2types.Filter{
			{Name: aws.String("instance-type"), Values: []string{typ}},
			{Name: aws.String("location"), Values: usable},
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return k.skip("the offerings of "+typ, err)
		}
		for _, o := range page.InstanceTypeOfferings {
			offered[aws.ToString(o.Location)] = true
		}
	}
	var missing []string
	for _, z := range usable {
		if !offered[z] {
			missing = append(missing, z)
		}
	}
	switch {
	case len(offered) == 0:
		k.problem("compute.instanceType %s is not offered in %s (DescribeInstanceTypeOfferings lists it in none of them)", typ, strings.Join(usable, ", "))
	case len(missing) > 0:
		k.problem("compute.instanceType %s is not offered in %s; pick another type or pin zones that offer it (network.azs)", typ, strings.Join(missing, ", "))
	}
	k.report.Checked = append(k.report.Checked, fmt.Sprintf("%s offered in every zone", typ))
	return nil
}

// roles checks that the roles and the instance profile exist under their
// ARNs and that the service that uses each may assume it.
func (k *checker) roles(ctx context.Context, in Input) error {
	r := in.Spec.Roles
	for _, role := range []struct{ field, arn, service string }{
		{"roles.executionRoleArn", r.ExecutionRoleARN, "ecs-tasks.amazonaws.com"},
		{"roles.taskRoleArn", r.TaskRoleARN, "ecs-tasks.amazonaws.com"},
	} {
		if err := k.role(ctx, role.field, role.arn, role.service); err != nil {
			return err
		}
	}
	name := resourceName(r.InstanceProfileARN)
	out, err := k.c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	switch {
	case awserr.IsNotFound(err):
		k.problem("roles.instanceProfileArn: instance profile %s does not exist", r.InstanceProfileARN)
		return nil
	case err != nil:
		return k.skip("instance profile "+name, err)
	}
	if got := aws.ToString(out.InstanceProfile.Arn); got != r.InstanceProfileARN {
		k.problem("roles.instanceProfileArn is %s, but the instance profile %s is %s", r.InstanceProfileARN, name, got)
	}
	if len(out.InstanceProfile.Roles) != 1 {
		k.problem("roles.instanceProfileArn: instance profile %s has %d roles, want one for the container instances", name, len(out.InstanceProfile.Roles))
		return nil
	}
	k.report.Checked = append(k.report.Checked, "instance profile "+name)
	return k.role(ctx, "roles.instanceProfileArn's role", aws.ToString(out.InstanceProfile.Roles[0].Arn), "ec2.amazonaws.com")
}

func (k *checker) role(ctx context.Context, field, arn, service string) error {
	name := resourceName(arn)
	out, err := k.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	switch {
	case awserr.IsNotFound(err):
		k.problem("%s: role %s does not exist", field, arn)
		return nil
	case err != nil:
		return k.skip("role "+name, err)
	}
	if got := aws.ToString(out.Role.Arn); got != arn {
		k.problem("%s is %s, but the role %s is %s", field, arn, name, got)
	}
	ok, err := trusts(aws.ToString(out.Role.AssumeRolePolicyDocument), service)
	switch {
	case err != nil:
		k.problem("%s: role %s has a trust policy that is not a policy document: %v", field, name, err)
	case !ok:
		k.problem("%s: role %s cannot be assumed by %s: its trust policy allows no sts:AssumeRole to that service", field, name, service)
	default:
		k.report.Checked = append(k.report.Checked, fmt.Sprintf("role %s assumable by %s", name, service))
	}
	return nil
}

// resourceName is the last part of an IAM ARN's resource: the role's or
// profile's name, without its path.
func resourceName(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// trusts reports whether a role's trust policy (URL-encoded JSON, as IAM
// returns it) allows service to assume the role. Conditions are not
// evaluated: a condition on the source account, as the template puts on
// the task roles, holds for the stack's own tasks.
func trusts(doc, service string) (bool, error) {
	if !strings.HasPrefix(strings.TrimSpace(doc), "{") {
		d, err := url.QueryUnescape(doc)
		if err != nil {
			return false, err
		}
		doc = d
	}
	var policy struct {
		Statement oneOrMany[struct {
			Effect    string
			Action    oneOrMany[string]
			Principal struct {
				Service oneOrMany[string]
			}
		}]
	}
	if err := json.Unmarshal([]byte(doc), &policy); err != nil {
		return false, err
	}
	for _, st := range policy.Statement {
		allows := slices.ContainsFunc(st.Action, func(a string) bool { return a == "sts:AssumeRole" || a == "sts:*" || a == "*" })
		if st.Effect == "Allow" && allows && slices.Contains(st.Principal.Service, service) {
			return true, nil
		}
	}
	return false, nil
}

// oneOrMany is a policy element that is a value or a list of values.
type oneOrMany[T any] []T

// UnmarshalJSON accepts a value or a list.
func (o *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	if strings.HasPrefix(strings.TrimSpace(string(b)), "[") {
		var many []T
		err := json.Unmarshal(b, &many)
		*o = many
		return err
	}
	var one T
	err := json.Unmarshal(b, &one)
	*o = []T{one}
	return err
}

// ecrImage matches an image in an ECR registry:
// <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag][@digest].
var ecrImage = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?::([^@]+))?(?:@(sha256:[0-9a-f]{64}))?$`)

// images checks the app's repository and, when the build creates the
// service, its initial image, and the nginx image the template uses.
func (k *checker) images(ctx context.Context, in Input) error {
	v := in.Spec.Service
	app := v.ImageRepository
	if in.CreatesService {
		app = in.Spec.Image()
	}
	if err := k.image(ctx, "service.imageRepository", app); err != nil {
		return err
	}
	return k.image(ctx, "service.nginxImage", v.NginxImage)
}

// image checks the repository of ref and, when ref names a tag or a
// digest, that image.
func (k *checker) image(ctx context.Context, field, ref string) error {
	m := ecrImage.FindStringSubmatch(ref)
	switch {
	case m == nil:
		k.report.Skipped = append(k.report.Skipped, fmt.Sprintf("%s %s: not in an ECR registry", field, ref))
		return nil
	case m[2] != k.c.Region:
		k.report.Skipped = append(k.report.Skipped, fmt.Sprintf("%s %s: in another region than %s", field, ref, k.c.Region))
		return nil
	}
	registry, repo, tag, digest := m[1], m[3], m[4], m[5]
	_, err := k.c.ECR.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(registry), RepositoryNames: []string{repo}})
	switch {
	case awserr.IsNotFound(err):
		k.problem("%s: repository %s does not exist in registry %s", field, repo, registry)
		return nil
	case err != nil:
		return k.skip("repository "+repo, err)
	}
	if tag == "" && digest == "" {
		k.report.Checked = append(k.report.Checked, "repository "+repo)
		return nil
	}
	id := ecrtypes.ImageIdentifier{}
	if digest != "" {
		id.ImageDigest = aws.String(digest)
	} else {
		id.ImageTag = aws.String(tag)
	}
	out, err := k.c.ECR.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(registry), RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{id}})
	switch {
	case awserr.IsNotFound(err) || (err == nil && len(out.ImageDetails) == 0):
		k.problem("%s: image %s is not in repository %s; push it first", field, ref, repo)
	case err != nil:
		return k.skip("image "+ref, err)
	default:
		k.report.Checked = append(k.report.Checked, "image "+ref)
	}
	return nil
}

// table checks that the ledger table exists, is active and has the
// ledger's key.
func (k *checker) table(ctx context.Context, in Input) error {
	if in.Table == "" {
		return nil
	}
	out, err := k.c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(in.Table)})
	switch {
	case awserr.IsNotFound(err):
		k.problem("ledger table %s does not exist in %s", in.Table, k.c.Region)
		return nil
	case err != nil:
		return k.skip("ledger table "+in.Table, err)
	}
	t := out.Table
	if t.TableStatus != dbtypes.TableStatusActive && t.TableStatus != dbtypes.TableStatusUpdating {
		k.problem("ledger table %s is %s, not ACTIVE", in.Table, t.TableStatus)
	}
	key := map[string]dbtypes.KeyType{}
	for _, e := range t.KeySchema {
		key[aws.ToString(e.AttributeName)] = e.KeyType
	}
	if len(key) != 2 || key["pk"] != dbtypes.KeyTypeHash || key["sk"] != dbtypes.KeyTypeRange {
		k.problem("table %s is not a ledger table: its key is not pk (hash) and sk (range)", in.Table)
		return nil
	}
	k.report.Checked = append(k.report.Checked, "ledger table "+in.Table)
	return nil
}
