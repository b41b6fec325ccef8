package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Gateway stands where moto expects the Lambda service: it answers
// invocations of registered functions by calling their Go handlers in
// process, and proxies every other request to moto.
type Gateway struct {
	listener net.Listener
	srv      *http.Server
	mux      *http.ServeMux
	upstream atomic.Pointer[httputil.ReverseProxy]

	mu    sync.RWMutex
	fns   map[string]lambda.Handler
	calls map[string]int
	seq   atomic.Int64
}

// Invocation is what a scripted function receives.
type Invocation struct {
	Function string
	Payload  json.RawMessage
}

// NewGateway listens on a free loopback port. Call SetUpstream before
// sending it anything but Lambda invocations.
func NewGateway() (*Gateway, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gateway listen: %w", err)
	}
	g := &Gateway{listener: l, fns: map[string]lambda.Handler{}, calls: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", g.invoke)
	mux.HandleFunc("/", g.forward)
	g.srv, g.mux = &http.Server{Handler: mux}, mux
	go func() { _ = g.srv.Serve(l) }()
	return g, nil
}

// Port is the gateway's port, for moto's MOTO_PORT.
func (g *Gateway) Port() int { return g.listener.Addr().(*net.TCPAddr).Port }

// Endpoint is the gateway's base URL.
func (g *Gateway) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", g.Port()) }

// SetUpstream sets the moto server that receives everything else.
func (g *Gateway) SetUpstream(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("parsing upstream %q: %w", endpoint, err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// A caller that gave up (a long poll cancelled at shutdown) needs
		// no answer and no log line.
		if r.Context().Err() == nil {
			http.Error(w, "gateway: "+err.Error(), http.StatusBadGateway)
		}
	}
	g.upstream.Store(p)
	return nil
}

// Register serves the function name with handler, which has any signature
// lambda.Start accepts.
func (g *Gateway) Register(name string, handler any) {
	g.RegisterHandler(name, lambda.NewHandler(handler))
}

// RegisterHandler serves the function name with h.
func (g *Gateway) RegisterHandler(name string, h lambda.Handler) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fns[name] = h
}

// Handle serves pattern with h, next to the Lambda API: how a kept local
// environment serves its simulator to other processes.
func (g *Gateway) Handle(pattern string, h http.Handler) { g.mux.Handle(pattern, h) }

// Registered reports whether the gateway serves the function name.
func (g *Gateway) Registered(name string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.fns[name]
	return ok
}

// Invocations returns how many times the function was invoked.
func (g *Gateway) Invocations(name string) int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.calls[name]
}

// TotalInvocations returns the number of invocations of all functions.
func (g *Gateway) TotalInvocations() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := 0
	for _, c := range g.calls {
		n += c
	}
	return n
}

// Close stops the gateway.
func (g *Gateway) Close() error { return g.srv.Close() }

// FunctionName extracts the function name from what a caller may pass as
// FunctionName: a name, a partial or full ARN, with or without a qualifier.
func FunctionName(ref string) string {
	if i := strings.Index(ref, "function:"); i >= 0 {
		ref = ref[i+len("function:"):]
	}
	if i := strings.Index(ref, ":"); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request) {
	name := FunctionName(r.PathValue("name"))
	g.mu.Lock()
	h, ok := g.fns[name]
	if ok {
		g.calls[name]++
	}
	g.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": "Function not found: " + name})
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	reqID := fmt.Sprintf("%s-%08d", name, g.seq.Add(1))
	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: reqID, InvokedFunctionArn: r.PathValue("name")})
	out, err := safeInvoke(ctx, h, payload)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Header().Set("X-Amzn-Requestid", reqID)
	if err != nil {
		// The same errorType/errorMessage the Lambda runtime reports, which
		// Step Functions matches in Retry and Catch.
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_ = json.NewEncoder(w).Encode(errorResponse(err))
		return
	}
	_, _ = w.Write(out)
}

// safeInvoke turns a handler panic into an error named after the panic
// value's type, as the Lambda runtime reports it, instead of crashing the
// whole environment.
func safeInvoke(ctx context.Context, h lambda.Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = messages.InvokeResponse_Error{Type: typeName(p), Message: fmt.Sprint(p)}
		}
	}()
	return h.Invoke(ctx, payload)
}

type lambdaError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func errorResponse(err error) lambdaError {
	var ire messages.InvokeResponse_Error
	if errors.As(err, &ire) {
		return lambdaError{ErrorType: ire.Type, ErrorMessage: ire.Message}
	}
	return lambdaError{ErrorType: typeName(err), ErrorMessage: err.Error()}
}

// typeName is the Lambda runtime's name for an error's type: the type's
// name, without the pointer.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func (g *Gateway) forward(w http.ResponseWriter, r *http.Request) {
	p := g.upstream.Load()
	if p == nil {
		http.Error(w, "gateway has no upstream", http.StatusServiceUnavailable)
		return
	}
	p.ServeHTTP(w, r)
}
