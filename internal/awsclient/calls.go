package awsclient

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/smithy-go/middleware"
)

// Calls counts the AWS operations made through the clients it is attached
// to, split into reads and mutations. A second build of an unchanged stack
// must count zero mutations, and the CLI reports both figures.
type Calls struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewCalls returns an empty counter.
func NewCalls() *Calls { return &Calls{counts: map[string]int{}} }

// IsRead reports whether an operation only reads, by AWS's naming
// convention: Describe, List and Get, and DynamoDB's Query, Scan and
// BatchGetItem.
func IsRead(operation string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Query", "Scan", "BatchGet"} {
		if strings.HasPrefix(operation, p) {
			return true
		}
	}
	return false
}

// Middleware returns the option that counts each operation once per call,
// not once per retry attempt. Add it to aws.Config.APIOptions.
func (c *Calls) Middleware() func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("ecsplaneCountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := middleware.GetServiceID(ctx) + ":" + middleware.GetOperationName(ctx)
				c.mu.Lock()
				c.counts[op]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// Mutations returns the mutating operations and how often each was called.
func (c *Calls) Mutations() map[string]int { return c.filter(false) }

// Reads returns the read operations and how often each was called.
func (c *Calls) Reads() map[string]int { return c.filter(true) }

func (c *Calls) filter(read bool) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for op, n := range c.counts {
		_, name, _ := strings.Cut(op, ":")
		if IsRead(name) == read {
			out[op] = n
		}
	}
	return out
}

// Total sums counts.
func Total(counts map[string]int) int {
	n := 0
	for _, v := range counts {
		n += v
	}
	return n
}

// Reset forgets every count.
func (c *Calls) Reset() {
	c.mu.Lock()
	c.counts = map[string]int{}
	c.mu.Unlock()
}
