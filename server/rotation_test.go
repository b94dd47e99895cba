package server

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wsconn"
)

// resumingClient reads a json stream like `logtail -F` does: it records every
// line's sequence number and, when the daemon closes with 1013 or the
// connection drops, reconnects from the last position.
type resumingClient struct {
	t        *testing.T
	td       *testDaemon
	path     string
	seqs     []int
	events   []string
	resumes  int
	received atomic.Int64 // for the writer to wait on
	started  atomic.Bool  // its first message came: from then on no line is missed
}

func (rc *resumingClient) run(total int, done <-chan struct{}) {
	pos := ""
	for len(rc.seqs) < total {
		query := "lines=0&tail=1&format=json"
		if pos != "" {
			query = "tail=1&format=json&from=" + pos
		}
		c := rc.td.dial(rc.path, query)
		for len(rc.seqs) < total {
			c.SetDeadline(time.Now().Add(20 * time.Second))
			m, err := readJSON(rc.t, c)
			if err == nil {
				rc.started.Store(true) // lines=0 starts with where it stands
			}
			if err != nil {
				if wsconn.IsClose(err, wsconn.CodeTryAgainLater) {
					rc.resumes++
					break
				}
				rc.t.Errorf("after %d lines: %v", len(rc.seqs), err)
				return
			}
			if m.Event != "" {
				rc.events = append(rc.events, m.Event)
			}
			for _, l := range m.Lines {
				n, err := strconv.Atoi(strings.TrimPrefix(l, "seq "))
				if err != nil {
					rc.t.Errorf("unexpected line %q", l)
					return
				}
				if k := len(rc.seqs); k > 0 && n != rc.seqs[k-1]+1 {
					rc.t.Logf("after seq %d came %d (events so far %v, message pos %s)", rc.seqs[k-1], n, rc.events, m.Pos)
				}
				rc.seqs = append(rc.seqs, n)
			}
			rc.received.Store(int64(len(rc.seqs)))
			pos = m.Pos
		}
		c.Close()
	}
}

// TestNoLineLostAcrossRotation writes at full speed while the file is
// rotated by rename 10 times (the application writing on to the renamed file
// for a while, as until a SIGHUP), by copytruncate 5 times and by
// delete+recreate 3 times; a resuming client gets every line once, in order.
func TestNoLineLostAcrossRotation(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.Grace = 2 * time.Second })
	p := td.write("app.log", "")
	const perPhase = 5000
	phases := []string{}
	for range 10 {
		phases = append(phases, "rename")
	}
	for range 5 {
		phases = append(phases, "copytruncate")
	}
	for range 3 {
		phases = append(phases, "recreate")
	}
	total := (len(phases) + 1) * perPhase

	rc := &resumingClient{t: t, td: td, path: p}
	done := make(chan struct{})
	clientDone := make(chan struct{})
	go func() { defer close(clientDone); rc.run(total, done) }()
	// the stream's first message says where it stands: written before it,
	// a line would not be among the last 0 lines, nor after them
	testutil.WaitFor(t, "the stream to start", waitForLimit, rc.started.Load)

	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	writeLines := func(w io.Writer, n int) {
		var b []byte
		for range n {
			seq++
			b = fmt.Appendf(b[:0], "seq %d\n", seq)
			if _, err := w.Write(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeLines(f, perPhase)
	for i, phase := range phases {
		// Rotations come minutes apart in real life, and nobody can read a
		// file that was created and rotated away before it was ever opened:
		// let the stream reach the current file first. Writing goes on at
		// full speed meanwhile... the writer is this goroutine, so it is the
		// only pause, and it is a condition, not a delay.
		phaseStart := int64(seq - perPhase + 50 + 1)
		testutil.WaitFor(t, "the stream to reach the current file", waitForLimit, func() bool { return rc.received.Load() >= phaseStart })
		switch phase {
		case "rename": // logrotate's default, then the app writes on until told to reopen
			if err := os.Rename(p, fmt.Sprintf("%s.%d", p, i)); err != nil {
				t.Fatal(err)
			}
			writeLines(f, 50)
			f.Close()
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			writeLines(f, perPhase-50)
		case "copytruncate":
			// what copytruncate copies is safe; what the reader has not read
			// when the file is cut is gone. Real rotation runs at a quiet
			// moment: wait until the stream has caught up.
			caughtUp := int64(seq)
			testutil.WaitFor(t, "the client to catch up before the truncation", waitForLimit, func() bool { return rc.received.Load() >= caughtUp })
			data, _ := os.ReadFile(p)
			os.WriteFile(fmt.Sprintf("%s.c%d", p, i), data, 0o644)
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			writeLines(f, perPhase)
		case "recreate":
			f.Close()
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			writeLines(f, perPhase)
		}
	}
	f.Close()
	close(done)
	<-clientDone

	lost, repeated, disorder := 0, 0, 0
	seen := make(map[int]int, total)
	for i, n := range rc.seqs {
		seen[n]++
		if i > 0 && n != rc.seqs[i-1]+1 {
			disorder++
		}
	}
	for n := 1; n <= total; n++ {
		switch seen[n] {
		case 0:
			lost++
		case 1:
		default:
			repeated += seen[n] - 1
		}
	}
	t.Logf("written %d, received %d, lost %d, repeated %d, out of order %d, resumes %d, events %d",
		total, len(rc.seqs), lost, repeated, disorder, rc.resumes, len(rc.events))
	if lost+repeated+disorder > 0 {
		t.Errorf("lost %d, repeated %d, out of order %d", lost, repeated, disorder)
	}
}
