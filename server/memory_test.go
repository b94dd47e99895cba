package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// TestMemoryLongLine: a 256 MiB file with no newline at all is one unfinished
// line. Asking for its last line must not take the file into memory: three
// clients at once, and the daemon's peak RSS stays under 64 MiB. The file is
// real bytes in one row and a hole (sparse, all NULs) in the other: the daemon
// must cope with both the same way, by reading a bounded amount.
func TestMemoryLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes a 256 MiB file")
	}
	const (
		fileSize = 256 << 20
		clients  = 3
		limit    = 64 << 20 // peak RSS allowed
	)
	bin := testutil.BuildDaemon(t, "")

	files := []struct {
		name string
		make func(path string) error
	}{
		{"real bytes", func(path string) error { return writeRepeated(path, 'x', fileSize) }},
		{"sparse", func(path string) error { return os.Truncate(path, fileSize) }},
	}
	queries := []struct {
		query string
		check func(t *testing.T, c *wsconn.Client) (received int)
	}{
		{"lines=1&format=json", func(t *testing.T, c *wsconn.Client) int {
			msgs, n, err := readMessages(c)
			if !wsconn.IsClose(err, wsconn.CodeNormal) {
				t.Errorf("ended with %v, want close 1000", err)
			}
			for _, m := range msgs {
				if !json.Valid(m) {
					t.Errorf("not JSON: %.80q", m)
				}
			}
			return n
		}},
		{"lines=1&format=text", func(t *testing.T, c *wsconn.Client) int {
			msgs, n, err := readMessages(c)
			if !wsconn.IsClose(err, wsconn.CodeNormal) {
				t.Errorf("ended with %v, want close 1000", err)
			}
			for _, m := range msgs { // an unfinished line is not sent as text: nothing, or whole lines
				if !utf8.Valid(m) || !bytes.HasSuffix(m, []byte("\n")) {
					t.Errorf("not a frame of whole lines: %d bytes, %.80q", len(m), m)
				}
			}
			return n
		}},
		{"lines=1&tail=1&format=json", func(t *testing.T, c *wsconn.Client) int {
			// a followed stream's first message says where it stands; then leave
			m, err := c.Next()
			if err != nil || !json.Valid(m) {
				t.Errorf("first message %.80q, %v: want a JSON message", m, err)
			}
			return len(m)
		}},
	}

	root := t.TempDir() // removes the big files at the end
	for _, f := range files {
		path := filepath.Join(root, strings.ReplaceAll(f.name, " ", "-")+".log")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := f.make(path); err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			t.Run(f.name+"/"+q.query, func(t *testing.T) {
				// a daemon per row: its peak RSS is this row's alone
				cmd, addr := testutil.StartBinary(t, bin, "--root", root)
				var wg sync.WaitGroup
				received := make([]int, clients)
				for i := range clients {
					wg.Go(func() {
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						defer cancel()
						c, err := wsconn.Dial(ctx, "ws://"+addr+path+"?"+q.query, wsconn.DialOptions{})
						if err != nil {
							t.Error(err)
							return
						}
						defer c.Close()
						c.SetDeadline(time.Now().Add(15 * time.Second))
						received[i] = q.check(t, c)
					})
				}
				wg.Wait()
				peak, err := peakRSS(cmd.Process.Pid)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s, %d clients of %s: daemon peak RSS %.1f MiB (bytes received: %v)",
					f.name, clients, q.query, float64(peak)/(1<<20), received)
				if peak >= limit {
					t.Errorf("daemon peak RSS %.1f MiB, want under %d MiB", float64(peak)/(1<<20), limit>>20)
				}
			})
		}
	}
}

// writeRepeated fills path with n bytes b, a block at a time so the test
// itself does not hold the file in memory.
func writeRepeated(path string, b byte, n int) error {
	return writeBlocks(path, bytes.Repeat([]byte{b}, 1<<20), n)
}

// writeBlocks fills the existing file path with n bytes of block repeated.
func writeBlocks(path string, block []byte, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	for n > 0 {
		w, err := f.Write(block[:min(n, len(block))])
		if err != nil {
			f.Close()
			return err
		}
		n -= w
	}
	return f.Close()
}

// readMessages reads until the stream ends, returning the messages, their
// bytes and the error that ended it.
func readMessages(c *wsconn.Client) (msgs [][]byte, n int, err error) {
	for {
		m, err := c.Next()
		if err != nil {
			return msgs, n, err
		}
		msgs = append(msgs, m)
		n += len(m)
	}
}

// peakRSS is a process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
