package local

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// Region is the local environment's region.
const Region = "us-east-1"

// Session is the state shared by the steps of a local run.
type Session struct {
	Env      *Env
	Config   aws.Config
	Table    string
	Ledger   *ledger.Ledger
	Template *Template
	Out      io.Writer
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

// NewSession creates the template's ledger table in env.
func NewSession(ctx context.Context, env *Env, templatePath, table string, out io.Writer) (*Session, error) {
	tmpl, err := LoadTemplate(templatePath)
	if err != nil {
		return nil, err
	}
	cfg := Config(env.Endpoint())
	db := dynamodb.NewFromConfig(cfg)
	if err := CreateTable(ctx, db, tmpl, LedgerTableID, table); err != nil {
		return nil, err
	}
	return &Session{Env: env, Config: cfg, Table: table, Ledger: ledger.New(db, table), Template: tmpl, Out: out}, nil
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

// LedgerSteps record a short deployment history through the real ledger
// code: each rollout claims its image digest, takes the service lock, and
// moves through its statuses, and one of them is rolled back.
func LedgerSteps(service string) []Step {
	type rollout struct {
		tag, digest string
		path        []ledger.Status
		reason      string
	}
	rollouts := []rollout{
		{"v1.0.0", "sha256:1111111111111111111111111111111111111111111111111111111111111111", []ledger.Status{ledger.StatusInProgress, ledger.StatusBaking, ledger.StatusSucceeded}, "bake passed"},
		{"v1.1.0", "sha256:2222222222222222222222222222222222222222222222222222222222222222", []ledger.Status{ledger.StatusInProgress, ledger.StatusRolledBack}, "ECS circuit breaker rolled the deployment back"},
		{"v1.1.1", "sha256:3333333333333333333333333333333333333333333333333333333333333333", []ledger.Status{ledger.StatusInProgress, ledger.StatusBaking, ledger.StatusSucceeded}, "bake passed"},
	}
	var steps []Step
	for i, r := range rollouts {
		steps = append(steps, Step{
			Name: fmt.Sprintf("record rollout of %s:%s", service, r.tag),
			Run: func(ctx context.Context, s *Session) error {
				owner := fmt.Sprintf("local-rollout-%d", i+1)
				if _, err := s.Ledger.ClaimKey(ctx, r.digest, owner, 15*time.Minute); err != nil {
					return err
				}
				lease, err := s.Ledger.Acquire(ctx, service, owner, 15*time.Minute)
				if err != nil {
					return err
				}
				d, err := s.Ledger.CreateDeployment(ctx, ledger.NewDeployment{
					Service: service, ImageTag: r.tag, ImageDigest: r.digest,
					PreviousTaskDef: fmt.Sprintf("%s:%d", service, i), ExecutionARN: "local:" + owner,
				})
				if err != nil {
					return err
				}
				for _, to := range r.path {
					c := ledger.Change{To: to}
					if to == ledger.StatusInProgress {
						c.NewTaskDef = fmt.Sprintf("%s:%d", service, i+1)
					}
					if to.Terminal() {
						c.Reason = r.reason
					}
					if d, err = s.Ledger.Transition(ctx, d, c); err != nil {
						return err
					}
				}
				if err := s.Ledger.Release(ctx, lease); err != nil {
					return err
				}
				if err := s.Ledger.CompleteKey(ctx, r.digest, owner, d.ID); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "    deployment %s: %s (fencing token %d)\n", d.ID, d.Status, lease.Token)
				return nil
			},
		})
	}
	return steps
}
