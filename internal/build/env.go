package build

import (
	"context"
	"errors"
	"io"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/config"
	"github.com/ecsplane/ecsplane/internal/logging"
)

// NewHandler builds a function's handler from its environment, reporting
// every missing variable at once. The functions' mains call it once, before
// lambda.Start, so clients are built once per execution environment.
func NewHandler(ctx context.Context, lookup config.Lookup, logTo io.Writer) (*Handler, error) {
	var cfg Config
	var lo logging.Options
	if err := errors.Join(config.Load(&cfg, lookup), config.Load(&lo, lookup)); err != nil {
		return nil, err
	}
	awsCfg, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	return &Handler{Clients: NewClients(awsCfg), Config: cfg, Workload: Workload(awsCfg.Region, cfg.LogGroup), Log: logging.New(logTo, lo)}, nil
}
