// Package local is the embedded AWS environment: a moto server with its Step
// Functions engine switched on, and a gateway that answers the engine's
// Lambda invocations with this project's handlers, in process.
package local

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed moto_launcher.py
var launcher []byte

// MotoOptions configures StartMoto.
type MotoOptions struct {
	// Python is the interpreter with moto[server]==5.2.1; "python3" if empty.
	Python string
	// Port is the port moto listens on; a free one is chosen if zero.
	Port int
	// LambdaPort is where moto sends Lambda invocations made by the Step
	// Functions engine (moto's MOTO_PORT). Zero means moto's own port.
	LambdaPort int
	// Log receives moto's output; discarded if nil.
	Log io.Writer
}

// Moto is a running moto server.
type Moto struct {
	// Endpoint is the server's base URL, for AWS_ENDPOINT_URL.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
	dir      string
}

// ErrMotoMissing means the interpreter cannot import moto's server.
var ErrMotoMissing = errors.New("moto server is not installed: run `pip install 'moto[server]==5.2.1'` (the tests need it and never skip without it)")

// StartMoto starts a moto server and waits until it answers.
func StartMoto(ctx context.Context, opts MotoOptions) (*Moto, error) {
	python := opts.Python
	if python == "" {
		python = "python3"
	}
	if out, err := exec.CommandContext(ctx, python, "-c", "import moto.server, moto.stepfunctions.models; print(moto.__version__)").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w (%s: %s)", ErrMotoMissing, python, strings.TrimSpace(string(out)))
	}
	port := opts.Port
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	dir, err := os.MkdirTemp("", "moto-")
	if err != nil {
		return nil, fmt.Errorf("creating moto directory: %w", err)
	}
	script := filepath.Join(dir, "moto_launcher.py")
	if err := os.WriteFile(script, launcher, 0o600); err != nil {
		return nil, fmt.Errorf("writing moto launcher: %w", err)
	}
	lambdaPort := opts.LambdaPort
	if lambdaPort == 0 {
		lambdaPort = port
	}
	cmd := exec.Command(python, script, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MOTO_PORT="+strconv.Itoa(lambdaPort), "PYTHONUNBUFFERED=1")
	// moto dies with the process that started it, even if that one is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	tail := &limitedBuffer{max: 8 << 10}
	out := io.Writer(tail)
	if opts.Log != nil {
		out = io.MultiWriter(out, opts.Log)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting moto: %w", err)
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{}), dir: dir}
	go func() { _ = cmd.Wait(); close(m.done) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := ping(ctx, m.Endpoint); err == nil {
			return m, nil
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("moto exited during start-up: %s", tail.String())
		case <-ctx.Done():
			m.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Stop()
			return nil, fmt.Errorf("moto did not answer on %s within 60s: %s", m.Endpoint, tail.String())
		}
	}
}

func ping(ctx context.Context, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/moto-api/data.json", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto answered %d", resp.StatusCode)
	}
	return nil
}

// Stop terminates the server and removes its files.
func (m *Moto) Stop() {
	if m == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	_ = os.RemoveAll(m.dir)
}

// EnableStepFunctionsExecution switches on moto's Step Functions engine, so
// executions run their definitions instead of only being recorded.
func EnableStepFunctionsExecution(ctx context.Context, endpoint string) error {
	body := strings.NewReader(`{"stepfunctions":{"execute_state_machine":true}}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/moto-api/config", body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("enabling Step Functions execution: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("enabling Step Functions execution: moto answered %d: %s", resp.StatusCode, b)
	}
	return nil
}

// FreePort returns a TCP port on the loopback interface that was free a
// moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// limitedBuffer keeps the last output of a child process for error
// messages. The process's output copier writes it while the starter may
// read it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if over := l.buf.Len() - l.max; over > 0 {
		l.buf.Next(over)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
