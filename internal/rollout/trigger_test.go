package rollout_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/rollout"
)

var testConfig = rollout.Config{
	ImageRepository: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web", TagPrefix: "v", ExcludedTags: []string{"latest"},
	BakeSeconds: 600, ECSWaitSeconds: 1800, PollSeconds: 30, GateTimeoutSeconds: 1800,
}

const goodDigest = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678"

// pushEvent is events/ecr-image-action-push.json, the documented example,
// with fields set.
func pushEvent(t testing.TB, set map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(awstest.RepoRoot(t), "events", "ecr-image-action-push.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	detail["repository-name"], detail["image-tag"] = "web", "v1.2.0"
	for k, v := range set {
		if d, ok := strings.CutPrefix(k, "detail."); ok {
			if v == nil {
				delete(detail, d)
			} else {
				detail[d] = v
			}
			continue
		}
		ev[k] = v
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseTrigger(t *testing.T) {
	tr, err := rollout.ParseTrigger(pushEvent(t, nil), testConfig)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Digest != goodDigest || tr.Image != testConfig.ImageRepository+"@"+goodDigest || tr.Tag != "v1.2.0" || tr.Cause != ledger.CauseImage ||
		tr.EventID != "13cde686-328b-6117-af20-0e5566167482" || !tr.At.Equal(time.Date(2019, 11, 16, 1, 54, 34, 0, time.UTC)) {
		t.Fatalf("trigger %+v", tr)
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	req, _ := json.Marshal(map[string]any{"request": rollout.Request{Digest: goodDigest, Cause: ledger.CauseRollback, ID: "r-1", At: at}})
	tr, err = rollout.ParseTrigger(req, testConfig)
	if err != nil || tr.Cause != ledger.CauseRollback || tr.EventID != "r-1" || !tr.At.Equal(at) || tr.Image != testConfig.ImageRepository+"@"+goodDigest {
		t.Fatalf("request trigger %+v %v", tr, err)
	}
}

// TestParseTriggerRefuses checks every kind of input that starts no
// rollout: each is refused with its own reason, as an InvalidInputError
// at the handler boundary.
func TestParseTriggerRefuses(t *testing.T) {
	req := func(r rollout.Request) []byte {
		b, _ := json.Marshal(map[string]any{"request": r})
		return b
	}
	tests := []struct {
		name   string
		raw    []byte
		reason rollout.Reason
		detail string
	}{
		{"garbage", []byte("{not json"), rollout.ReasonMalformed, "not a JSON object"},
		{"JSON that is not an object", []byte(`["aws.ecr"]`), rollout.ReasonMalformed, "not a JSON object"},
		{"another kind of event", []byte(`{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{}}`), rollout.ReasonMalformed, "neither a request"},
		{"another repository", pushEvent(t, map[string]any{"detail.repository-name": "api"}), rollout.ReasonOtherRepository, `"api", not "web"`},
		{"a delete", pushEvent(t, map[string]any{"detail.action-type": "DELETE"}), rollout.ReasonNotAPush, "DELETE"},
		{"a failed push", pushEvent(t, map[string]any{"detail.result": "FAILURE"}), rollout.ReasonFailedPush, "FAILURE"},
		{"a missing digest", pushEvent(t, map[string]any{"detail.image-digest": nil}), rollout.ReasonMissingDigest, "no image-digest"},
		{"an abbreviated digest", pushEvent(t, map[string]any{"detail.image-digest": "sha256:7f5b"}), rollout.ReasonMalformed, "image-digest"},
		{"no tag", pushEvent(t, map[string]any{"detail.image-tag": nil}), rollout.ReasonFilteredTag, "without a tag"},
		{"latest", pushEvent(t, map[string]any{"detail.image-tag": "latest"}), rollout.ReasonFilteredTag, `"latest" does not start with "v"`},
		{"without the prefix", pushEvent(t, map[string]any{"detail.image-tag": "1.2.0"}), rollout.ReasonFilteredTag, "does not start"},
		{"an event without an id", pushEvent(t, map[string]any{"id": ""}), rollout.ReasonMalformed, "id is missing"},
		{"a request by tag", req(rollout.Request{Digest: "v1.2.0", Cause: ledger.CauseDeploy, ID: "r", At: time.Now()}), rollout.ReasonBadRequest, "not sha256"},
		{"a request of another cause", req(rollout.Request{Digest: goodDigest, Cause: ledger.CauseTemplate, ID: "r", At: time.Now()}), rollout.ReasonBadRequest, "cause"},
		{"a request without an id", req(rollout.Request{Digest: goodDigest, Cause: ledger.CauseDeploy}), rollout.ReasonBadRequest, "needs an id"},
	}
	for _, tt := range tests {
		_, err := rollout.ParseTrigger(tt.raw, testConfig)
		var rej *rollout.RejectedError
		if !errors.As(err, &rej) || rej.Reason != tt.reason || !strings.Contains(rej.Detail, tt.detail) {
			t.Errorf("%s: %v, want %s with %q", tt.name, err, tt.reason, tt.detail)
			continue
		}
		var inv *handlererr.InvalidInputError
		if !errors.As(error(rej.Invalid()), &inv) || !strings.HasPrefix(inv.Error(), "invalid input: "+string(tt.reason)+": ") {
			t.Errorf("%s: at the boundary %v", tt.name, rej.Invalid())
		}
	}
	noPrefix := testConfig
	noPrefix.TagPrefix = ""
	if _, err := rollout.ParseTrigger(pushEvent(t, map[string]any{"detail.image-tag": "1.2.0"}), noPrefix); err != nil {
		t.Errorf("without a prefix every tag but latest rolls out: %v", err)
	}
	if _, err := rollout.ParseTrigger(pushEvent(t, map[string]any{"detail.image-tag": "latest"}), noPrefix); err == nil {
		t.Error("without a prefix, latest rolled out")
	}
}

// FuzzParseTrigger feeds the parser mutations of a push and a request:
// it never panics, and what it accepts is a push or request it can pin.
func FuzzParseTrigger(f *testing.F) {
	f.Add(pushEvent(f, nil))
	f.Add(pushEvent(f, map[string]any{"detail.image-tag": "latest"}))
	f.Add(pushEvent(f, map[string]any{"detail.image-digest": nil}))
	req, _ := json.Marshal(map[string]any{"request": rollout.Request{Digest: goodDigest, Cause: ledger.CauseDeploy, ID: "r", At: time.Now()}})
	f.Add(req)
	f.Add([]byte(`{"request":null,"source":"aws.ecr"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tr, err := rollout.ParseTrigger(raw, testConfig)
		if err != nil {
			var rej *rollout.RejectedError
			if !errors.As(err, &rej) || rej.Reason == "" {
				t.Fatalf("an untyped refusal: %v", err)
			}
			return
		}
		if !strings.HasPrefix(tr.Digest, "sha256:") || len(tr.Digest) != len(goodDigest) || tr.Image != testConfig.ImageRepository+"@"+tr.Digest || tr.EventID == "" || tr.At.IsZero() {
			t.Fatalf("accepted %s as %+v", raw, tr)
		}
		if tr.Cause == ledger.CauseImage && (!strings.HasPrefix(tr.Tag, "v") || tr.Tag == "latest") {
			t.Fatalf("accepted the filtered tag %q", tr.Tag)
		}
	})
}
