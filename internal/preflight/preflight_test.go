package preflight

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestTrusts(t *testing.T) {
	tests := []struct {
		doc  string
		want bool
	}{
		// The template's task roles: one statement, a condition.
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}]}`, true},
		// A statement object, lists of actions and principals.
		{`{"Statement":{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ecs-tasks.amazonaws.com"]},"Action":["sts:TagSession","sts:AssumeRole"]}}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, false},
		{`{"Statement":[{"Effect":"Deny","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:TagSession"}]}`, false},
	}
	for _, tt := range tests {
		for _, doc := range []string{tt.doc, url.QueryEscape(tt.doc)} {
			got, err := trusts(doc, "ecs-tasks.amazonaws.com")
			if err != nil || got != tt.want {
				t.Errorf("trusts(%s) = %t, %v; want %t", doc, got, err, tt.want)
			}
		}
	}
	if _, err := trusts("not a policy", "ecs-tasks.amazonaws.com"); err == nil {
		t.Error("a trust policy that is not JSON was read")
	}
}

// noAddress is an HTTP client for which every host has no address, as
// for the EC2 endpoint of a region that does not exist.
type noAddress struct{}

func (noAddress) Do(r *http.Request) (*http.Response, error) {
	return nil, &url.Error{Op: r.Method, URL: r.URL.String(), Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}}}
}

// TestRegionWithoutEndpoint: the real EC2 client of a region that does not
// exist fails to resolve its endpoint; that is a problem of the input, not
// a failure of the checks.
func TestRegionWithoutEndpoint(t *testing.T) {
	cfg := aws.Config{Region: "us-east-7", HTTPClient: noAddress{}, Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""),
		RetryMaxAttempts: 1}
	spec := stack.Defaults("web")
	_, err := Check(context.Background(), Clients{EC2: ec2.NewFromConfig(cfg), Region: cfg.Region}, Input{Spec: spec, Zones: []string{"us-east-7a", "us-east-7b"}})
	var inv *handlererr.InvalidInputError
	if !errors.As(err, &inv) || len(inv.Problems) != 1 || !strings.Contains(inv.Problems[0], `region "us-east-7" does not exist: its EC2 endpoint ec2.us-east-7.amazonaws.com has no address`) {
		t.Fatalf("Check = %v, want the region's problem", err)
	}
}
