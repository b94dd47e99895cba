package main

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// TestFollowAcrossRestart: with -n 0 -F, lines written before the daemon
// stops, while it is down and after it restarts are each printed once, in
// order.
func TestFollowAcrossRestart(t *testing.T) {
	d := startDaemon(t, "", "")
	path := d.write(t, "app.log", "old line, not printed with -n 0\n")
	c := startCLI(t, env(), "-n", "0", "-F", d.url("app.log"))

	// -n 0 prints only lines written after the subscription: write until
	// one shows, then every later line must show exactly once.
	var synced []string
	testutil.WaitFor(t, "the stream to start", 10*time.Second, func() bool {
		line := fmt.Sprintf("sync %d", len(synced))
		synced = append(synced, line)
		appendTo(t, path, line+"\n")
		return testutil.Eventually(200*time.Millisecond, func() bool { return strings.Contains(c.stdout.String(), "sync") })
	})

	var want []string
	batch := func(tag string, n int) {
		var b strings.Builder
		for i := range n {
			line := fmt.Sprintf("%s %03d %s", tag, i, strings.Repeat("x", i%50))
			want = append(want, line)
			b.WriteString(line + "\n")
		}
		appendTo(t, path, b.String())
	}
	shown := func(line string) func() bool {
		return func() bool { return strings.Contains(c.stdout.String(), line+"\n") }
	}

	batch("before", 200)
	testutil.WaitFor(t, "the lines written before the stop", 10*time.Second, shown(want[len(want)-1]))
	d.stop()
	batch("down", 300)
	testutil.WaitFor(t, "a retry note", 10*time.Second, func() bool { return strings.Contains(c.stderr.String(), "retrying in") })
	startDaemon(t, d.addr, d.root)
	testutil.WaitFor(t, "the lines written while down", 20*time.Second, shown(want[len(want)-1]))
	batch("after", 200)
	testutil.WaitFor(t, "the lines written after the restart", 10*time.Second, shown(want[len(want)-1]))
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatalf("run: %v", err)
	}

	got := strings.Split(strings.TrimSuffix(c.stdout.String(), "\n"), "\n")
	i := 0
	for i < len(got) && strings.HasPrefix(got[i], "sync ") {
		i++
	}
	if i == 0 || strings.Join(got[:i], "\n") != strings.Join(synced[len(synced)-i:], "\n") {
		t.Errorf("sync lines: got %q, written %q", got[:i], synced)
	}
	if strings.Join(got[i:], "\n") != strings.Join(want, "\n") {
		t.Errorf("lines lost, repeated or out of order: got %d lines, want %d\nfirst difference: %s",
			len(got)-i, len(want), firstDiff(got[i:], want))
	}
	t.Logf("stderr:\n%s", c.stderr.String())
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// TestMissingFileRetriedWithF: a 404 is retried with -F, as tail -F waits
// for a missing file, and the file's lines show once it appears.
func TestMissingFileRetriedWithF(t *testing.T) {
	d := startDaemon(t, "", "")
	c := startCLI(t, env(), "-F", d.url("later.log"))
	testutil.WaitFor(t, "a retry note", 10*time.Second, func() bool {
		return strings.Contains(c.stderr.String(), "404 Not Found: no such file; retrying in")
	})
	d.write(t, "later.log", "here now\n")
	testutil.WaitFor(t, "the line", 20*time.Second, func() bool { return c.stdout.String() == "here now\n" })
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestCtrlC: cancelling ctx (Ctrl-C) ends a follow at once with no error,
// whether it is reading or waiting to reconnect.
func TestCtrlC(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "c.log", "one\n")
	for _, url := range []string{d.url("c.log"), "ws://" + freeAddr(t) + "/x.log"} {
		c := startCLI(t, env(), "-F", url)
		testutil.WaitFor(t, "the stream to start", 10*time.Second, func() bool {
			return c.stdout.String() == "one\n" || strings.Contains(c.stderr.String(), "retrying")
		})
		start := time.Now()
		c.cancel()
		if err := c.wait(t, 2*time.Second); err != nil {
			t.Errorf("%s: run: %v", url, err)
		}
		t.Logf("%s: ended %s after the cancel", url, time.Since(start))
	}
}

// TestSIGINTBinary: the built binary ends with exit 0 on SIGINT.
func TestSIGINTBinary(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "s.log", "one\n")
	var stdout testutil.SyncBuffer
	cmd := exec.Command(cliBin, "-f", d.url("s.log"))
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the first line", 10*time.Second, func() bool { return stdout.String() == "one\n" })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}
