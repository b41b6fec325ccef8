package local

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// Region is the local environment's region.
const Region = "us-east-1"

// Session is the state shared by the steps of a local run.
type Session struct {
	Env *Env
	// App is the template's application in the environment.
	App    *App
	Config aws.Config
	Table  string
	Ledger *ledger.Ledger
	Out    io.Writer
}

// Step is one phase of the local scenario.
type Step struct {
	Name string
	Run  func(ctx context.Context, s *Session) error
}

// Config returns SDK configuration for the environment at endpoint, with
// static test credentials.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// RunSteps runs steps in order, printing each one's name and duration.
func RunSteps(ctx context.Context, s *Session, steps []Step) error {
	for i, st := range steps {
		start := time.Now()
		fmt.Fprintf(s.Out, "==> [%d/%d] %s\n", i+1, len(steps), st.Name)
		if err := st.Run(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", st.Name, err)
		}
		fmt.Fprintf(s.Out, "    done in %s\n", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
