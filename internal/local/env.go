package local

import (
	"context"
	"fmt"
	"io"
)

// Env is the embedded AWS environment: moto with its Step Functions engine
// enabled, whose Lambda invocations reach Gateway.
type Env struct {
	Moto    *Moto
	Gateway *Gateway
}

// Start brings up the gateway, then moto pointed at it, then enables the
// Step Functions engine.
func Start(ctx context.Context, python string, log io.Writer) (*Env, error) {
	gw, err := NewGateway()
	if err != nil {
		return nil, err
	}
	m, err := StartMoto(ctx, MotoOptions{Python: python, LambdaPort: gw.Port(), Log: log})
	if err != nil {
		_ = gw.Close()
		return nil, err
	}
	if err := gw.SetUpstream(m.Endpoint); err != nil {
		m.Stop()
		_ = gw.Close()
		return nil, err
	}
	if err := EnableStepFunctionsExecution(ctx, m.Endpoint); err != nil {
		m.Stop()
		_ = gw.Close()
		return nil, fmt.Errorf("starting local environment: %w", err)
	}
	return &Env{Moto: m, Gateway: gw}, nil
}

// Endpoint is where AWS clients should send requests: the gateway, which
// answers Lambda and forwards the rest to moto.
func (e *Env) Endpoint() string { return e.Gateway.Endpoint() }

// Stop shuts both down.
func (e *Env) Stop() {
	e.Moto.Stop()
	_ = e.Gateway.Close()
}
