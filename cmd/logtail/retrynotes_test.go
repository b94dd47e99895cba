package main

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// TestRetryNotesPace: with a clock of its own, a stream that keeps failing
// is said once at once, then at most once a minute with the retries not
// shown, and "connected" after it recovers; a new failure is said at once.
func TestRetryNotesPace(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var notes []string
	r := &retryNotes{note: func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) },
		now: func() time.Time { return now }}
	fail := func(wait time.Duration) {
		r.failed("connection refused", wait)
		now = now.Add(wait)
	}
	fail(100 * time.Millisecond) // said
	for wait := 200 * time.Millisecond; wait < 5*time.Second; wait *= 2 {
		fail(wait) // 200ms … 3.2s: not said
	}
	for range 11 {
		fail(5 * time.Second) // the one after a minute is said
	}
	for range 13 {
		fail(5 * time.Second) // the 1st and the 13th are said
	}
	now = now.Add(time.Second)
	r.connected()
	fail(100 * time.Millisecond)
	want := []string{
		"connection refused; retrying in 100ms",
		"connection refused; still failing after 1m1s, retrying every 5s (16 failed retries not shown)",
		"connection refused; still failing after 2m1s, retrying every 5s (11 failed retries not shown)",
		"connected (after 30 retries in 2m7.3s)",
		"connection refused; retrying in 100ms",
	}
	if strings.Join(notes, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
}

// TestRetryNotesOnce: logtail -F against an address that drops every
// connection says so once, not at every retry, then "connected" once a
// daemon is there.
func TestRetryNotesOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var accepted atomic.Int32
	served := make(chan struct{})
	go func() { // ends when ln is closed
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	root := t.TempDir()
	c := startCLI(t, env(), "-F", "ws://"+addr+root+"/r.log")
	testutil.WaitFor(t, "five connections", 20*time.Second, func() bool { return accepted.Load() >= 5 })
	ln.Close()
	<-served
	// the connection is closed before the handshake: lost, or reset when
	// the request was not read
	if got := c.stderr.String(); !regexp.MustCompile(`^logtail: \S+: connection (lost|reset); retrying in 100ms\n$`).MatchString(got) {
		t.Errorf("after %d failures, stderr %q; want one note", accepted.Load(), got)
	}

	d := startDaemon(t, addr, root)
	d.write(t, "r.log", "at last\n")
	testutil.WaitFor(t, "the line", 20*time.Second, func() bool { return c.stdout.String() == "at last\n" })
	c.cancel()
	if err := c.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(c.stderr.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^logtail: \S+: connected \(after \d+ retries in \S+\)$`).MatchString(last) {
		t.Errorf("stderr %q: no connected note at the end", c.stderr.String())
	}
}
