package sim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// TestRemoteAnswersAsInProcess drives one simulator from two sets of
// clients, in process and through its remote endpoint, and checks that they
// see the same resources, the same typed outputs, the same API errors and
// the same retried faults, while a service the simulator does not simulate
// goes to the configured endpoint.
func TestRemoteAnswersAsInProcess(t *testing.T) {
	s := sim.New(sim.Options{Seed: 21})
	srv := httptest.NewServer(s.RemoteHandler())
	defer srv.Close()
	var passedThrough atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passedThrough.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"QueueUrls":[]}`))
	}))
	defer other.Close()
	remote := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("a", "b", ""),
		BaseEndpoint: aws.String(other.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = retry.BackoffDelayerFunc(noDelay) })
		},
		APIOptions: []func(*middleware.Stack) error{sim.RemoteAPIOptions(srv.URL, nil)},
	}
	ctx := context.Background()

	vpc, err := ec2.NewFromConfig(remote).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpc, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("remote")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := ec2.NewFromConfig(s.Config()).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{aws.ToString(vpc.Vpc.VpcId)}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ec2.NewFromConfig(remote).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{aws.ToString(vpc.Vpc.VpcId)}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.Vpcs, out.Vpcs) || len(out.Vpcs) != 1 {
		t.Errorf("remote DescribeVpcs = %+v, in process %+v", out.Vpcs, in.Vpcs)
	}

	if _, err := ecs.NewFromConfig(remote).CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	d, err := ecs.NewFromConfig(remote).DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"c"}})
	if err != nil || len(d.Clusters) != 1 || aws.ToString(d.Clusters[0].Status) != "ACTIVE" {
		t.Fatalf("DescribeClusters = %+v, %v", d, err)
	}

	_, err = ec2.NewFromConfig(remote).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0000000000000000a"}})
	if !awserr.IsNotFound(err) {
		t.Errorf("DescribeVpcs of a missing VPC: %v, want a not-found API error", err)
	}

	s.FailCall("EC2", "DescribeVpcs", 1, "RequestLimitExceeded", "Request limit exceeded.")
	before := s.CallCount("EC2", "DescribeVpcs")
	if _, err := ec2.NewFromConfig(remote).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("a throttled call was not retried: %v", err)
	}
	if got := s.CallCount("EC2", "DescribeVpcs") - before; got != 2 {
		t.Errorf("the simulator saw %d attempts, want 2 (one throttled, one retried)", got)
	}

	// AWS's public parameters are the simulator's; an account's own
	// parameter, SQS and everything else go to the configured endpoint.
	p, err := ssm.NewFromConfig(remote).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(sim.ECSAMIParameter)})
	if err != nil || aws.ToString(p.Parameter.Value) != s.ECSOptimizedAMI() {
		t.Errorf("the public AMI parameter: %+v, %v", p, err)
	}
	if _, err := sqs.NewFromConfig(remote).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	_, _ = ssm.NewFromConfig(remote).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ecsplane/web-dev/load-balancer-dns-name")})
	if passedThrough.Load() != 2 {
		t.Errorf("the configured endpoint got %d requests, want 2 (SQS, the account's own parameter)", passedThrough.Load())
	}
}

func noDelay(int, error) (time.Duration, error) { return 0, nil }
