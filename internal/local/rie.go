package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RIEVersion is the aws-lambda-rie module version scripts/setup.sh installs.
const RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// BuildBootstrap builds a function's package the way the Makefile does, but
// for this machine's architecture so it can run here, and returns the path
// of the bootstrap.
func BuildBootstrap(ctx context.Context, repoRoot, pkg, outDir string) (string, error) {
	out := filepath.Join(outDir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// RIE is a bootstrap running under the Lambda Runtime Interface Emulator,
// the same runtime API a function gets on Lambda.
type RIE struct {
	// URL is the function's invocation URL.
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// syncBuffer is the emulator's output, written by the process's output
// copier while the caller reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FindRIE returns the path of aws-lambda-rie: on PATH or in Go's bin
// directory.
func FindRIE() (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	gobin, _ := exec.Command("go", "env", "GOBIN").Output()
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	for _, dir := range []string{strings.TrimSpace(string(gobin)), filepath.Join(strings.TrimSpace(string(gopath)), "bin")} {
		p := filepath.Join(dir, "aws-lambda-rie")
		if _, err := os.Stat(p); dir != "" && err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("aws-lambda-rie not found: run `go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@%s` (scripts/setup.sh does)", RIEVersion)
}

// StartRIE runs bootstrap under the emulator with the given environment
// (KEY=VALUE entries) added to a minimal one.
func StartRIE(bootstrap string, env []string) (*RIE, error) {
	rie, err := FindRIE()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	// The runtime API's own port, 9001 unless set, would keep two
	// emulators, in one test process or in two, from running at once.
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	// At info level the emulator reports each init's duration.
	cmd := exec.Command(rie, "--log-level", "info", "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(port),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort), bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting aws-lambda-rie: %w", err)
	}
	r := &RIE{URL: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(r.done) }()
	// Until the emulator listens, its port is free for the next FreePort
	// to hand out again.
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("aws-lambda-rie exited: %s", out.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on %s within 10s: %s", addr, out.String())
		}
	}
}

// Invoke sends payload and returns the response body and the function error
// header. It retries connection failures for up to timeout while the
// emulator starts.
func (r *RIE) Invoke(ctx context.Context, payload []byte, timeout time.Duration) ([]byte, string, error) {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(payload))
		if err != nil {
			return nil, "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return b, resp.Header.Get("X-Amz-Function-Error"), err
		}
		select {
		case <-r.done:
			return nil, "", fmt.Errorf("aws-lambda-rie exited: %s", r.out.String())
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, "", fmt.Errorf("aws-lambda-rie did not answer within %s: %w", timeout, err)
		}
	}
}

// Output is what the emulator and the function printed so far.
func (r *RIE) Output() string { return r.out.String() }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is the emulator's measure of the function's init: from
// starting the bootstrap to its first call to the runtime API. It is known
// once the first invocation has been answered; the emulator may print its
// report a moment after the answer, so it is awaited for up to a second.
func (r *RIE) InitDuration() (time.Duration, error) {
	m := initReport.FindStringSubmatch(r.out.String())
	for deadline := time.Now().Add(time.Second); m == nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		m = initReport.FindStringSubmatch(r.out.String())
	}
	if m == nil {
		return 0, fmt.Errorf("the emulator reported no init duration: %s", r.out.String())
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("init duration %q: %w", m[1], err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// Stop terminates the emulator and the function.
func (r *RIE) Stop() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
}
