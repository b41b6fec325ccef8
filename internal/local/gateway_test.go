package local_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/local"
)

func TestGateway(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "moto:"+r.URL.Path)
	}))
	defer upstream.Close()
	gw, err := local.NewGateway()
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.SetUpstream(upstream.URL); err != nil {
		t.Fatal(err)
	}
	type in struct {
		N int `json:"n"`
	}
	gw.Register("double", func(ctx context.Context, v in) (in, error) {
		lc, ok := lambdacontext.FromContext(ctx)
		if !ok || lc.AwsRequestID == "" {
			return in{}, handlererr.Invalid("no request id")
		}
		return in{N: v.N * 2}, nil
	})
	gw.Register("notready", func(ctx context.Context) error {
		return handlererr.Boundary(&handlererr.NotReadyError{Msg: "nat-1 pending"})
	})
	gw.Register("panics", func(ctx context.Context) error { panic("boom") })

	post := func(path, body string) (*http.Response, string) {
		resp, err := http.Post(gw.Endpoint()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	tests := []struct {
		name, path, body string
		status           int
		funcErr          string
		want             string
	}{
		{"result by ARN with qualifier", "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:double:live/invocations", `{"n":21}`, 200, "", `{"n":42}`},
		{"typed error", "/2015-03-31/functions/notready/invocations", `{}`, 200, "Unhandled", `{"errorType":"NotReadyError","errorMessage":"nat-1 pending"}`},
		{"malformed payload", "/2015-03-31/functions/double/invocations", `{"n":"x"}`, 200, "Unhandled", `"errorType":"UnmarshalTypeError"`},
		{"panic", "/2015-03-31/functions/panics/invocations", `{}`, 200, "Unhandled", `{"errorType":"string","errorMessage":"boom"}`},
		{"unknown function", "/2015-03-31/functions/nope/invocations", `{}`, 404, "", "Function not found: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(tt.path, tt.body)
			if resp.StatusCode != tt.status || resp.Header.Get("X-Amz-Function-Error") != tt.funcErr {
				t.Fatalf("status = %d, function error = %q; body %s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), body)
			}
			if !strings.Contains(body, tt.want) {
				t.Fatalf("body = %s, want it to contain %s", body, tt.want)
			}
			if tt.funcErr != "" {
				var e map[string]string
				if err := json.Unmarshal([]byte(body), &e); err != nil || e["errorType"] == "" {
					t.Fatalf("error body %s is not {errorType, errorMessage}", body)
				}
			}
		})
	}
	if got := gw.Invocations("double"); got != 2 {
		t.Errorf("invocations of double = %d, want 2", got)
	}
	if _, body := post("/some/other/api", ""); body != "moto:/some/other/api" {
		t.Errorf("proxied body = %q", body)
	}
}
