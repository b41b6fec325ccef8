package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// ec2Server answers every request with a not-found error for the first
// failures, then with an empty success.
func ec2Server(t *testing.T, failures int32) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		if n.Add(1) <= failures {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-1' does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>`))
			return
		}
		_, _ = w.Write([]byte(`<ModifyVpcAttributeResponse><return>true</return></ModifyVpcAttributeResponse>`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func testClient(url string, opts ...func(*middleware.Stack) error) *ec2.Client {
	return ec2.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = retry.BackoffDelayerFunc(noBackoff) })
		},
		APIOptions: opts,
	})
}

func noBackoff(int, error) (time.Duration, error) { return 0, nil }

func TestRetryEventualConsistencyRetriesMutationsOnly(t *testing.T) {
	srv, n := ec2Server(t, 2)
	calls := NewCalls()
	c := testClient(srv.URL, RetryEventualConsistency, calls.Middleware())
	if _, err := c.ModifyVpcAttribute(context.Background(), &ec2.ModifyVpcAttributeInput{VpcId: aws.String("vpc-1")}); err != nil {
		t.Fatalf("a mutation naming a new VPC was not retried past the window: %v", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d attempts, want 3", n.Load())
	}
	if got := calls.Mutations()["EC2:ModifyVpcAttribute"]; got != 1 {
		t.Errorf("counted %d ModifyVpcAttribute calls, want 1 (attempts are not calls)", got)
	}

	srv, n = ec2Server(t, 10)
	c = testClient(srv.URL, RetryEventualConsistency)
	_, err := c.DeleteVpc(context.Background(), &ec2.DeleteVpcInput{VpcId: aws.String("vpc-1")})
	if !awserr.IsNotFound(err) || n.Load() != 1 {
		t.Errorf("a delete's not-found was retried (%d attempts) or lost its code: %v", n.Load(), err)
	}
}

func TestIsRead(t *testing.T) {
	for op, read := range map[string]bool{
		"DescribeVpcs": true, "ListTasks": true, "GetParameter": true, "Query": true, "Scan": true, "BatchGetItem": true,
		"CreateVpc": false, "PutMetricAlarm": false, "PutItem": false, "DeleteItem": false,
	} {
		if IsRead(op) != read {
			t.Errorf("IsRead(%s) = %t", op, !read)
		}
	}
}

// TestAutoScalingValidationErrorIsRetriedOnlyWhereListed: Auto Scaling
// refuses a group naming a launch template it cannot see yet with a
// ValidationError; that code is retried for the calls unseen lists, and
// for no other.
func TestAutoScalingValidationErrorIsRetriedOnlyWhereListed(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>You must use a valid fully-formed launch template.</Message></Error><RequestId>r</RequestId></ErrorResponse>`))
			return
		}
		_, _ = w.Write([]byte(`<CreateAutoScalingGroupResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateAutoScalingGroupResponse>`))
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = retry.BackoffDelayerFunc(noBackoff) })
		},
		APIOptions: []func(*middleware.Stack) error{RetryEventualConsistency},
	}
	c := autoscaling.NewFromConfig(cfg)
	if _, err := c.CreateAutoScalingGroup(context.Background(), &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1),
	}); err != nil || n.Load() != 3 {
		t.Fatalf("CreateAutoScalingGroup: %v after %d attempts, want success after 3", err, n.Load())
	}
	n.Store(0)
	_, err := c.SetDesiredCapacity(context.Background(), &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(1)})
	if awserr.Code(err) != "ValidationError" || n.Load() != 1 {
		t.Fatalf("SetDesiredCapacity: %v after %d attempts, want its ValidationError at once", err, n.Load())
	}
}
