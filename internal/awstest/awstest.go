// Package awstest gives tests a real AWS API to talk to: a moto server
// (moto 5.2.1), shared by the tests of a process, with every test isolated in
// an account of its own.
//
// Set ECSPLANE_MOTO_ENDPOINT to reuse a running server (CI starts one for all
// packages); otherwise the first test that needs moto starts one and Main
// stops it. Without moto installed, tests fail with instructions: they never
// skip.
package awstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecsplane/ecsplane/internal/local"
)

// EndpointEnv names the variable holding a running moto server's URL.
const EndpointEnv = "ECSPLANE_MOTO_ENDPOINT"

// PythonEnv names the variable holding the interpreter that has moto.
const PythonEnv = "ECSPLANE_PYTHON"

// Region is the region every test environment uses.
const Region = "us-east-1"

// Env is one test's isolated view of moto.
type Env struct {
	// Endpoint is moto's base URL.
	Endpoint string
	// AccountID is this test's own account; moto keeps its state apart.
	AccountID string
	// Region is the environment's region.
	Region string
	// Config builds SDK clients that talk to moto as AccountID.
	Config aws.Config
}

var shared struct {
	once     sync.Once
	endpoint string
	moto     *local.Moto
	err      error
}

// Moto returns a fresh, isolated environment on the shared moto server.
func Moto(t testing.TB) *Env {
	t.Helper()
	shared.once.Do(func() {
		if ep := os.Getenv(EndpointEnv); ep != "" {
			shared.endpoint = ep
			return
		}
		m, err := local.StartMoto(context.Background(), local.MotoOptions{Python: os.Getenv(PythonEnv)})
		if err != nil {
			shared.err = err
			return
		}
		shared.moto, shared.endpoint = m, m.Endpoint
	})
	if shared.err != nil {
		t.Fatalf("starting moto: %v", shared.err)
	}
	return NewEnv(shared.endpoint, NewAccountID())
}

// NewEnv returns an environment for account on the server at endpoint.
func NewEnv(endpoint, account string) *Env {
	return &Env{Endpoint: endpoint, AccountID: account, Region: Region, Config: Config(endpoint, account)}
}

// Config returns SDK configuration for moto at endpoint, acting as account.
// It uses the standard retryer, like production code.
func Config(endpoint, account string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      func() aws.Retryer { return retry.NewStandard() },
		APIOptions:   []func(*middleware.Stack) error{smithyhttp.AddHeaderValue("x-moto-account-id", account)},
	}
}

// NewAccountID returns a random 12-digit account ID, so tests in parallel
// processes sharing one server do not collide.
func NewAccountID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(9e11))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return fmt.Sprintf("%012d", n.Int64()+1e11)
}

// Main runs the package's tests and stops the moto server this process
// started, if any. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.moto != nil {
		shared.moto.Stop()
	}
	stopStepFunctions()
	os.Exit(code)
}

// UseEndpoint points the process's SDK default chain (what
// awsclient.Load and the CLI read) at endpoint, with static test
// credentials and no shared config files, for the rest of the test. Such
// clients act in moto's default account, so tests isolate themselves there
// by resource names.
func UseEndpoint(t *testing.T, endpoint string) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": Region,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
}
