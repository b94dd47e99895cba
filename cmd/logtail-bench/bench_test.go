package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// framedStream is a run of frames as logtaild sends them, with a ping in
// the middle.
func framedStream(id runID, lines int) []byte {
	m := lineMaker{id: id, size: 100, ansiEvery: 10}
	var b []byte
	for seq := range int64(lines) {
		b = m.appendLine(b, seq, 1)
	}
	frames := frameLines(b)
	half := len(frames) / 2
	for half < len(frames) && frames[half] != 0x81 { // cut at a frame start
		half++
	}
	out := append([]byte{}, frames[:half]...)
	out = append(out, 0x80|opPing, 2, 'h', 'i')
	return append(out, frames[half:]...)
}

// loopConn replays a byte stream to the parser; writes (pongs) are dropped.
type loopConn struct {
	net.Conn
	data []byte
	off  int
}

func (c *loopConn) Read(p []byte) (int, error) {
	if c.off == len(c.data) {
		c.off = 0
		return 0, io.EOF
	}
	n := copy(p, c.data[c.off:])
	c.off += n
	return n, nil
}
func (c *loopConn) Write(p []byte) (int, error) { return len(p), nil }

func TestParser(t *testing.T) {
	id := newRunID()
	const lines = 5000
	c := &wsConn{nc: &loopConn{data: framedStream(id, lines)}, buf: make([]byte, 64<<10)}
	tl := newTally(id, lines, true)
	for {
		msg, err := c.next()
		if err != nil {
			break
		}
		tl.add(msg, 2)
	}
	if tl.unique != lines || tl.popcount() != lines || tl.repeat != 0 || tl.reorder != 0 {
		t.Fatalf("unique %d (bits %d) repeat %d reorder %d, want %d 0 0", tl.unique, tl.popcount(), tl.repeat, tl.reorder, lines)
	}
	if len(tl.lat) != lines || tl.lat[0] != 1 {
		t.Fatalf("latencies: %d, first %v", len(tl.lat), tl.lat[:1])
	}
	// lost, repeated, out of order
	m := lineMaker{id: id, size: 60}
	tl = newTally(id, 5, false)
	for _, seq := range []int64{0, 2, 1, 2, 4} {
		tl.add(m.appendLine(nil, seq, 0), 0)
	}
	if tl.lost() != 1 || tl.repeat != 1 || tl.reorder != 1 {
		t.Fatalf("lost %d repeat %d reorder %d, want 1 1 1", tl.lost(), tl.repeat, tl.reorder)
	}
}

// The frame and line parser must not allocate: one pass over a replayed
// stream of 1000 lines in 4 frames and a ping.
func TestParserAllocs(t *testing.T) {
	id := newRunID()
	c := &wsConn{nc: &loopConn{data: framedStream(id, 1000)}, buf: make([]byte, 64<<10), wbuf: make([]byte, 0, 256)}
	tl := newTally(id, 1000, false)
	allocs := testing.AllocsPerRun(20, func() {
		for {
			msg, err := c.next()
			if err != nil {
				return
			}
			tl.add(msg, 0)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per pass, want 0", allocs)
	}
}

func BenchmarkParser(b *testing.B) {
	id := newRunID()
	const lines = 1000
	c := &wsConn{nc: &loopConn{data: framedStream(id, lines)}, buf: make([]byte, 64<<10), wbuf: make([]byte, 0, 256)}
	tl := newTally(id, lines, false)
	b.ReportAllocs()
	b.SetBytes(int64(len(c.nc.(*loopConn).data)))
	for b.Loop() {
		for {
			msg, err := c.next()
			if err != nil {
				break
			}
			tl.add(msg, 0)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}

// The throughput command end to end against the built-in noop server.
func TestThroughputNoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	err := run(ctx, []string{"throughput", "-target", "noop", "-clients", "1,3", "-lines", "20000",
		"-dir", t.TempDir()}, &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	t.Log("\n" + out.String())
	if got := strings.Count(out.String(), "noop"); got != 2 {
		t.Fatalf("want 2 noop rows:\n%s", out.String())
	}
	for _, row := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		f := strings.Fields(row)
		if f[8] != "0" || f[9] != "0" || f[10] != "0" { // lost repeated reordered
			t.Fatalf("losses in %q", row)
		}
	}
}
