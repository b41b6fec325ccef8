package sim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// countAttempts is a Finalize middleware placed right after the SDK's
// retryer, so it sees every attempt the retryer makes.
func countAttempts(n *int) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("CountAttempts", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			*n++
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
	}
}

func TestThrottlingIsAbsorbedByTheStandardRetryer(t *testing.T) {
	s := sim.New(sim.Options{Seed: 11})
	attempts := 0
	client := ec2.NewFromConfig(s.Config(), func(o *ec2.Options) { o.APIOptions = append(o.APIOptions, countAttempts(&attempts)) })
	ctx := context.Background()
	if _, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	s.Throttle("EC2", "DescribeVpcs", 0.3)

	const calls = 30
	retries := 0
	for range calls {
		out, err := client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		if err != nil {
			t.Fatalf("DescribeVpcs failed despite retries: %v", err)
		}
		if len(out.Vpcs) != 1 {
			t.Fatalf("DescribeVpcs returned %d VPCs, want 1", len(out.Vpcs))
		}
		results, ok := retry.GetAttemptResults(out.ResultMetadata)
		if !ok {
			t.Fatal("no retry attempt results in the output metadata")
		}
		retries += len(results.Results) - 1
	}
	throttled := 0
	for _, c := range s.Calls() {
		if c.Operation == "DescribeVpcs" && c.ErrorCode == "RequestLimitExceeded" {
			throttled++
		}
	}
	if retries == 0 || throttled == 0 {
		t.Fatalf("no throttling happened: %d retries, %d throttled attempts", retries, throttled)
	}
	if retries != throttled {
		t.Fatalf("SDK retried %d times, simulator throttled %d attempts", retries, throttled)
	}
	if got, want := s.CallCount("EC2", "DescribeVpcs"), calls+retries; got != want {
		t.Fatalf("simulator saw %d attempts, want %d", got, want)
	}
	if attempts != 1+calls+retries {
		t.Fatalf("middleware after the retryer counted %d attempts, want %d", attempts, 1+calls+retries)
	}
}

func TestPersistentThrottlingExhaustsAttempts(t *testing.T) {
	tests := []struct {
		service, code string
		call          func(cfg aws.Config) error
	}{
		{"EC2", "RequestLimitExceeded", func(cfg aws.Config) error {
			_, err := ec2.NewFromConfig(cfg).DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{})
			return err
		}},
		{"Auto Scaling", "Throttling", func(cfg aws.Config) error {
			_, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{})
			return err
		}},
		{"SSM", "ThrottlingException", func(cfg aws.Config) error {
			_, err := ssm.NewFromConfig(cfg).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(sim.ECSAMIParameter)})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := sim.New(sim.Options{Seed: 1})
			s.Throttle(tt.service, "", 1)
			err := tt.call(s.Config())
			if got := errCode(err); got != tt.code {
				t.Fatalf("error code %q (%v), want %s", got, err, tt.code)
			}
			var maxErr *retry.MaxAttemptsError
			if !errors.As(err, &maxErr) || maxErr.Attempt != awsclient.MaxAttempts {
				t.Fatalf("error %v is not a MaxAttemptsError after %d attempts", err, awsclient.MaxAttempts)
			}
			if got := s.CallCount(tt.service, ""); got != awsclient.MaxAttempts {
				t.Fatalf("simulator saw %d attempts, want %d", got, awsclient.MaxAttempts)
			}
		})
	}
}

func TestFailCallInjectsTheNthAttempt(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	client := ec2.NewFromConfig(s.Config())
	ctx := context.Background()
	s.FailCall("EC2", "CreateVpc", 2, "VpcLimitExceeded", "The maximum number of VPCs has been reached.")
	if _, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}); err != nil {
		t.Fatalf("first call: %v", err)
	}
	_, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")})
	if got := errCode(err); got != "VpcLimitExceeded" {
		t.Fatalf("second call: error code %q (%v), want VpcLimitExceeded", got, err)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != http.StatusBadRequest || respErr.ServiceRequestID() == "" {
		t.Fatalf("error %v lacks the HTTP response wrapping of a real error", err)
	}
	if _, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.2.0.0/16")}); err != nil {
		t.Fatalf("third call: %v", err)
	}

	// A server-side error is retried by the SDK and so never reaches the
	// caller when it happens once.
	s.FailCall("EC2", "", 1, "InternalError", "An internal error has occurred")
	if _, err := client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("InternalError was not retried: %v", err)
	}
}

