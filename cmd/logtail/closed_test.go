package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestClosedStdoutIdle: logtail -f URL | head -1 on a log nobody writes
// to. Once head has its line and exits, logtail ends at once, as GNU
// tail -f does, without waiting for a line to fail to write, with the exit
// status its help gives (141, a shell's status for SIGPIPE).
func TestClosedStdoutIdle(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "idle.log", "first\nsecond\n")
	if !strings.Contains(usageText, "141") {
		t.Error("the help does not give the exit status of a closed stdout")
	}
	for _, flag := range []string{"-f", "-F"} {
		t.Run(flag, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(cliBin, flag, "-n", "2", d.url("idle.log"))
			cmd.Stdout = w
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close() // the child's now
			exited := make(chan struct{})
			var waitErr error
			go func() { // ends when the process does, or the cleanup kills it
				waitErr = cmd.Wait()
				close(exited)
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})

			// head -1: read a line, then exit
			line, err := bufio.NewReader(r).ReadString('\n')
			if err != nil || line != "first\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			r.Close()
			closed := time.Now()
			select {
			case <-exited:
				err := waitErr
				took := time.Since(closed)
				t.Logf("exited %s after its stdout was closed: %v", took, err)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != exitClosedOutput {
					t.Errorf("exit: %v, want status %d", err, exitClosedOutput)
				}
				if stderr.String() != "" {
					t.Errorf("stderr %q, want nothing (as tail)", stderr.String())
				}
				if took > time.Second {
					t.Errorf("took %s to end; GNU tail takes about 150 ms", took)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("logtail %s still running 5s after its stdout was closed, on an idle log", flag)
			}
		})
	}
}

// TestClosedStdoutRun: the same through run, as in a test: run returns an
// error that main makes exit status 141 and prints nothing for.
func TestClosedStdoutRun(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "idle.log", "only\n")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var stderr strings.Builder
	go func() { done <- run(ctx, []string{"-f", d.url("idle.log")}, env(), strings.NewReader(""), w, &stderr) }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || line != "only\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	r.Close()
	select {
	case err := <-done:
		var rep reported
		if exitCode(err) != exitClosedOutput || !errors.As(err, &rep) || stderr.String() != "" {
			t.Errorf("run: %v (exit %d), stderr %q; want exit %d, nothing said", err, exitCode(err), stderr.String(), exitClosedOutput)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run still running 5s after its stdout was closed")
	}
}
