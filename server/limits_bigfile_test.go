package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// Resource limits: huge files, a 100 GB sparse one under an address-space
// limit and a 512 MiB one that 200 clients catch up on at once.

// TestHugeSparseFile: a 100 GB file of NULs (truncate -s 100G), no newline
// in it, asked for its last lines and followed, under a 3 GB address-space
// limit: each request gets its answer, and the daemon survives and serves.
func TestHugeSparseFile(t *testing.T) {
	l := startLimited(t, testutil.BuildDaemon(t, ""), []string{"--as=3000000000"})
	g0, fd0 := l.baseline(t)
	p := filepath.Join(l.root, "s.log")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 100<<30); err != nil {
		t.Skipf("no 100 GB sparse file here: %v", err)
	}
	for _, query := range []string{"lines=0", "lines=1", "lines=1&format=json", "tail=1&lines=0", "tail=1&lines=1&format=json"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := wsconn.Dial(ctx, "ws://"+l.addr+p+"?"+query, wsconn.DialOptions{})
		cancel()
		if err != nil {
			t.Fatalf("?%s: %v", query, err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		var got int
		var end error
		if strings.Contains(query, "tail=1") {
			// a followed stream: the first message says where it stands
			// (json), or nothing comes; either way the daemon must be alive
			if strings.Contains(query, "json") {
				m, err := c.Next()
				got, end = len(m), err
			}
			if err := l.healthz(); err != nil {
				t.Fatalf("?%s: /healthz while followed: %v", query, err)
			}
		} else {
			_, got, end = readMessages(c)
			if !wsconn.IsClose(end, wsconn.CodeNormal) {
				t.Errorf("?%s: ended with %v, want close 1000", query, end)
			}
		}
		c.Close()
		t.Logf("?%s: %d bytes, %v", query, got, end)
	}
	l.survives(t, g0, fd0)
}

// TestCatchUpMemory: 200 clients resume from offset 0 of a 512 MiB file
// (from=DEV:INO:0) and each reads 2 MiB of it: what the daemon holds in
// catch-up is bounded per stream and in total (--catch-up-bytes), so its
// peak RSS stays far below 200 full queues.
func TestCatchUpMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes a 512 MiB file")
	}
	const (
		fileSize = 512 << 20
		clients  = 200
		perRead  = 2 << 20
		limit    = 128 << 20 // peak RSS allowed
	)
	bin := testutil.BuildDaemon(t, "")
	root := t.TempDir()
	p := filepath.Join(root, "big.log")
	if err := writeLines(p, fileSize); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	from := fmt.Sprintf("%d:%d:0", st.Dev, st.Ino)
	cmd, addr := testutil.StartBinary(t, bin, "--root", root)
	before, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := wsconn.Dial(ctx, "ws://"+addr+p+"?format=text&tail=1&from="+from, wsconn.DialOptions{})
			cancel()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			for got := 0; got < perRead; {
				m, err := c.Next()
				if err != nil {
					t.Errorf("after %d bytes: %v", got, err)
					return
				}
				got += len(m)
			}
		})
	}
	wg.Wait()
	peak, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d clients resuming from offset 0 of a %d MiB file, %d MiB read each: daemon peak RSS %.1f MiB (%.1f MiB before)",
		clients, fileSize>>20, perRead>>20, float64(peak)/(1<<20), float64(before)/(1<<20))
	if peak >= limit {
		t.Errorf("daemon peak RSS %.1f MiB, want under %d MiB", float64(peak)/(1<<20), limit>>20)
	}
}

// writeLines fills path with n bytes of numbered 100-byte lines, a block at
// a time.
func writeLines(path string, n int) error {
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		return err
	}
	var block []byte
	for i := 0; len(block) < 1<<20; i++ {
		block = fmt.Appendf(block, "%-99d\n", i)
	}
	return writeBlocks(path, block[:1<<20/100*100], n)
}