func TestSDKValidationRunsBeforeTheSimulator(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	_, err := ec2.NewFromConfig(s.Config()).CreateSubnet(context.Background(), &ec2.CreateSubnetInput{CidrBlock: aws.String("10.0.0.0/24")})
	var invalid smithy.InvalidParamsError
	if !errors.As(err, &invalid) {
		t.Fatalf("CreateSubnet without VpcId: error %v, want the SDK's InvalidParamsError", err)
	}
	if n := s.CallCount("EC2", ""); n != 0 {
		t.Fatalf("simulator received %d attempts of an invalid request", n)
	}
}

func TestErrorShapes(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	cfg := s.Config()
	ctx := context.Background()

	_, err := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
	if got := errCode(err); got != "InvalidSubnetID.NotFound" {
		t.Fatalf("unknown subnet: code %q, want InvalidSubnetID.NotFound", got)
	}
	var op *smithy.OperationError
	if !errors.As(err, &op) || op.Service() != "EC2" || op.Operation() != "DescribeSubnets" {
		t.Fatalf("error %v is not wrapped in the SDK's OperationError", err)
	}

	_, err = ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	var notFound *ssmtypes.ParameterNotFound
	if !errors.As(err, &notFound) {
		t.Fatalf("unknown parameter: error %v, want the modelled ParameterNotFound", err)
	}

	_, err = ec2.NewFromConfig(cfg).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"), DryRun: aws.Bool(true)})
	if got := errCode(err); got != "DryRunOperation" {
		t.Fatalf("dry run: code %q, want DryRunOperation", got)
	}
	_, err = ec2.NewFromConfig(cfg).DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if got := errCode(err); got != "UnsupportedOperation" {
		t.Fatalf("unimplemented operation: code %q, want UnsupportedOperation", got)
	}
}

func TestCallsRecordMutations(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	client := ec2.NewFromConfig(s.Config())
	ctx := context.Background()
	if _, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatal(err)
	}
	calls := s.Calls()
	if len(calls) != 2 || !calls[0].Mutating() || calls[1].Mutating() {
		t.Fatalf("calls = %+v, want a mutating CreateVpc then a read-only DescribeVpcs", calls)
	}
	if !calls[0].Time.Equal(sim.DefaultStart) {
		t.Fatalf("call time %v, want the virtual clock's %v", calls[0].Time, sim.DefaultStart)
	}
}

func TestRunFollowsWallTimeAtItsSpeed(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, 600); close(done) }()
	// At 600× wall time two simulated minutes pass in about 200 ms; SDK
	// calls keep working while the clock runs.
	client := ec2.NewFromConfig(s.Config())
	if _, err := client.AllocateAddress(ctx, &ec2.AllocateAddressInput{}); err != nil {
		t.Fatal(err)
	}
	start := s.Now()
	deadline := time.Now().Add(5 * time.Second)
	for s.Now().Sub(start) < 2*time.Minute {
		if time.Now().After(deadline) {
			t.Fatalf("virtual clock moved only %s in 5s of wall time at 600×", s.Now().Sub(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	stopped := s.Now()
	time.Sleep(30 * time.Millisecond)
	if !s.Now().Equal(stopped) {
		t.Fatal("virtual clock kept moving after Run returned")
	}
}

// TestConfigOverPassesOtherServicesThrough: over a configuration that
// reaches a server, the simulator answers its own services and lets the
// others' requests reach that server.
func TestConfigOverPassesOtherServicesThrough(t *testing.T) {
	var reached []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Header.Get("X-Amz-Target"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"TableNames": ["ledger"]}`))
	}))
	defer srv.Close()
	base := aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	}
	s := sim.New(sim.Options{Seed: 1})
	cfg := s.ConfigOver(base)
	ctx := context.Background()
	zones, err := ec2.NewFromConfig(cfg).DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil || len(zones.AvailabilityZones) != 3 {
		t.Fatalf("EC2 through the overlay: %v (%v), want the simulator's three zones", zones, err)
	}
	tables, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil || len(tables.TableNames) != 1 || tables.TableNames[0] != "ledger" {
		t.Fatalf("DynamoDB through the overlay: %v (%v), want the server's answer", tables, err)
	}
	if len(reached) != 1 || reached[0] != "DynamoDB_20120810.ListTables" {
		t.Errorf("the server saw %v, want only the DynamoDB call", reached)
	}
	if n := s.CallCount(ec2.ServiceID, "DescribeAvailabilityZones"); n != 1 {
		t.Errorf("the simulator saw %d EC2 calls, want 1", n)
	}
}
