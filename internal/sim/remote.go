package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// RemotePath is where a simulator's remote endpoint answers:
// POST {RemotePath}{service}/{operation}, with the SDK's input as JSON.
const RemotePath = "/sim/"

// remoteError is an API error as the remote endpoint sends it.
type remoteError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Fault     string `json:"fault"`
	RequestID string `json:"requestId"`
}

// RemoteHandler serves the simulator's operations to SDK clients in other
// processes (see RemoteAPIOptions): the SDK's typed input arrives as JSON,
// runs exactly as an in-process call does (faults, call log, clock), and
// the typed output or the API error goes back as JSON. It is how a kept
// local environment lets later `ecsplane` commands reach its simulated
// services.
func (s *Sim) RemoteHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RemotePath+"{service}/{operation}", func(w http.ResponseWriter, r *http.Request) {
		svc, op := r.PathValue("service"), r.PathValue("operation")
		w.Header().Set("Content-Type", "application/json")
		types, ok := opTypes[opKey{svc, op}]
		if !ok {
			writeRemoteError(w, "", unsupported(svc, op))
			return
		}
		in := reflect.New(types.in)
		if err := json.NewDecoder(r.Body).Decode(in.Interface()); err != nil {
			writeRemoteError(w, "", apiError("SerializationException", "decoding %s %s input: %v", svc, op, err))
			return
		}
		out, requestID, err := s.dispatch(svc, op, in.Interface())
		if err != nil {
			writeRemoteError(w, requestID, err)
			return
		}
		w.Header().Set("X-Amzn-Requestid", requestID)
		if err := json.NewEncoder(w).Encode(out); err != nil {
			s.log.Error("sim_remote_encode_failed", "service", svc, "operation", op, "error", err)
		}
	})
	return mux
}

func writeRemoteError(w http.ResponseWriter, requestID string, err error) {
	e := remoteError{Code: "InternalFailure", Message: err.Error(), Fault: "server", RequestID: requestID}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		e.Code, e.Message, e.Fault = apiErr.ErrorCode(), apiErr.ErrorMessage(), apiErr.ErrorFault().String()
	}
	w.WriteHeader(statusOf(e.Code))
	_ = json.NewEncoder(w).Encode(e)
}

// RemoteAPIOptions returns the SDK option that sends the operations of the
// simulated services (EC2, SSM's public parameters, Auto Scaling, ECS, ELB,
// CloudWatch, Application Auto Scaling, ECR) to the simulator serving
// RemoteHandler at endpoint, and lets every other request go where the
// configuration sends it. Like Config, it answers after the SDK's
// validation, retryer and signing, so an API error from the simulator is
// retried as it would be in process.
func RemoteAPIOptions(endpoint string, client *http.Client) func(*middleware.Stack) error {
	if client == nil {
		client = http.DefaultClient
	}
	base := strings.TrimSuffix(endpoint, "/") + RemotePath
	return func(stack *middleware.Stack) error {
		if err := stack.Initialize.Add(captureInput, middleware.After); err != nil {
			return err
		}
		answer := middleware.FinalizeMiddlewareFunc(AnswerID, func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			if !simulated(svc, middleware.GetStackValue(ctx, inputKey{})) {
				return next.HandleFinalize(ctx, in)
			}
			out, requestID, err := callRemote(ctx, client, base, svc, op, middleware.GetStackValue(ctx, inputKey{}))
			var md middleware.Metadata
			awsmiddleware.SetRequestIDMetadata(&md, requestID)
			if err != nil {
				return middleware.FinalizeOutput{}, md, err
			}
			return middleware.FinalizeOutput{Result: out}, md, nil
		})
		return stack.Finalize.Add(answer, middleware.After)
	}
}

// publicParameters is the namespace of the parameters AWS publishes.
//
// https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters.html
const publicParameters = "/aws/service/"

// simulated reports whether a call belongs to the simulator: every call of
// the services it simulates, except SSM's calls on an account's own
// parameters. The simulator publishes AWS's public parameters; an
// account's own, such as the one template.yaml declares, are plain storage
// that moto keeps.
func simulated(svc string, input any) bool {
	if _, ok := services[svc]; !ok {
		return false
	}
	if svc != ssmID {
		return true
	}
	var names []string
	switch in := input.(type) {
	case *ssm.GetParameterInput:
		names = []string{aws.ToString(in.Name)}
	case *ssm.GetParametersInput:
		names = in.Names
	case *ssm.GetParametersByPathInput:
		names = []string{aws.ToString(in.Path)}
	}
	for _, n := range names {
		if !strings.HasPrefix(n, publicParameters) {
			return false
		}
	}
	return len(names) > 0
}

func callRemote(ctx context.Context, client *http.Client, base, svc, op string, input any) (any, string, error) {
	types, ok := opTypes[opKey{svc, op}]
	if !ok {
		return nil, "", unsupported(svc, op)
	}
	body, err := json.Marshal(input)
	if err != nil {
		return nil, "", fmt.Errorf("encoding %s %s input: %w", svc, op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+url.PathEscape(svc)+"/"+url.PathEscape(op), bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("reaching the simulator: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("reading the simulator's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e remoteError
		if err := json.Unmarshal(raw, &e); err != nil || e.Code == "" {
			return nil, "", fmt.Errorf("the simulator answered %d: %s", resp.StatusCode, raw)
		}
		fault := smithy.FaultClient
		if e.Fault == smithy.FaultServer.String() {
			fault = smithy.FaultServer
		}
		return nil, e.RequestID, wrapResponseError(e.RequestID, &smithy.GenericAPIError{Code: e.Code, Message: e.Message, Fault: fault})
	}
	out := reflect.New(types.out)
	if err := json.Unmarshal(raw, out.Interface()); err != nil {
		return nil, "", fmt.Errorf("decoding %s %s output: %w", svc, op, err)
	}
	return out.Interface(), resp.Header.Get("X-Amzn-Requestid"), nil
}
