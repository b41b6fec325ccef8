package local_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ecsplane/ecsplane/internal/local"
)

func loadTemplate(t *testing.T) *local.Template {
	t.Helper()
	tmpl, err := local.LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestTemplateGlobals(t *testing.T) {
	tmpl := loadTemplate(t)
	var runtime, handler string
	var arch []string
	for name, out := range map[string]any{"Runtime": &runtime, "Handler": &handler, "Architectures": &arch} {
		if err := tmpl.Global("Function", name, out); err != nil {
			t.Fatal(err)
		}
	}
	if runtime != "provided.al2023" || handler != "bootstrap" || len(arch) != 1 || arch[0] != "arm64" {
		t.Fatalf("globals: runtime=%s handler=%s architectures=%v", runtime, handler, arch)
	}
}

func TestLedgerTableSchema(t *testing.T) {
	in, err := loadTemplate(t).CreateTableInput(local.LedgerTableID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if in.BillingMode != "PAY_PER_REQUEST" || len(in.KeySchema) != 2 || *in.KeySchema[0].AttributeName != "pk" || *in.KeySchema[1].AttributeName != "sk" {
		t.Fatalf("table = %+v", in)
	}
	var sse struct {
		SSEEnabled bool `yaml:"SSEEnabled"`
	}
	var pitr struct {
		PointInTimeRecoveryEnabled bool `yaml:"PointInTimeRecoveryEnabled"`
	}
	tmpl := loadTemplate(t)
	if err := tmpl.Property(local.LedgerTableID, "SSESpecification", &sse); err != nil || !sse.SSEEnabled {
		t.Errorf("table encryption: %+v %v", sse, err)
	}
	if err := tmpl.Property(local.LedgerTableID, "PointInTimeRecoverySpecification", &pitr); err != nil || !pitr.PointInTimeRecoveryEnabled {
		t.Errorf("point-in-time recovery: %+v %v", pitr, err)
	}
}

// TestFunctionBuildTargets builds every function the way `sam build` does,
// through its build-<LogicalId> Makefile target, and checks the result is a
// static, stripped arm64 executable named bootstrap.
func TestFunctionBuildTargets(t *testing.T) {
	tmpl := loadTemplate(t)
	ids := tmpl.ResourcesOfType("AWS::Serverless::Function")
	if len(ids) == 0 {
		t.Fatal("template has no functions")
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			var method string
			if err := tmpl.Metadata(id, "BuildMethod", &method); err != nil || method != "makefile" {
				t.Fatalf("Metadata.BuildMethod = %q (%v), want makefile", method, err)
			}
			dir := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+dir)
			cmd.Dir = "../.."
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, out)
			}
			path := filepath.Join(dir, "bootstrap")
			f, err := elf.Open(path)
			if err != nil {
				t.Fatalf("bootstrap is not an ELF file: %v", err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 {
				t.Errorf("machine = %v, want arm64", f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("bootstrap is dynamically linked")
				}
			}
			if f.Section(".symtab") != nil {
				t.Error("bootstrap is not stripped")
			}
			st, _ := os.Stat(path)
			t.Logf("%s: %d bytes", id, st.Size())
		})
	}
}
