package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestJSONWithRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Options{Level: "INFO", Format: "JSON"})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	ctx = WithAttrs(ctx, slog.String("deployment_id", "d-1"))
	log.DebugContext(ctx, "hidden")
	log.InfoContext(ctx, "created vpc", "vpc_id", "vpc-1")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want 1 line (debug filtered), got %d: %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for k, want := range map[string]string{"msg": "created vpc", "request_id": "req-123", "deployment_id": "d-1", "vpc_id": "vpc-1", "level": "INFO"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %s", k, rec[k], want)
		}
	}
}

func TestLevelsAndText(t *testing.T) {
	for in, want := range map[string]slog.Level{"TRACE": slog.LevelDebug, "debug": slog.LevelDebug, "WARN": slog.LevelWarn, "FATAL": slog.LevelError, "": slog.LevelInfo} {
		if got := ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
	}
	var buf bytes.Buffer
	New(&buf, Options{Level: "DEBUG", Format: "Text"}).Debug("x", "k", "v")
	if !strings.Contains(buf.String(), "level=DEBUG") || !strings.Contains(buf.String(), "k=v") {
		t.Fatalf("text output = %q", buf.String())
	}
}
