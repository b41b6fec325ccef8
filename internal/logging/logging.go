// Package logging builds the process's slog logger: JSON to stdout by
// default, honouring the Lambda advanced logging controls, with the request ID
// of the current invocation on every record.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Options selects the level and format. The Lambda service sets
// AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT from the function's logging
// configuration; the zero value means INFO and JSON.
type Options struct {
	Level  string `env:"AWS_LAMBDA_LOG_LEVEL" default:"INFO"`
	Format string `env:"AWS_LAMBDA_LOG_FORMAT" default:"JSON"`
}

// New returns a logger writing to w.
func New(w io.Writer, opts Options) *slog.Logger {
	ho := &slog.HandlerOptions{Level: ParseLevel(opts.Level)}
	var h slog.Handler
	if strings.EqualFold(opts.Format, "text") {
		h = slog.NewTextHandler(w, ho)
	} else {
		h = slog.NewJSONHandler(w, ho)
	}
	return slog.New(contextHandler{h})
}

// ParseLevel maps Lambda's level names, including TRACE and FATAL, onto slog
// levels. Unknown names mean INFO.
func ParseLevel(s string) slog.Level {
	switch strings.ToUpper(s) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

type ctxKey struct{}

// WithAttrs returns a context whose log records carry attrs, for example the
// deployment ID once a handler knows it.
func WithAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(ctxKey{}).([]slog.Attr)
	all := append(append([]slog.Attr(nil), prev...), attrs...)
	return context.WithValue(ctx, ctxKey{}, all)
}

// contextHandler adds the invocation's request ID and any attributes stored
// with WithAttrs.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("request_id", lc.AwsRequestID))
	}
	if attrs, ok := ctx.Value(ctxKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
