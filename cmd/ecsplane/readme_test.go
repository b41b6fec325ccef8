package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/local"
)

// readmeBlock is the shell block of README.md that follows marker.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), marker)
	if !ok {
		t.Fatalf("README.md has no %s", marker)
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatalf("no shell block after %s", marker)
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}

// TestREADMEPlainMotoSequence runs the README's plain-moto command sequence
// as written, with the ecsplane it builds and the AWS CLI, against a plain
// moto server of its own (moto's own server, without the project's
// launcher), the port aside. The sequence ends with a clear outcome within
// its timeout: the first apply stops at its 30 s timeout saying why moto
// never balances the group's zones, exit code 1; the rest builds and tears
// the stack down.
func TestREADMEPlainMotoSequence(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the AWS CLI is missing: `pip install awscli` (scripts/setup.sh installs it)")
	}
	python := os.Getenv(awstest.PythonEnv)
	if python == "" {
		python = "python3"
	}
	port, err := local.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	moto := exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	moto.Stdout, moto.Stderr = nil, nil
	if err := moto.Start(); err != nil {
		t.Fatalf("starting moto's server: %v", err)
	}
	t.Cleanup(func() { _ = moto.Process.Kill(); _ = moto.Wait() })
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(endpoint + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("moto's server did not answer on %s: %v", endpoint, err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "ecsplane"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ecsplane: %v\n%s", err, out)
	}

	script := strings.ReplaceAll(readmeBlock(t, "<!-- plain-moto -->"), "http://127.0.0.1:5000", endpoint)
	sh := exec.Command("bash", "-c", script)
	sh.Dir = dir
	// Nothing of the test process's AWS or ecsplane settings reaches the
	// sequence: it sets what it needs, as a user's shell would.
	sh.Env = []string{"PATH=" + filepath.Dir(aws) + ":" + os.Getenv("PATH"), "HOME=" + dir}
	out, err := sh.CombinedOutput()
	got := string(out)
	if err != nil {
		t.Fatalf("the sequence failed: %v\n%s", err, got)
	}
	for _, want := range []string{
		"preflight: 9 checks passed\n",
		"  still waiting for asg after 20s: all 2 InService instances are in [us-east-1a] and none is in [us-east-1b]: Auto Scaling balances a group across its zones",
		"(moto does) never balances",
		"ecsplane: gave up after 30s (--timeout) waiting for asg: no InService instance in [us-east-1b] (us-east-1a=2 us-east-1b=0)",
		"apply: exit code 1\n",
		"load balancer DNS name: web-alb-",
		"create  IN_PROGRESS",
		"stack web: destroyed, ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}
