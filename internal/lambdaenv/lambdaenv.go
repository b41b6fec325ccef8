// Package lambdaenv is the one start-up of every function: it reads the
// variables the function declares in template.yaml (the shared ones and its
// own) and those the Lambda service sets (the region, the execution role's
// credentials, the logging controls) together, so every missing one is
// reported at once, and builds the SDK configuration from them.
package lambdaenv

import (
	"errors"
	"io"
	"log/slog"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/config"
	"github.com/ecsplane/ecsplane/internal/logging"
)

// Shared is what every function reads: the name of the stack the control
// plane manages, from Globals in template.yaml. Functions refuse requests
// for any other stack.
type Shared struct {
	StackName string `env:"STACK_NAME"`
}

// Env is a function's environment, read once before lambda.Start.
type Env struct {
	Shared
	AWS aws.Config
	Log *slog.Logger
}

// Load fills own, a pointer to the function's configuration struct (nil
// when it reads nothing of its own), with the shared variables and the
// logging options, and loads the SDK configuration.
func Load(lookup config.Lookup, own any, logTo io.Writer) (*Env, error) {
	env := &Env{}
	var lo logging.Options
	var sdk awsclient.Environment
	errs := []error{config.Load(&env.Shared, lookup), config.Load(&sdk, lookup), config.Load(&lo, lookup)}
	if own != nil {
		errs = append(errs, config.Load(own, lookup))
	}
	if err := joinConfig(errs); err != nil {
		return nil, err
	}
	env.AWS, env.Log = awsclient.FromEnvironment(sdk), logging.New(logTo, lo)
	return env, nil
}

// joinConfig merges the configuration errors into one that lists every
// missing and invalid variable.
func joinConfig(errs []error) error {
	all := &config.Error{}
	for _, err := range errs {
		var ce *config.Error
		switch {
		case err == nil:
		case errors.As(err, &ce):
			all.Missing = append(all.Missing, ce.Missing...)
			all.Invalid = append(all.Invalid, ce.Invalid...)
		default:
			return err
		}
	}
	if len(all.Missing)+len(all.Invalid) > 0 {
		sort.Strings(all.Missing)
		return all
	}
	return nil
}
