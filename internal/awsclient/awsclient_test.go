package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// TestEndpointVariables checks that the global and the per-service endpoint
// variables both route requests, and that the standard retryer retries a
// throttled call.
func TestEndpointVariables(t *testing.T) {
	var global, ddb atomic.Int32
	globalSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		global.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>`))
	}))
	defer globalSrv.Close()
	ddbSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ddb.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}`))
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer ddbSrv.Close()

	t.Setenv("AWS_ENDPOINT_URL", globalSrv.URL)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddbSrv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")

	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sns.NewFromConfig(cfg).Publish(context.Background(), &sns.PublishInput{Message: aws.String("x"), TopicArn: aws.String("arn:aws:sns:eu-west-1:123456789012:t")}); err != nil {
		t.Fatalf("publish through AWS_ENDPOINT_URL: %v", err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}}); err != nil {
		t.Fatalf("get item through AWS_ENDPOINT_URL_DYNAMODB: %v", err)
	}
	if global.Load() != 1 {
		t.Errorf("global endpoint hits = %d, want 1", global.Load())
	}
	if ddb.Load() != 2 {
		t.Errorf("dynamodb endpoint hits = %d, want 2 (one throttled, one retried)", ddb.Load())
	}
}
