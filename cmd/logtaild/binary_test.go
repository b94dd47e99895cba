package main

import (
	"context"
	"debug/elf"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// TestBinary builds logtaild as the Dockerfile does (static, version stamped)
// and runs it as a process: what only a process can show.
func TestBinary(t *testing.T) {
	bin := testutil.BuildDaemon(t, "-s -w -X main.version=v9.8.7-test")

	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("not static: has %v", p.Type)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("links %v", libs)
		}
	})

	t.Run("unreadable file as nobody", func(t *testing.T) {
		// Root reads everything, and tests run as root in CI: run the daemon
		// as nobody to see a file it may not read refused (403), not hung.
		if os.Geteuid() != 0 {
			t.Skip("not root: TestHostileFiles/no_read_permission covers it in-process")
		}
		dir, err := os.MkdirTemp("", "logtaild-perm-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755) // nobody may enter it and run the binary
		nbin := filepath.Join(dir, "logtaild")
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(nbin, data, 0o755)
		secret := filepath.Join(dir, "secret.log")
		os.WriteFile(secret, []byte("secret\n"), 0o600)
		open := filepath.Join(dir, "open.log")
		os.WriteFile(open, []byte("open\n"), 0o644)
		cmd := exec.Command(nbin, "--addr", "127.0.0.1:0", "--log-format", "json", "--root", dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		_, addr := testutil.StartCmd(t, cmd)
		if got := testutil.DialStatus(t, "ws://"+addr+secret, nil); got != 403 {
			t.Errorf("unreadable file: %d, want 403", got)
		}
		got, err := testutil.ReadAll(t, testutil.DialOK(t, "ws://"+addr+open+"?format=text"))
		if got != "open\n" || !wsconn.IsClose(err, 1000) {
			t.Errorf("the readable file after: %q, %v", got, err)
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "--version").Output()
		if err != nil || string(out) != "logtaild v9.8.7-test\n" {
			t.Errorf("--version: %q %v", out, err)
		}
	})

	t.Run("SIGTERM closes streams with 1001 and exits 0", func(t *testing.T) {
		root := t.TempDir()
		p := filepath.Join(root, "app.log")
		if err := os.WriteFile(p, []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		const timeout = 3 * time.Second
		cmd, addr := testutil.StartBinary(t, bin, "--root", root, "--shutdown-timeout", timeout.String())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := wsconn.Dial(ctx, "ws://"+addr+p+"?tail=1", wsconn.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Next(); err != nil { // the last line: the stream is open
			t.Fatal(err)
		}
		sent := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if _, err := testutil.ReadAll(t, c); !wsconn.IsClose(err, wsconn.CodeGoingAway) {
			t.Errorf("stream ended with %v, want close 1001", err)
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("exit: %v, want 0", err)
			}
			if d := time.Since(sent); d > timeout {
				t.Errorf("took %v, more than --shutdown-timeout %v", d, timeout)
			}
		case <-time.After(timeout + 2*time.Second):
			cmd.Process.Kill()
			<-waited
			t.Fatal("still running after the shutdown timeout")
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		_, addr := testutil.StartBinary(t, bin, "--root", t.TempDir())
		hc := exec.Command(bin, "healthcheck")
		hc.Env = []string{"LOGTAILD_ADDR=" + addr}
		if out, err := hc.CombinedOutput(); err != nil {
			t.Errorf("healthcheck of a running daemon: %v %s", err, out)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String()
		ln.Close()
		out, err := exec.Command(bin, "healthcheck", "--addr", closed).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("healthcheck of a closed port: %v, want exit 1", err)
		}
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "unhealthy") {
			t.Errorf("want a one-line reason, got %q", out)
		}
	})
}
