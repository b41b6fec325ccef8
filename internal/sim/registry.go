package sim

import (
	"reflect"
	"sort"
)

// opKey names one API operation the way the SDK does: the client's ServiceID
// ("EC2", "Auto Scaling", "SSM", …) and the operation name.
type opKey struct {
	service, operation string
}

// handlerFunc answers one operation. It runs with Sim.mu held, receives the
// SDK's typed input (already validated by the SDK) and returns the typed
// output or an API error.
type handlerFunc func(s *Sim, input any) (any, error)

// service describes one simulated AWS service.
type service struct {
	// id is the SDK's ServiceID for the service.
	id string
	// throttleCode is the error code the service throttles with.
	throttleCode string
	// throttleMessage is the message that comes with it.
	throttleMessage string
}

// The registries are filled by init functions in the service files and only
// read afterwards.
var (
	handlers = map[opKey]handlerFunc{}
	services = map[string]service{}
	// opTypes are each operation's SDK input and output types, which the
	// remote endpoint decodes and encodes.
	opTypes = map[opKey]ioTypes{}
)

type ioTypes struct{ in, out reflect.Type }

// registerService declares a simulated service.
func registerService(svc service) {
	services[svc.id] = svc
}

// handle registers fn as the simulator's implementation of service's
// operation op. I and O are the SDK's input and output types, so a handler
// can neither accept nor return the wrong shape.
func handle[I, O any](svc, op string, fn func(*Sim, *I) (*O, error)) {
	opTypes[opKey{svc, op}] = ioTypes{reflect.TypeFor[I](), reflect.TypeFor[O]()}
	handlers[opKey{svc, op}] = func(s *Sim, input any) (any, error) {
		in, ok := input.(*I)
		if !ok || in == nil {
			return nil, apiError("InternalError", "simulator received %T for %s %s", input, svc, op)
		}
		out, err := fn(s, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = new(O)
		}
		return out, nil
	}
}

// Operations lists, sorted, the operations the simulator implements for the
// service with the given SDK ServiceID.
func Operations(service string) []string {
	var ops []string
	for k := range handlers {
		if k.service == service {
			ops = append(ops, k.operation)
		}
	}
	sort.Strings(ops)
	return ops
}

// unsupported is the answer to an operation the simulator does not implement.
func unsupported(service, op string) error {
	return apiError("UnsupportedOperation", "The simulator does not implement %s %s.", service, op)
}
