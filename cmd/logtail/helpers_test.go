package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// Binaries built once by TestMain.
var (
	daemonBin string
	cliBin    string
)

// TestMain builds logtaild and logtail once into a temporary folder, runs
// the tests, and fails them if any goroutine is left over: every stream,
// retry loop and output goroutine of every run must be gone. The folder is
// removed after the check (testutil.VerifyNoLeaks exits: a deferred removal
// would never run).
func TestMain(m *testing.M) {
	dir, err := buildBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	testutil.VerifyNoLeaks(m, func() { os.RemoveAll(dir) })
}

// buildBinaries builds daemonBin and cliBin into a new temporary folder,
// which it returns.
func buildBinaries() (string, error) {
	dir, err := os.MkdirTemp("", "logtail-test-")
	if err != nil {
		return "", err
	}
	daemonBin = filepath.Join(dir, "logtaild")
	cliBin = filepath.Join(dir, "logtail")
	for bin, pkg := range map[string]string{daemonBin: "../logtaild", cliBin: "."} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return dir, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir, nil
}

// daemon is a real logtaild subprocess on 127.0.0.1.
type daemon struct {
	t    *testing.T
	addr string
	root string
	cmd  *exec.Cmd
	log  *testutil.SyncBuffer
	done chan struct{}
}

// freeAddr finds a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startDaemon runs logtaild on addr ("" for a free port) serving root ("" for
// a new temporary directory), and stops it at the end of the test.
func startDaemon(t *testing.T, addr, root string) *daemon {
	t.Helper()
	return startDaemonWith(t, addr, root)
}

// startDaemonWith is startDaemon with more flags for logtaild.
func startDaemonWith(t *testing.T, addr, root string, flags ...string) *daemon {
	t.Helper()
	if addr == "" {
		addr = freeAddr(t)
	}
	if root == "" {
		root = t.TempDir()
	}
	d := &daemon{t: t, addr: addr, root: root, log: &testutil.SyncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(daemonBin, append([]string{"--addr", addr, "--root", root, "--poll-interval", "100ms", "--rotate-grace", "200ms"}, flags...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // owned by d: ends when the process does
		d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("logtaild output:\n%s", d.log.String())
		}
	})
	testutil.WaitFor(t, "logtaild /healthz", 10*time.Second, func() bool {
		select {
		case <-d.done:
			t.Fatalf("logtaild exited:\n%s", d.log.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return d
}

// stop ends the daemon with SIGTERM, as an operator would, and waits.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		d.t.Error("logtaild did not stop on SIGTERM")
	}
}

// url is the ws URL of a file in the daemon's root.
func (d *daemon) url(name string) string {
	return "ws://" + d.addr + filepath.Join(d.root, name)
}

// write creates a file in the root.
func (d *daemon) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(d.root, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// appendTo appends to a file.
func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// env makes a getenv from pairs.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// cli is a run of logtail in this process.
type cli struct {
	stdout, stderr testutil.SyncBuffer
	cancel         context.CancelFunc
	done           chan struct{}
	err            error
}

// startCLI runs logtail's run in a goroutine; stop or wait ends it.
func startCLI(t *testing.T, getenv func(string) string, args ...string) *cli {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &cli{cancel: cancel, done: make(chan struct{})}
	go func() { // owned by c: wait and stop end it
		defer close(c.done)
		c.err = run(ctx, args, getenv, strings.NewReader(""), &c.stdout, &c.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

// wait waits for run to return.
func (c *cli) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(timeout):
		t.Fatalf("logtail still running after %s\nstdout:\n%s\nstderr:\n%s", timeout, c.stdout.String(), c.stderr.String())
		return nil
	}
}

// runCLI runs logtail to its end.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	c := startCLI(t, getenv, args...)
	err = c.wait(t, 20*time.Second)
	return c.stdout.String(), c.stderr.String(), err
}

// runBin runs the built logtail (cliBin) with args to its end, with env as
// its environment (nil: the test's), and returns what it printed and its
// exit status.
func runBin(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	cmd := exec.Command(cliBin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = &out, &errOut, env
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}
