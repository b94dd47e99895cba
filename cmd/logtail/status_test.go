package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// TestStatusOnSIGUSR1 sends the real signal to a real logtail: it prints
// each source's state on stderr and goes on; SIGTERM then ends it cleanly.
func TestStatusOnSIGUSR1(t *testing.T) {
	d := startDaemonWith(t, "", "", "--name", "web-1")
	logFile := d.write(t, "app.log", "one\ntwo\n")
	missing := startDaemon(t, "", "") // a file not there yet: retried
	var stdout, stderr testutil.SyncBuffer
	cmd := exec.Command(cliBin, "-F", "-n", "2", d.url("app.log"), missing.url("later.log"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { // ends with the process
		waitErr = cmd.Wait()
		close(done)
	}()
	defer func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	}()
	testutil.WaitFor(t, "the last lines", 10*time.Second, func() bool { return strings.Count(stdout.String(), "\n") == 2 })
	testutil.WaitFor(t, "the retry of the missing file", 10*time.Second, func() bool { return strings.Contains(stderr.String(), "404") })

	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the status view", 10*time.Second, func() bool {
		return strings.Count(stderr.String(), "\nlogtail:   ") >= 2
	})
	view := stderr.String()[strings.Index(stderr.String(), "logtail: status of 2 sources:\n"):]
	if row := statusRow(t, view, d.url("app.log")); !strings.HasPrefix(row, "logtail:   web-1 ") ||
		!strings.Contains(row, "  connected  ") || !strings.Contains(row, "  2 lines  0 gaps") {
		t.Errorf("row %q: want web-1, connected, 2 lines, 0 gaps", row)
	}
	if row := statusRow(t, view, missing.url("later.log")); !strings.Contains(row, "retrying: 404 Not Found: no such file") ||
		!strings.Contains(row, "  0 lines  0 gaps") {
		t.Errorf("row %q: want retrying with its 404, 0 lines", row)
	}
	select {
	case <-done:
		t.Fatalf("logtail ended on SIGUSR1: %v\n%s", waitErr, stderr.String())
	default:
	}
	appendTo(t, logFile, "three\n")
	testutil.WaitFor(t, "a line after the status view", 10*time.Second, func() bool { return strings.Count(stdout.String(), "\n") == 3 })
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("SIGTERM: %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logtail did not end on SIGTERM")
	}
}

// TestStatusAtExit: --status prints the view once every stream has ended,
// after the lines, with what ended each.
func TestStatusAtExit(t *testing.T) {
	d := startDaemonWith(t, "", "", "--name", "web-1")
	d.write(t, "app.log", "one\ntwo\nthree\n")
	stdout, stderr, err := runCLI(t, env(), "--status", "-n", "2", d.url("app.log"), d.url("nothere.log"))
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1: a file is missing", exitCode(err), err)
	}
	if strings.Count(stdout, "\n") != 2 {
		t.Errorf("stdout %q", stdout)
	}
	view := stderr[strings.Index(stderr, "logtail: status of 2 sources:\n"):]
	if row := statusRow(t, view, d.url("app.log")); !strings.Contains(row, "web-1") || !strings.Contains(row, "  ended  ") ||
		!strings.Contains(row, "  2 lines  0 gaps") {
		t.Errorf("row %q: want web-1, ended, 2 lines", row)
	}
	if row := statusRow(t, view, d.url("nothere.log")); !strings.Contains(row, "ended: 404 Not Found: no such file") {
		t.Errorf("row %q: want ended with its 404", row)
	}
}
