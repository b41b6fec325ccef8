package ledger_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// The sample events must stay valid record requests: they are what
// `sam local invoke RecordFunction -e` sends.
func TestRecordEventFixtures(t *testing.T) {
	paths, err := filepath.Glob("../../events/record-*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no record fixtures found (%v)", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var req ledger.RecordRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := req.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func FuzzRecordRequest(f *testing.F) {
	paths, _ := filepath.Glob("../../events/record-*.json")
	for _, p := range paths {
		raw, _ := os.ReadFile(p)
		f.Add(raw)
	}
	f.Add([]byte(`{"kind":"build"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req ledger.RecordRequest
		if json.Unmarshal(raw, &req) != nil {
			return
		}
		err := req.Validate()
		complete := req.Subject != "" && req.Action != "" && req.Outcome != "" &&
			(req.Kind == ledger.KindBuild || req.Kind == ledger.KindTeardown || req.Kind == ledger.KindRemediation || req.Kind == ledger.KindLifecycle)
		if (err == nil) != complete {
			t.Fatalf("Validate(%+v) = %v, complete = %v", req, err, complete)
		}
	})
}
