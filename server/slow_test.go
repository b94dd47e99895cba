package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wsconn"
)

// signalHandler closes a channel the first time a record with the message
// is logged: the daemon's own word that something happened.
type signalHandler struct {
	slog.Handler
	msg  string
	once *sync.Once
	seen chan struct{}
}

// Enabled is true at every level: the message may be below the test log's.
func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h signalHandler) WithAttrs(a []slog.Attr) slog.Handler {
	h.Handler = h.Handler.WithAttrs(a)
	return h
}

func (h signalHandler) WithGroup(g string) slog.Handler {
	h.Handler = h.Handler.WithGroup(g)
	return h
}

// fastReader reads a text stream to the end, counting lines in order.
func fastReader(t *testing.T, c *wsconn.Client, total int) (time.Duration, error) {
	start := time.Now()
	next := 1
	c.SetDeadline(time.Now().Add(120 * time.Second))
	for next <= total {
		msg, err := c.Next()
		if err != nil {
			return 0, fmt.Errorf("at line %d: %w", next, err)
		}
		for len(msg) > 0 {
			i := bytes.IndexByte(msg, '\n')
			line := msg[:i]
			msg = msg[i+1:]
			// "seq N pad": parse N without allocating, 50 readers share 2 cores
			n, j := 0, len("seq ")
			for ; j < len(line) && line[j] != ' '; j++ {
				n = n*10 + int(line[j]-'0')
			}
			if !bytes.HasPrefix(line, []byte("seq ")) || n != next {
				return 0, fmt.Errorf("line %.20q…, want seq %d", line, next)
			}
			next++
		}
	}
	return time.Since(start), nil
}

// TestSlowClient holds one stalled client and 50 fast ones on one file: the
// fast ones keep their pace, the stalled one is closed with 1013 after the
// lines it did receive and resumes from its position without loss.
func TestSlowClient(t *testing.T) {
	const fast, total = 50, 4000
	pad := strings.Repeat("x", 1000)

	run := func(t *testing.T, stalled bool) (fastRate float64) {
		seen := make(chan struct{})
		td := startDaemon(t, func(c *Config) {
			c.ClientQueueBytes = 256 << 10
			c.Logger = slog.New(signalHandler{Handler: c.Logger.Handler(), msg: "subscriber too slow; dropping it", once: new(sync.Once), seen: seen})
		})
		p := td.write("app.log", "")

		var stall *wsconn.Client
		if stalled {
			stall = dialSmallBuffer(t, td, p, "lines=0&tail=1&format=json")
			if m, err := readJSON(t, stall); err != nil || len(m.Lines) != 0 {
				t.Fatalf("stalled client's first message: %+v, %v", m, err)
			}
		}
		clients := make([]*wsconn.Client, fast)
		for i := range clients {
			clients[i] = td.dial(p, "lines=0&tail=1&format=text")
		}
		testutil.WaitFor(t, "all subscribed", waitForLimit, func() bool { return td.d.hub.Followers() == 1 })

		errs := make(chan error, fast)
		rates := make(chan float64, fast)
		for _, c := range clients {
			go func() {
				d, err := fastReader(t, c, total)
				errs <- err
				rates <- float64(total) / d.Seconds()
			}()
		}
		appendSeq(t, p, total, pad)
		var sum float64
		for range fast {
			if err := <-errs; err != nil {
				t.Fatalf("fast client: %v", err)
			}
			sum += <-rates
		}
		if !stalled {
			return sum / fast
		}
		select {
		case <-seen:
		case <-time.After(30 * time.Second):
			t.Fatal("the stalled client was never dropped")
		}
		// now it reads: what it was sent, then 1013, then it resumes
		var seqs []int
		pos, closes := "", 0
		c := stall
		for len(seqs) < total {
			c.SetDeadline(time.Now().Add(30 * time.Second))
			m, err := readJSON(t, c)
			if err != nil {
				if !wsconn.IsClose(err, wsconn.CodeTryAgainLater) {
					t.Fatalf("stalled client after %d lines: %v", len(seqs), err)
				}
				closes++
				c = td.dial(p, "tail=1&format=json&from="+pos)
				continue
			}
			for _, l := range m.Lines {
				n, _ := strconv.Atoi(strings.Fields(l)[1])
				seqs = append(seqs, n)
			}
			pos = m.Pos
		}
		for i, n := range seqs {
			if n != i+1 {
				t.Fatalf("stalled client: line %d is seq %d (lost or repeated)", i+1, n)
			}
		}
		if closes == 0 {
			t.Error("the stalled client was never closed with 1013")
		}
		t.Logf("stalled client: closed with 1013 %d time(s), then resumed: %d lines, none lost or repeated", closes, len(seqs))
		return sum / fast
	}
	without := run(t, false)
	with := run(t, true)
	t.Logf("fast clients: %.0f lines/s each without a stalled client, %.0f with one (ratio %.2f)", without, with, with/without)
}

// smallBuffer dials with a small receive buffer, so that a client that stops
// reading is felt by the daemon soon instead of megabytes later.
var smallBuffer = net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
	var serr error
	rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
	return serr
}}

// appendSeq appends lines "seq 1 PAD" to "seq total PAD" to the file p, in
// writes of about 32 KiB.
func appendSeq(t *testing.T, p string, total int, pad string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b []byte
	for i := 1; i <= total; i++ {
		b = fmt.Appendf(b, "seq %d %s\n", i, pad)
		if len(b) > 32<<10 || i == total {
			if _, err := f.Write(b); err != nil {
				t.Fatal(err)
			}
			b = b[:0]
		}
	}
}

// dialSmallBuffer dials a stream through smallBuffer.
func dialSmallBuffer(t *testing.T, td *testDaemon, path, query string) *wsconn.Client {
	t.Helper()
	d := smallBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, td.url(path, query), wsconn.DialOptions{NetDial: d.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
